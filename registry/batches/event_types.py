"""The CTE vocabulary: one pydantic model per event type, validating `data` and `location`.

Field names are DESIGN.md's. Quantities are positive; times need an offset; unknown types
and unknown fields are refused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from registry.core.identifiers import check_county_code, check_text, normalize_gtin

MASS_UNITS_KG = {"g": 0.001, "kg": 1.0, "t": 1000.0}
COUNT_UNITS = ("unit", "box", "case", "bag")

MassUnit = Literal["g", "kg", "t"]
Unit = Literal["g", "kg", "t", "unit", "box", "case", "bag"]
# Numbers are strict: JSON numbers only (`true` is not 1, "5" is not 5).
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
Number = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(check_text)]
Name = Annotated[str, AfterValidator(check_text)]
CountyCode = Annotated[str, AfterValidator(check_county_code)]
# Integers are hashed as RFC 8785 JSON, which is exact only up to 2**53 - 1.
JsonInt = Annotated[int, Field(le=2**53 - 1, strict=True)]


def _check_gln(value: str) -> str:
    if len(value) != 13:
        raise ValueError(f"GLN must be 13 digits, got {value!r}")
    return normalize_gtin(value)[1:]


_SAFE_INTEGER = 2**53 - 1


def _refuse_unsafe_integers(value: Any, where: str) -> None:
    """I-JSON: an integer beyond +-(2**53 - 1) is refused, never rounded into a float."""
    if type(value) is int and abs(value) > _SAFE_INTEGER:
        raise ValueError(f"{where or 'value'}: integer {value} is beyond +-(2**53 - 1) (I-JSON)")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_unsafe_integers(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_unsafe_integers(item, f"{where}[{i}]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _i_json_numbers(cls, value: Any) -> Any:
        _refuse_unsafe_integers(value, "")
        return value


LANGUAGES = ("zh", "en")
# `data.translations`: the event's own text fields (and `place`, its location's) in other
# languages, e.g. {"en": {"input_name": "organic compost"}}; pages show the viewer's.
Translations = Annotated[
    dict[
        Literal["zh", "en"],
        Annotated[
            dict[Annotated[str, Field(max_length=64)], Text | list[Text]], Field(max_length=20)
        ],
    ],
    Field(max_length=2),
]


class _Data(_Strict):
    translations: Translations | None = None

    @model_validator(mode="after")
    def _translates_own_fields(self) -> _Data:
        known = (set(type(self).model_fields) - {"translations"}) | {"place"}
        for language, texts in (self.translations or {}).items():
            unknown = sorted(set(texts) - known)
            if unknown:
                raise ValueError(f"translations.{language} names unknown fields: {unknown}")
        return self


class Location(_Strict):
    county_code: CountyCode | None = None
    place: Text | None = None
    gln: Annotated[str, AfterValidator(_check_gln)] | None = None
    lat: Annotated[Number, Field(ge=-90, le=90)] | None = None
    lon: Annotated[Number, Field(ge=-180, le=180)] | None = None


class CreatedData(_Data):
    brand: Text
    lot: Name
    product: Text
    variety: Text | None = None
    gtin: Name | None = None


class InputAppliedData(_Data):
    input_name: Text
    dose: Positive
    dose_unit: Text
    registration_no: Text | None = None
    area: Text | None = None
    pre_harvest_interval_days: Annotated[JsonInt, Field(ge=0)] | None = None


class HarvestedData(_Data):
    quantity: Positive
    unit: MassUnit
    harvest_date: date
    plot: Text | None = None


class InspectedData(_Data):
    method: Text
    analytes: Annotated[list[Text], Field(min_length=1)]
    result: Literal["pass", "fail"]
    lab: Text | None = None
    certificate_ref: Text | None = None


class CooledData(_Data):
    place: Text
    temperature_c: Annotated[Number, Field(ge=-60, le=60)] | None = None


class PackedData(_Data):
    units: Annotated[JsonInt, Field(gt=0)]
    unit_size: Positive
    unit: MassUnit
    packing_site: Text | None = None


class LabeledData(_Data):
    run_id: Name
    first_serial: Name
    last_serial: Name
    count: Annotated[JsonInt, Field(gt=0)]
    key_id: Name


class StoredData(_Data):
    place: Text
    conditions: Text | None = None


class ShippedData(_Data):
    quantity: Positive
    unit: Unit
    to_org_id: Text
    destination: Text | None = None
    reference_doc: Text | None = None


class ReceivedData(_Data):
    quantity: Positive
    unit: Unit
    from_org_id: Text
    reference_doc: Text | None = None


class SoldData(_Data):
    channel: Text
    quantity: Positive
    unit: Unit = "unit"


class RecalledData(_Data):
    reason: Text
    scope: Text


class CorrectionData(_Data):
    seq: Annotated[JsonInt, Field(ge=0)]
    reason: Text
    corrected_data: dict[str, Any] | None = None


DATA_MODELS: dict[str, type[_Data]] = {
    "created": CreatedData,
    "input_applied": InputAppliedData,
    "harvested": HarvestedData,
    "inspected": InspectedData,
    "cooled": CooledData,
    "packed": PackedData,
    "labeled": LabeledData,
    "stored": StoredData,
    "shipped": ShippedData,
    "received": ReceivedData,
    "sold": SoldData,
    "recalled": RecalledData,
    "correction": CorrectionData,
}
EVENT_TYPES = tuple(DATA_MODELS)
# Written by the registry itself, never accepted from a client.
REGISTRY_ONLY_TYPES = frozenset({"created", "labeled"})


def _storable_instant(value: datetime) -> datetime:
    """Stored and hashed in UTC as RFC 3339 with a four-digit year."""
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not 1900 <= year <= 9999:
        raise ValueError("must lie between the years 1900 and 9999 (UTC)")
    return value


class EventBase(_Strict):
    """What every client event has; each subclass pins `type` and its `data` model."""

    type: str
    event_time: Annotated[AwareDatetime, AfterValidator(_storable_instant)]
    location: Location | None = None
    data: _Strict


class CreatedEvent(EventBase):
    type: Literal["created"]
    data: CreatedData


class InputAppliedEvent(EventBase):
    type: Literal["input_applied"]
    data: InputAppliedData


class HarvestedEvent(EventBase):
    type: Literal["harvested"]
    data: HarvestedData


class InspectedEvent(EventBase):
    type: Literal["inspected"]
    data: InspectedData


class CooledEvent(EventBase):
    type: Literal["cooled"]
    data: CooledData


class PackedEvent(EventBase):
    type: Literal["packed"]
    data: PackedData


class LabeledEvent(EventBase):
    type: Literal["labeled"]
    data: LabeledData


class StoredEvent(EventBase):
    type: Literal["stored"]
    data: StoredData


class ShippedEvent(EventBase):
    type: Literal["shipped"]
    data: ShippedData


class ReceivedEvent(EventBase):
    type: Literal["received"]
    data: ReceivedData


class SoldEvent(EventBase):
    type: Literal["sold"]
    data: SoldData


class RecalledEvent(EventBase):
    type: Literal["recalled"]
    data: RecalledData


class CorrectionEvent(EventBase):
    type: Literal["correction"]
    data: CorrectionData


EventIn = Annotated[
    CreatedEvent
    | InputAppliedEvent
    | HarvestedEvent
    | InspectedEvent
    | CooledEvent
    | PackedEvent
    | LabeledEvent
    | StoredEvent
    | ShippedEvent
    | ReceivedEvent
    | SoldEvent
    | RecalledEvent
    | CorrectionEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(EventIn)


def validate_data(type_name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` for `type_name` and return its stored JSON form (None fields dropped)."""
    return DATA_MODELS[type_name].model_validate(data).model_dump(mode="json", exclude_none=True)


def to_kg(quantity: float, unit: str, *, packed_unit_kg: float | None) -> float | None:
    """Convert a quantity to kg; counted units need the packed unit's mass (None if unknown)."""
    if unit in MASS_UNITS_KG:
        return quantity * MASS_UNITS_KG[unit]
    return None if packed_unit_kg is None else quantity * packed_unit_kg
