"""POST /v1/verify: many codes in one call, in order, with a fixed number of queries."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest

from tests.dbtools import recorded_statements
from tests.factories import BRAND, GTIN, World, label_codes, labeled_batch, recalled
from tests.verify.helpers import flip_signature_bit, phone, signed_url, verify


def bulk(world: World, codes: list[Any]) -> list[dict[str, Any]]:
    # json.dumps escapes non-ASCII, so even a lone surrogate travels as valid JSON text.
    r = world.client.post(
        "/v1/verify",
        content=json.dumps({"codes": codes}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def test_a_thousand_mixed_codes_are_answered_in_order(world: World) -> None:
    batch, run = labeled_batch(world, units=600, count=600)
    good = label_codes(world, run["run_id"])
    gone, gone_run = labeled_batch(world, units=20, count=20)
    world.ok(gone["id"], world.owner, recalled())
    recalled_codes = label_codes(world, gone_run["run_id"])

    cases: list[tuple[Any, str, list[str]]] = []
    cases += [(url, "genuine", []) for url in good[:500]]
    cases += [(flip_signature_bit(url), "invalid", ["bad_signature"]) for url in good[500:]]
    cases += [(url, "recalled", ["batch_recalled"]) for url in recalled_codes]
    unissued = [signed_url(world.engine, GTIN, batch["lot"], f"{n:08d}") for n in range(601, 631)]
    cases += [(url, "invalid", ["unknown_serial"]) for url in unissued]
    garbage: list[Any] = ["", "garbage", "https://x.example/01/123", "\x00\ud800", 42, None]
    garbage += [{"url": good[0]}, [good[0]], "/01/" + "9" * 3000, good[0] + "&8030=x"]
    while len(cases) + len(garbage) < 1000:
        garbage.append(f"not a code {len(garbage)}")
    cases += [(g, "invalid", ["malformed_code"]) for g in garbage]
    random.Random(7).shuffle(cases)
    assert len(cases) == 1000

    results = bulk(world, [code for code, _, _ in cases])
    assert len(results) == 1000
    for (code, verdict, reasons), result in zip(cases, results, strict=True):
        assert isinstance(result["code"], str)
        if isinstance(code, str) and code.isascii() and len(code) <= 2048:
            assert result["code"] == code
        assert result["verdict"] == verdict, (code, result)
        assert [r["code"] for r in result["reasons"]] == reasons, (code, result)
        if verdict in ("genuine", "recalled"):
            assert result["brand"] == BRAND
            assert result["county_codes"] == ["522632"]
            assert result["batch_id"] in (batch["id"], gone["id"])
            assert result["gtin"] == GTIN


def test_bulk_queries_do_not_grow_with_the_number_of_codes(world: World) -> None:
    _, run = labeled_batch(world, units=300, count=300)
    urls = label_codes(world, run["run_id"])
    _, other_run = labeled_batch(world, units=10, count=10)
    urls += label_codes(world, other_run["run_id"])
    everything = urls + [flip_signature_bit(u) for u in urls[:100]] + ["junk"] * 50
    cache = world.client.app.state.verifier.cache  # type: ignore[attr-defined]
    cache.clear()
    with recorded_statements(world.engine) as few:
        bulk(world, urls[:2])
    cache.clear()
    with recorded_statements(world.engine) as many:
        bulk(world, everything)
    assert len(many) == len(few), (few, many)
    with recorded_statements(world.engine) as warm:
        bulk(world, everything)
    assert warm == []  # both lots are cached: no database round trip at all


def test_codes_holding_integers_beyond_64_bits_are_repeated_not_a_500(world: World) -> None:
    # orjson writes no integer beyond 64 bits; the echo of the input must not fail on one.
    codes: list[Any] = [2**64, -(2**70), {"n": 2**64 + 1}, [1, 2**100], 2**63 - 1]
    results = bulk(world, codes)
    assert [r["code"] for r in results] == [
        str(2**64),
        str(-(2**70)),
        f'{{"n":{2**64 + 1}}}',
        f"[1,{2**100}]",
        str(2**63 - 1),
    ]
    assert {r["verdict"] for r in results} == {"invalid"}
    assert {r["reasons"][0]["code"] for r in results} == {"malformed_code"}


def test_more_than_a_thousand_codes_is_a_validation_error(world: World) -> None:
    r = world.client.post("/v1/verify", json={"codes": ["x"] * 1001})
    assert r.status_code == 422
    assert r.json()["error"] == "ValidationError"
    for body in ({}, {"codes": "x"}, [], {"codes": None}):
        assert world.client.post("/v1/verify", json=body).status_code == 422
    assert bulk(world, []) == []


def test_bulk_checks_are_not_scans_but_see_flagged_codes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, run = labeled_batch(world, units=10, count=2)
    urls = label_codes(world, run["run_id"])
    verifier = world.client.app.state.verifier  # type: ignore[attr-defined]
    monkeypatch.setattr(verifier, "rules", replace(verifier.rules, default_threshold=1))
    for _ in range(3):
        bulk(world, urls)
    assert [r["verdict"] for r in bulk(world, urls)] == ["genuine", "genuine"]
    assert verify(world, urls[0], device=phone(1))["verdict"] == "genuine"
    assert [r["verdict"] for r in bulk(world, urls)] == ["genuine", "genuine"]
    assert verify(world, urls[0], device=phone(2))["verdict"] == "suspicious"
    results = bulk(world, urls)
    assert [r["verdict"] for r in results] == ["suspicious", "genuine"]
    assert [r["code"] for r in results[0]["reasons"]] == ["scan_threshold_exceeded"]
    # The first phone keeps its answer; the bulk check is no phone, so it sees the flag.
    assert verify(world, urls[0], device=phone(1))["verdict"] == "genuine"
