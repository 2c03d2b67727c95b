"""The consumer pages: the verification page a phone opens from a label, and the brand page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from registry.verify.schemas import ReasonCode, TimelineEntry, Verdict, VerifyResult
from registry.web.render import PageContext, format_number, render
from registry.web.service import BrandOverview

# Per event type: (message id, the data fields it needs). A fact shows when all are present.
EVENT_FACTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "created": (("fact.product", ("product",)), ("fact.variety", ("variety",))),
    "input_applied": (
        ("fact.input", ("input_name", "dose", "dose_unit")),
        ("fact.phi", ("pre_harvest_interval_days",)),
        ("fact.area", ("area",)),
    ),
    "harvested": (("fact.quantity", ("quantity", "unit")), ("fact.plot", ("plot",))),
    "inspected": (("fact.inspection", ("method", "result")),),
    "cooled": (("fact.place", ("place",)), ("fact.temperature", ("temperature_c",))),
    "packed": (
        ("fact.packed", ("units", "unit_size", "unit")),
        ("fact.packing_site", ("packing_site",)),
    ),
    "labeled": (("fact.labels", ("count",)),),
    "stored": (("fact.place", ("place",)), ("fact.conditions", ("conditions",))),
    "shipped": (("fact.quantity", ("quantity", "unit")), ("fact.destination", ("destination",))),
    "received": (("fact.quantity", ("quantity", "unit")),),
    "sold": (("fact.channel", ("channel",)), ("fact.quantity", ("quantity", "unit"))),
    "recalled": (("fact.reason", ("reason",)), ("fact.scope", ("scope",))),
    "correction": (("fact.corrects", ("seq",)), ("fact.reason", ("reason",))),
}
CLONE_SIGNALS = frozenset({ReasonCode.scan_threshold_exceeded, ReasonCode.impossible_travel})


@dataclass(frozen=True)
class TimelineItem:
    entry: TimelineEntry
    label: str
    facts: list[str]
    # The entry's data and place in the page's language where the event translates them.
    data: dict[str, Any]
    place: str | None


def _facts(ctx: PageContext, entry: TimelineEntry, data: dict[str, Any]) -> list[str]:
    facts = []
    for message_id, fields in EVENT_FACTS.get(entry.type, ()):
        if any(data.get(name) in (None, "") for name in fields):
            continue
        values: dict[str, Any] = {name: format_number(data[name]) for name in fields}
        if "unit" in values:
            values["unit"] = ctx.unit(data["unit"])
        if "result" in values:
            values["result"] = ctx.t.optional(f"inspection.{data['result']}", values["result"])
        facts.append(ctx.t(message_id, **values))
    return facts


def _timeline_item(ctx: PageContext, entry: TimelineEntry) -> TimelineItem:
    data = ctx.localized(entry.data)
    # `translations.<lang>.place` translates the location's place too (and data.place).
    place = ctx.localized({**entry.data, "place": entry.place})["place"] if entry.place else None
    return TimelineItem(entry, _event_label(ctx, entry.type), _facts(ctx, entry, data), data, place)


def _event_label(ctx: PageContext, event_type: str) -> str:
    return ctx.t.optional(f"event.{event_type}", event_type)


def verification_page(request: Request, result: VerifyResult) -> HTMLResponse:
    """The HTML answer to a browser that opened a label URL: verdict first, then the facts."""
    ctx = PageContext(request)
    # An invalid code vouches for nothing: showing the batch it names would let a forger
    # borrow a real batch's story, so only the verdict and the code as read are shown.
    vouched = result.verdict != Verdict.invalid
    entries = result.timeline if vouched else []
    recalls = [e for e in entries if e.type == "recalled"]
    codes = {reason.code for reason in result.reasons}
    timeline = [_timeline_item(ctx, e) for e in entries]
    created = next((item.data for item in timeline if item.entry.type == "created"), {})
    response = render(
        ctx,
        "verify.html",
        result=result,
        verdict=result.verdict.value,
        brand=result.brand if vouched else None,
        batch=result.batch if vouched else None,
        producer=result.producer if vouched else None,
        chain=result.chain if vouched else None,
        scans=result.scans if vouched else None,
        timeline=timeline,
        inspections=[item for item in timeline if item.entry.type == "inspected"],
        product=created.get("product", result.batch.product) if result.batch else "",
        variety=created.get("variety", result.batch.variety) if result.batch else None,
        harvest_place=next(
            (item.place for item in timeline if item.entry.type == "harvested" and item.place),
            result.batch.harvest_place if result.batch else None,
        ),
        recall=recalls[-1] if recalls else None,
        looks_copied=bool(codes & CLONE_SIGNALS),
        located=ctx.request.query_params.get("lat") is not None,
        show_reasons=result.verdict != Verdict.genuine,
        json_href=ctx.query_href(lang=None, format="json") if result.code else None,
    )
    # Each load is an answer about this moment (scan count, recall): never reuse it.
    response.headers["Cache-Control"] = "no-store"
    return response


def brand_page(request: Request, overview: BrandOverview) -> HTMLResponse:
    """The public page of a brand: what it is, where it grows, who may use it, how to check."""
    return render(PageContext(request), "brand.html", o=overview, brand=overview.brand)


def brand_not_found_page(request: Request, slug: str) -> HTMLResponse:
    return render(PageContext(request), "not_found.html", status_code=404, slug=slug)
