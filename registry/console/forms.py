"""The event forms of the console, one per event type, asking only that type's fields
(DESIGN.md's event table), and the one conversion of a submitted form into an event body.

Pure: no framework or database. The page's script converts the same fields the same way
(driven by each input's `data-kind`), so the offline outbox and the plain form post build
identical events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["number", "int", "text", "list", "date", "choice"]

MASS_UNITS = ("kg", "t", "g")
ALL_UNITS = ("kg", "t", "g", "box", "case", "bag", "unit")
DOSE_UNITS = ("kg", "g", "L", "mL")
RESULTS = ("pass", "fail")


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the path in the event body: "data.quantity", "location.county_code"
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    # Choices the page fills in from the database: "handlers", "counties", "senders", "seqs".
    source: str | None = None

    @property
    def key(self) -> str:
        """The message id stem of the field's label (`field.quantity`)."""
        return self.name.rsplit(".", 1)[-1]


def _f(name: str, kind: Kind, required: bool = False, **more: Any) -> FieldSpec:
    return FieldSpec(name, kind, required, **more)


_QUANTITY = (
    _f("data.quantity", "number", True),
    _f("data.unit", "choice", True, choices=ALL_UNITS),
)

EVENT_FORMS: dict[str, tuple[FieldSpec, ...]] = {
    "harvested": (
        _f("data.quantity", "number", True),
        _f("data.unit", "choice", True, choices=MASS_UNITS),
        _f("data.harvest_date", "date", True),
        _f("location.county_code", "choice", True, source="counties"),
        _f("location.place", "text"),
        _f("data.plot", "text"),
    ),
    "input_applied": (
        _f("data.input_name", "text", True),
        _f("data.dose", "number", True),
        _f("data.dose_unit", "choice", True, choices=DOSE_UNITS),
        _f("data.registration_no", "text"),
        _f("data.area", "text"),
        _f("data.pre_harvest_interval_days", "int"),
    ),
    "inspected": (
        _f("data.method", "text", True),
        _f("data.analytes", "list", True),
        _f("data.result", "choice", True, choices=RESULTS),
        _f("data.lab", "text"),
        _f("data.certificate_ref", "text"),
    ),
    "cooled": (_f("data.place", "text", True), _f("data.temperature_c", "number")),
    "packed": (
        _f("data.units", "int", True),
        _f("data.unit_size", "number", True),
        _f("data.unit", "choice", True, choices=MASS_UNITS),
        _f("data.packing_site", "text"),
    ),
    "stored": (_f("data.place", "text", True), _f("data.conditions", "text")),
    "shipped": (
        *_QUANTITY,
        _f("data.to_org_id", "choice", True, source="handlers"),
        _f("data.destination", "text"),
        _f("data.reference_doc", "text"),
    ),
    "received": (
        *_QUANTITY,
        _f("data.from_org_id", "choice", True, source="senders"),
        _f("data.reference_doc", "text"),
    ),
    "sold": (_f("data.channel", "text", True), *_QUANTITY),
    "correction": (
        _f("data.seq", "choice", True, source="seqs"),
        _f("data.reason", "text", True),
    ),
}
# What each kind of organization records from the console (registry-written types and
# recalls are not offered; a refused type would only be refused by the registry's rules).
PRODUCER_TYPES = (
    "harvested",
    "input_applied",
    "inspected",
    "cooled",
    "packed",
    "stored",
    "shipped",
    "sold",
    "correction",
)
HANDLER_TYPES = ("received", "stored", "cooled", "inspected", "shipped", "sold", "correction")
# The event time: date and clock as the phone shows them, and the phone's UTC offset.
TIME_FIELDS = ("event_date", "event_clock", "tz")
_OFFSET = re.compile(r"^[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]$")
_LIST_SPLIT = re.compile(r"[,，、;；]")


class FormProblem(ValueError):
    """Fields that are missing or not numbers; `fields` names them (the form shows them)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


def _convert(spec: FieldSpec, raw: str) -> Any:
    if spec.kind == "number":
        return float(raw)
    if spec.kind in ("int",) or spec.source == "seqs":
        return int(raw)
    if spec.kind == "list":
        return [part.strip() for part in _LIST_SPLIT.split(raw) if part.strip()]
    return raw


def form_to_event(event_type: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The event body a submitted form stands for; FormProblem names the fields that are
    missing or unreadable. The registry's own validation and rules come after."""
    problems: list[str] = []
    event: dict[str, Any] = {"type": event_type, "data": {}}
    for spec in EVENT_FORMS[event_type]:
        raw = (form.get(spec.name) or "").strip()
        if not raw:
            if spec.required:
                problems.append(spec.name)
            continue
        try:
            value = _convert(spec, raw)
        except ValueError:
            problems.append(spec.name)
            continue
        section, _, key = spec.name.partition(".")
        event.setdefault(section, {})[key] = value
    day, clock, tz = (form.get(name, "").strip() for name in TIME_FIELDS)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        problems.append("event_date")
    if not re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", clock):
        problems.append("event_clock")
    if not _OFFSET.fullmatch(tz):
        problems.append("tz")
    if problems:
        raise FormProblem(problems)
    seconds = "" if clock.count(":") == 2 else ":00"
    event["event_time"] = f"{day}T{clock}{seconds}{tz}"
    return event
