"""Each refusal the console words again is triggered through the real API, so a changed
sentence in the rules fails here instead of falling back to the generic line."""

from __future__ import annotations

from typing import Any

import pytest

from registry.console.forms import FormProblem, form_to_event
from registry.console.refusals import explain
from registry.console.render import Translator
from tests.factories import World, harvested, issue_labels, packed, received, shipped

ZH, EN = Translator("zh"), Translator("en")


def _refusal(response: Any) -> tuple[str, str]:
    body = response.json()
    return body["error"], body["detail"]


def test_rule_refusals_are_worded_with_their_numbers(world: World) -> None:
    batch = world.new_batch()["id"]
    cases = []
    r = world.append(batch, world.coop, harvested(250_000))
    cases.append((_refusal(r), ["超出年度配额", "250000 公斤", "200000 公斤"], "quota of 200000"))
    r = world.append(batch, world.coop, harvested(10, county="522601"))
    cases.append((_refusal(r), ["522601", "522632"], "county 522601"))
    world.ok(batch, world.coop, harvested(1000))
    r = world.append(batch, world.coop, packed(units=300, unit_size=5))
    cases.append((_refusal(r), ["1500 公斤", "已采收 1000 公斤"], "1500 kg now"))
    world.ok(batch, world.coop, packed(units=100, unit_size=5))
    r = issue_labels(world, batch, 150)
    cases.append((_refusal(r), ["申请 150 张", "已包装 100 件"], "150 asked"))
    r = world.append(batch, world.coop, shipped(world.handler.id, quantity=2000, unit="kg"))
    cases.append((_refusal(r), ["发货", "2000 公斤", "持有 1000 公斤"], "ship 2000 kg"))
    world.ok(batch, world.coop, shipped(world.handler.id, quantity=10, unit="box"))
    r = world.append(batch, world.handler, received(world.coop.id, quantity=20, unit="box"))
    cases.append((_refusal(r), ["收 100 公斤", "在途只有 50 公斤"], "only 50 kg"))
    for (error, detail), zh_parts, en_part in cases:
        zh = explain(error, detail, ZH)
        assert "登记处拒绝" not in zh, (error, detail)  # recognized, not the fallback
        for part in zh_parts:
            assert part in zh, (zh, detail)
        assert en_part in explain(error, detail, EN)


def test_unknown_refusals_keep_the_registrys_words() -> None:
    text = explain("SomethingNew", "a rule nobody worded yet", ZH)
    assert text.startswith("登记处拒绝了这条记录")
    assert "a rule nobody worded yet" in text
    mismatched = explain("QuotaExceeded", "a quota sentence in another shape", EN)
    assert "a quota sentence in another shape" in mismatched


@pytest.mark.parametrize(
    ("form", "event"),
    [
        (
            {
                "data.quantity": "5000",
                "data.unit": "kg",
                "data.harvest_date": "2026-11-20",
                "location.county_code": "522632",
                "data.plot": "",
                "event_date": "2026-11-20",
                "event_clock": "08:30",
                "tz": "+08:00",
            },
            {
                "type": "harvested",
                "event_time": "2026-11-20T08:30:00+08:00",
                "location": {"county_code": "522632"},
                "data": {"quantity": 5000.0, "unit": "kg", "harvest_date": "2026-11-20"},
            },
        ),
        (
            {
                "data.method": "GB 2763",
                "data.analytes": "毒死蜱，多菌灵, 乙烯利",
                "data.result": "pass",
                "event_date": "2026-11-21",
                "event_clock": "09:05:30",
                "tz": "-03:30",
            },
            {
                "type": "inspected",
                "event_time": "2026-11-21T09:05:30-03:30",
                "data": {
                    "method": "GB 2763",
                    "analytes": ["毒死蜱", "多菌灵", "乙烯利"],
                    "result": "pass",
                },
            },
        ),
    ],
)
def test_a_form_becomes_the_event_it_stands_for(
    form: dict[str, str], event: dict[str, Any]
) -> None:
    assert form_to_event(event["type"], form) == event


def test_a_form_names_what_is_missing_or_unreadable() -> None:
    with pytest.raises(FormProblem) as caught:
        form_to_event(
            "packed",
            {"data.units": "many", "data.unit": "kg", "event_date": "20-11-2026", "tz": "+8"},
        )
    assert caught.value.fields == [
        "data.units",
        "data.unit_size",
        "event_date",
        "event_clock",
        "tz",
    ]
