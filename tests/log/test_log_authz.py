"""Who may call the log's endpoints: everyone, for every one of them; a regulator's or an
admin's key additionally names each entry's event. None of them writes."""

from __future__ import annotations

import pytest

from registry.core.config import get_settings
from registry.log.publisher import publish_now
from tests.core.test_authz_matrix import CALLERS, _caller_headers
from tests.dbtools import snapshot
from tests.factories import World, harvested

PUBLIC = [
    ("/v1/log/checkpoint", {}),
    ("/v1/log/key", {}),
    ("/v1/log/proof/inclusion", {"leaf_index": 0, "tree_size": 2}),
    ("/v1/log/proof/consistency", {"first": 1, "second": 2}),
]
NAMES_EVENTS = {"admin", "regulator"}


@pytest.fixture
def published(world: World) -> World:
    world.ok(world.new_batch()["id"], world.coop, harvested())
    publish_now(world.engine, get_settings())
    return world


@pytest.mark.parametrize(("path", "params"), PUBLIC, ids=[p for p, _ in PUBLIC])
def test_public_log_endpoints_answer_everyone(
    published: World, path: str, params: dict[str, int]
) -> None:
    for caller in CALLERS:
        before = snapshot(published.engine)
        r = published.client.get(path, params=params, headers=_caller_headers(published, caller))
        assert r.status_code == 200, (caller, r.text)
        assert snapshot(published.engine) == before


def test_entries_name_their_events_for_regulators_and_admins_only(published: World) -> None:
    for caller in CALLERS:
        before = snapshot(published.engine)
        r = published.client.get(
            "/v1/log/entries",
            params={"start": 0, "end": 10},
            headers=_caller_headers(published, caller),
        )
        assert snapshot(published.engine) == before
        if caller == "bad_key":
            assert (r.status_code, r.json()["error"]) == (401, "InvalidApiKey")
            continue
        assert r.status_code == 200, (caller, r.text)
        named = {e["batch_id"] is not None for e in r.json()["entries"]}
        assert named == {caller in NAMES_EVENTS}, caller
