"""The one answer writer (registry/verify/answer.py) is held equal to the schemas: every
answer it writes has exactly `VerifyResult`'s (or `BulkVerifyResponse`'s) members, nested
ones included, and reads back through pydantic unchanged."""

from __future__ import annotations

from typing import Any, get_args, get_origin

import orjson
from pydantic import BaseModel

from registry.core.time import utcnow
from registry.verify.schemas import BulkVerifyResponse, VerifyResult
from tests.factories import World, label_codes, labeled_batch, recalled
from tests.verify.helpers import flip_signature_bit, path_of, verify


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model an annotation holds (directly, optionally, or as list items)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if get_origin(annotation) is list:
        model, _ = _model_in(get_args(annotation)[0])
        return model, True
    for arg in get_args(annotation):  # X | None
        model, many = _model_in(arg)
        if model is not None:
            return model, many
    return None, False


def _members(model: type[BaseModel], data: Any, where: str = "") -> None:
    """`data` has exactly the fields of `model`, recursively into nested models."""
    assert isinstance(data, dict), where
    assert set(data) == set(model.model_fields), (where, set(data) ^ set(model.model_fields))
    for name, info in model.model_fields.items():
        nested, many = _model_in(info.annotation)
        value = data[name]
        if nested is None or value is None:
            continue
        for item in value if many else [value]:
            _members(nested, item, f"{where}.{name}")


def _same_as_pydantic(model: type[BaseModel], body: bytes) -> None:
    parsed = model.model_validate_json(body)
    assert orjson.loads(parsed.model_dump_json()) == orjson.loads(body)


def test_every_answer_shape_is_the_schema(world: World) -> None:
    batch, run = labeled_batch(world, units=10, count=3)
    urls = label_codes(world, run["run_id"])
    gone, gone_run = labeled_batch(world, units=10, count=1)
    world.ok(gone["id"], world.owner, recalled())
    shapes = [
        urls[0],  # genuine, with scans
        flip_signature_bit(urls[1]),  # invalid, with the code as read
        "/01/123/10/x/21/y?8030=z",  # malformed: no code at all
        label_codes(world, gone_run["run_id"])[0],  # recalled
    ]
    verifier = world.client.app.state.verifier  # type: ignore[attr-defined]
    for url in shapes:
        for body in (
            orjson.dumps(verify(world, url)),  # through the endpoint
            verifier.check(path_of(url), now=utcnow()),  # the CLI's path
        ):
            _members(VerifyResult, orjson.loads(body), url)
            _same_as_pydantic(VerifyResult, body)
    bulk = verifier.check_many([*shapes, 42, None], now=utcnow())
    _members(BulkVerifyResponse, orjson.loads(bulk))
    _same_as_pydantic(BulkVerifyResponse, bulk)
    assert batch["id"] in bulk.decode()
