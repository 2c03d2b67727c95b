"""Batches and their chains: creation, appends under the registry's rules, reads.

Appends to one batch are serialized: PostgreSQL locks the batch row, SQLite writers hold
the database write lock from BEGIN IMMEDIATE. The unique (batch_id, seq) is the backstop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    bindparam,
    column,
    inspect,
    literal_column,
    text,
    values,
)
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, and_, col, or_, select

from registry.batches import event_types
from registry.batches.chain import GENESIS_HASH, event_body, link_hash
from registry.batches.event_types import EventBase
from registry.batches.exceptions import (
    BatchExists,
    BatchNotFound,
    FutureEvent,
    HarvestOutsideLicence,
    IdempotencyKeyReused,
    InvalidCorrection,
    MassBalanceExceeded,
    NotCustodian,
    OutsideProductionArea,
    QuotaExceeded,
)
from registry.batches.ledger import Ledger, LedgerError, LedgerEvent, effective_events, replay
from registry.batches.locking import LOCKED_BATCHES
from registry.batches.models import WRITTEN_OUTSIDE_FLUSH, Batch, BatchStatus, Event
from registry.batches.schemas import BatchCreate
from registry.brands.models import Brand, License
from registry.brands.service import get_brand, license_on, require_license
from registry.core.canonical import canonical_json, sha256_hex
from registry.core.config import get_settings
from registry.core.errors import Forbidden, InvalidInput
from registry.core.time import as_utc, format_offset, utcnow
from registry.log.append import log_enabled, queue_for_log
from registry.orgs.models import Organization, OrgKind

# Kinds that see every batch (read-only for regulators).
_SEE_ALL = (OrgKind.admin, OrgKind.regulator)
_DEFER_FLUSH = "defer_event_flush"  # session.info: inside `deferred_flush`
_KNOWN_KEYS = "known_idempotency_keys"  # session.info: (actor id, {key: event or None})


# Built once: a statement built per call (`Batch.id == batch_id`) costs SQLAlchemy a new
# cache key each time: 0.15-0.3 ms of CPU a call (micro-benchmark), of an append's 4-6 ms.
_BATCH = select(Batch).where(Batch.id == bindparam("batch_id"))
_LOCKED_BATCH = _BATCH.with_for_update()


def get_batch(session: Session, batch_id: str, *, lock: bool = False) -> Batch:
    if lock and batch_id in session.info.get(LOCKED_BATCHES, ()):
        held = session.get(Batch, batch_id)  # from the identity map, or re-read if expired
        if held is not None:
            return held
    query = _LOCKED_BATCH if lock else _BATCH
    batch = session.exec(query, params={"batch_id": batch_id}).first()
    if batch is None:
        raise BatchNotFound(f"batch {batch_id} not found")
    return batch


def load_events(session: Session, batch_id: str) -> list[Event]:
    return list(
        session.exec(select(Event).where(Event.batch_id == batch_id).order_by(col(Event.seq)))
    )


def _ledger_events(events: list[Event]) -> list[LedgerEvent]:
    return [LedgerEvent(e.seq, e.type, e.actor_org_id, e.data) for e in events]


# `data ->> 'to_org_id'` with the key written in the SQL (PostgreSQL and SQLite >= 3.38 read
# it alike): exactly the expression of PostgreSQL's partial index ix_events_shipped_to
# (migration 0012), which a bound key would match only in plans made for its value.
_SHIPPED_TO = col(Event.data).op("->>", return_type=String())(literal_column("'to_org_id'"))


def shipped_to(org_id: str) -> ColumnElement[bool]:
    """A condition on `Event`: a `shipped` event naming `org_id` as the receiver. Found
    through the index, not by reading every shipment of the registry."""
    receiver = _SHIPPED_TO  # a lower-case name: ruff reads `_SHIPPED_TO == org_id` as Yoda
    return and_(col(Event.type) == "shipped", receiver == org_id)


def ensure_visible(session: Session, batch: Batch, org: Organization) -> None:
    """Producer, brand owner, regulators, admins and any party to the chain may read it."""
    if org.kind in _SEE_ALL or org.id == batch.cooperative_org_id:
        return
    brand = session.get(Brand, batch.brand_id)
    if brand is not None and brand.owner_org_id == org.id:
        return
    for e in load_events(session, batch.id):
        if e.actor_org_id == org.id or (e.type == "shipped" and e.data.get("to_org_id") == org.id):
            return
    raise Forbidden(f"batch {batch.id} is not visible to {org.name}")


def create_batch(
    session: Session, *, actor: Organization, body: BatchCreate
) -> tuple[Batch, Brand]:
    """Register a batch under a brand the cooperative is licensed for; writes event 0."""
    brand = get_brand(session, body.brand)
    require_license(session, brand=brand, org=actor, day=utcnow().date())
    if session.exec(
        select(Batch.id).where(Batch.brand_id == brand.id, Batch.lot == body.lot)
    ).first():
        raise BatchExists(f"lot {body.lot!r} already exists under brand {brand.slug!r}")
    batch = Batch(
        brand_id=brand.id,
        cooperative_org_id=actor.id,
        lot=body.lot,
        product=body.product,
        variety=body.variety,
        gtin=body.gtin,
        head_seq=-1,
        head_hash=GENESIS_HASH,
        ledger=Ledger(actor.id).to_json(),
    )
    session.add(batch)
    session.flush()
    now = utcnow()
    data = event_types.validate_data("created", body.model_dump(exclude_none=True))
    _write(session, batch, type="created", data=data, location=None, event_time=now, actor=actor)
    return batch, brand


def _write(
    session: Session,
    batch: Batch,
    *,
    type: str,
    data: dict[str, Any],
    location: dict[str, Any] | None,
    event_time: datetime,
    actor: Organization,
    idempotency_key: str | None = None,
    request_digest: str | None = None,
) -> Event:
    """Link a new event to the batch head and move the head; the caller holds the lock."""
    seq = batch.head_seq + 1
    recorded_at = utcnow()
    offset = format_offset(event_time)
    # Stored as UTC: SQLite keeps wall-clock text and would drop the offset.
    event_time = as_utc(event_time)
    body = event_body(
        batch_id=batch.id,
        seq=seq,
        type=type,
        event_time=event_time,
        event_time_offset=offset,
        recorded_at=recorded_at,
        actor_org_id=actor.id,
        location=location,
        data=data,
    )
    event = Event(
        batch_id=batch.id,
        seq=seq,
        type=type,
        event_time=event_time,
        event_time_offset=offset,
        recorded_at=recorded_at,
        actor_org_id=actor.id,
        location=location,
        data=data,
        prev_hash=batch.head_hash,
        hash=link_hash(batch.head_hash, body),
        idempotency_key=idempotency_key,
        request_digest=request_digest,
    )
    status = BatchStatus.recalled if type == "recalled" else batch.status
    if _writes_in_one_statement(session):
        _insert_event(session, batch, event, status=status)
    else:
        batch.head_seq, batch.head_hash, batch.updated_at = seq, event.hash, recorded_at
        batch.status = status
        session.add(event)
        session.add(batch)
        queue_for_log(session, event=event)
        if not session.info.get(_DEFER_FLUSH):
            session.flush()
    preloaded = session.info.get(_KNOWN_KEYS)
    if idempotency_key and preloaded is not None and preloaded[0] == actor.id:
        preloaded[1][idempotency_key] = event
    return event


# The event, the batch's new head and ledger, and the log's queue row, in one round trip.
_APPEND = text(
    """
    WITH written AS (
        INSERT INTO events (batch_id, seq, type, event_time, event_time_offset, recorded_at,
            actor_org_id, location, data, prev_hash, hash, idempotency_key, request_digest)
        VALUES (:batch_id, :seq, :type, :event_time, :event_time_offset, :recorded_at,
            :actor_org_id, :location, :data, :prev_hash, :hash, :idempotency_key,
            :request_digest)
        RETURNING id
    ), head AS (
        UPDATE batches SET head_seq = :seq, head_hash = :hash, updated_at = :recorded_at,
            status = :status, ledger = :ledger
        WHERE id = :batch_id
    ), queued AS (
        INSERT INTO log_pending (event_id) SELECT id FROM written WHERE :queue
    )
    SELECT id FROM written
    """
).bindparams(
    bindparam("location", type_=JSON),
    bindparam("data", type_=JSON),
    bindparam("ledger", type_=JSON),
)


def _writes_in_one_statement(session: Session) -> bool:
    """PostgreSQL, outside `deferred_flush` and outside any savepoint: a savepoint rolled
    back would not restore the batch's head that `_insert_event` sets in memory."""
    return (
        session.get_bind().dialect.name == "postgresql"
        and not session.info.get(_DEFER_FLUSH)
        and not session.in_nested_transaction()
    )


def _insert_event(session: Session, batch: Batch, event: Event, *, status: str) -> None:
    """Write the event with `_APPEND` instead of an ORM flush (an UPDATE, an INSERT and the
    queue row's INSERT, each a round trip), then attach it to the session as loaded and set
    the batch's new head as committed, so no flush writes them again."""
    queue = log_enabled()
    event.id = session.execute(
        _APPEND,
        {
            **{name: getattr(event, name) for name in _EVENT_COLUMNS},
            "status": str(status),
            "ledger": batch.ledger,
            "queue": queue,
        },
    ).scalar_one()
    make_transient_to_detached(event)
    session.add(event)
    for name, value in (
        ("head_seq", event.seq),
        ("head_hash", event.hash),
        ("updated_at", event.recorded_at),
        ("status", status),
        ("ledger", batch.ledger),
    ):
        set_committed_value(batch, name, value)
    session.info.setdefault(WRITTEN_OUTSIDE_FLUSH, []).append(batch)
    if queue:
        queue_for_log(session, event=event, queued=True)


_EVENT_COLUMNS = (
    "batch_id",
    "seq",
    "type",
    "event_time",
    "event_time_offset",
    "recorded_at",
    "actor_org_id",
    "location",
    "data",
    "prev_hash",
    "hash",
    "idempotency_key",
    "request_digest",
)


@contextmanager
def deferred_flush(session: Session) -> Iterator[None]:
    """Within it, appended events and heads are written by the session's next flush (one
    multi-row INSERT for many events) instead of one flush per event."""
    session.info[_DEFER_FLUSH] = True
    try:
        yield
    finally:
        session.info.pop(_DEFER_FLUSH, None)


def number_new_events(session: Session) -> None:
    """Give the session's unflushed events their ids now, in the order they were added, from
    one PostgreSQL query. The next flush then inserts them with one executemany, whose
    one-row statement psycopg parses once, instead of one INSERT ... RETURNING of up to
    1,000 rows that psycopg parses anew each time (a third of a 1,000-event sync's CPU)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    new = sorted(
        (e for e in session.new if isinstance(e, Event) and e.id is None),
        key=lambda e: inspect(e).insert_order,
    )
    if len(new) < 2:
        return
    with session.no_autoflush:
        ids = session.execute(
            text("SELECT nextval('events_id_seq') FROM generate_series(1, :n)"), {"n": len(new)}
        ).scalars()
    for event, event_id in zip(new, sorted(ids), strict=True):
        event.id = event_id


def ledger_of(session: Session, batch: Batch) -> Ledger:
    """The batch's custody and mass-balance state after its head event."""
    if batch.ledger is not None:
        return Ledger.from_json(batch.ledger)
    return _replay_or_raise(batch, load_events(session, batch.id))


@contextmanager
def _mass_balance() -> Iterator[None]:
    """Render a broken ledger rule as 409 (mass balance) or 422 (uninterpretable)."""
    try:
        yield
    except LedgerError as exc:
        if exc.conflict:
            raise MassBalanceExceeded(exc.detail) from exc
        raise InvalidInput(exc.detail) from exc


def _replay_or_raise(batch: Batch, events: list[Event], *extra: LedgerEvent) -> Ledger:
    with _mass_balance():
        return replay(batch.cooperative_org_id, [*_ledger_events(events), *extra])


def _advance(session: Session, batch: Batch, state: Ledger, candidate: LedgerEvent) -> None:
    """Apply the candidate to the state (409/422 if it breaks mass balance) and store it.

    A correction can change any earlier event, so it replays the whole chain instead."""
    if candidate.type == "correction":
        state = _replay_or_raise(batch, load_events(session, batch.id), candidate)
    else:
        with _mass_balance():
            state.apply(candidate)
    ledger = state.to_json()
    if ledger != batch.ledger:  # most events move no goods: the batch stays unmodified
        batch.ledger = ledger


def append_registry_event(
    session: Session, *, batch_id: str, type: str, data: dict[str, Any], actor: Organization
) -> Event:
    """Append an event the registry writes itself (e.g. `labeled`), under mass balance."""
    batch = get_batch(session, batch_id, lock=True)
    data = event_types.validate_data(type, data)
    state = ledger_of(session, batch)
    _advance(session, batch, state, LedgerEvent(batch.head_seq + 1, type, actor.id, data))
    return _write(
        session, batch, type=type, data=data, location=None, event_time=utcnow(), actor=actor
    )


def _request_digest(batch_id: str, event: BaseModel) -> str:
    return sha256_hex(
        canonical_json({"batch_id": batch_id, "event": event.model_dump(mode="json")})
    )


def _events_under_keys(session: Session, actor_id: str, keys: list[str]) -> Any:
    """The actor's events under `keys`. On PostgreSQL each key is looked up on its own in
    the unique (org, key) index: as `org = ? AND key IN (...)` (or as pairs, which it
    folds back to that), the planner without statistics probed by org only and read every
    event the org ever wrote, on every outbox."""
    if session.get_bind().dialect.name != "postgresql":
        return select(Event).where(
            Event.actor_org_id == actor_id, col(Event.idempotency_key).in_(keys)
        )
    wanted = values(column("key", String()), name="wanted").data([(k,) for k in keys])
    found = (
        select(Event.id)
        .where(Event.actor_org_id == actor_id, Event.idempotency_key == wanted.c.key)
        .scalar_subquery()
    )
    ids = [i for i in session.exec(select(found).select_from(wanted)) if i is not None]
    return select(Event).where(col(Event.id).in_(ids))


def preload_idempotency_keys(session: Session, *, actor_id: str, keys: Iterable[str]) -> None:
    """Look up at once the events an actor wrote under these idempotency keys: until
    `forget_idempotency_keys`, `append_event` finds them (or that there is none) without
    a query, and knows the events it writes under them."""
    known: dict[str, Event | None] = dict.fromkeys(keys)
    wanted = list(known)
    for start in range(0, len(wanted), 500):
        for e in session.exec(_events_under_keys(session, actor_id, wanted[start : start + 500])):
            assert e.idempotency_key is not None
            known[e.idempotency_key] = e
    session.info[_KNOWN_KEYS] = (actor_id, known)


def forget_idempotency_keys(session: Session, *keys: str) -> None:
    """Forget preloaded keys (all of them when none is named): they are looked up again."""
    preloaded = session.info.get(_KNOWN_KEYS)
    if preloaded is None:
        return
    if not keys:
        session.info.pop(_KNOWN_KEYS)
    for key in keys:
        preloaded[1].pop(key, None)


def _keyed_event(session: Session, *, actor_id: str, key: str) -> Event | None:
    preloaded = session.info.get(_KNOWN_KEYS)
    if preloaded is not None and preloaded[0] == actor_id and key in preloaded[1]:
        found: Event | None = preloaded[1][key]
        return found
    return session.exec(
        select(Event).where(Event.actor_org_id == actor_id, Event.idempotency_key == key)
    ).first()


def append_event(
    session: Session,
    *,
    batch_id: str,
    event: EventBase,
    actor: Organization,
    idempotency_key: str | None = None,
) -> tuple[Event, bool]:
    """Append a client event; returns (event, created). A repeated idempotency key with the
    same body returns the original event with created=False; with another body, 409."""
    batch = get_batch(session, batch_id, lock=True)
    digest = _request_digest(batch_id, event) if idempotency_key else None
    if idempotency_key:
        previous = _keyed_event(session, actor_id=actor.id, key=idempotency_key)
        if previous is not None:
            if previous.batch_id != batch_id or previous.request_digest != digest:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {idempotency_key!r} was already used with another body"
                )
            return previous, False

    type_ = str(event.type)
    data: dict[str, Any] = event.data.model_dump(mode="json", exclude_none=True)
    location_model = event.location
    location = (
        None
        if location_model is None
        else location_model.model_dump(mode="json", exclude_none=True)
    )
    event_time: datetime = event.event_time

    state = ledger_of(session, batch)
    _check_permission(session, batch, state, type_, actor)
    _check_not_future(event_time, data)
    if type_ == "harvested":
        _check_harvest(session, batch, actor, location, data)
    elif type_ == "shipped":
        target = session.get(Organization, data["to_org_id"])
        if target is None or target.id == actor.id:
            raise InvalidInput(
                f"data.to_org_id: {data['to_org_id']} is not another known organization"
            )
    elif type_ == "correction":
        existing = load_events(session, batch.id)
        data = _check_correction(existing, data, actor)
        _check_corrected_harvest(session, batch, actor, existing, data)

    _advance(session, batch, state, LedgerEvent(batch.head_seq + 1, type_, actor.id, data))
    written = _write(
        session,
        batch,
        type=type_,
        data=data,
        location=location,
        event_time=event_time,
        actor=actor,
        idempotency_key=idempotency_key,
        request_digest=digest,
    )
    return written, True


def _check_permission(
    session: Session,
    batch: Batch,
    state: Ledger,
    type_: str,
    actor: Organization,
) -> None:
    if type_ in event_types.REGISTRY_ONLY_TYPES:
        raise Forbidden(f"{type_} events are written by the registry only")
    if type_ == "recalled":
        brand = session.get(Brand, batch.brand_id)
        if actor.kind != OrgKind.regulator and (brand is None or brand.owner_org_id != actor.id):
            raise NotCustodian("only the brand owner or a regulator may recall a batch")
        return
    if actor.kind in (OrgKind.regulator, OrgKind.platform, OrgKind.admin):
        raise NotCustodian(f"a {actor.kind} may not append {type_} events")
    if type_ == "received":
        if not state.awaits_goods(actor.id):
            raise NotCustodian(f"nothing of batch {batch.id} was shipped to {actor.name}")
        return
    if type_ == "correction":
        return  # the author check needs the corrected event; see _check_correction
    if type_ in ("harvested", "input_applied", "packed") and actor.id != batch.cooperative_org_id:
        raise NotCustodian(f"only the producing cooperative records {type_} events")
    if not state.is_custodian(actor.id):
        raise NotCustodian(f"{actor.name} does not hold batch {batch.id}")


def _check_not_future(event_time: datetime, data: dict[str, Any]) -> None:
    """Refuse (422) an event_time, or a harvest_date (also one a correction sets), later
    than the registry's clock plus the drift tolerance. A date counts from its midnight in
    the event's own offset, so a harvest recorded at 00:30 in Beijing on its own day passes."""
    tolerance = get_settings().future_tolerance_seconds
    latest = utcnow() + timedelta(seconds=tolerance)
    if event_time > latest:
        raise FutureEvent(
            f"event_time {event_time.isoformat()} lies in the future: the registry's clock "
            f"reads {utcnow().isoformat(timespec='seconds')} and accepts at most "
            f"{tolerance:g} s ahead"
        )
    corrected = data.get("corrected_data")
    day_text = data.get("harvest_date") or (
        corrected.get("harvest_date") if isinstance(corrected, dict) else None
    )
    try:
        day = date.fromisoformat(day_text) if isinstance(day_text, str) else None
    except ValueError:
        return  # not a date: the corrected data's own validation answers
    if day is not None and datetime.combine(day, time(), event_time.tzinfo) > latest:
        raise FutureEvent(
            f"harvest_date {day} lies in the future: the registry's clock reads "
            f"{utcnow().isoformat(timespec='seconds')}; a harvest is recorded once it happened"
        )


def _check_harvest(
    session: Session,
    batch: Batch,
    actor: Organization,
    location: dict[str, Any] | None,
    data: dict[str, Any],
) -> None:
    """Production area (422 naming the county) and the annual license quota (409)."""
    brand = session.get(Brand, batch.brand_id)
    assert brand is not None
    county = (location or {}).get("county_code")
    if county is None:
        raise InvalidInput("location.county_code is required for a harvested event")
    if county not in brand.county_codes:
        raise OutsideProductionArea(
            f"county {county} is outside the production area of {brand.slug!r} "
            f"({', '.join(brand.county_codes)})"
        )
    _check_quota(session, brand, actor, data)


def _check_quota(
    session: Session,
    brand: Brand,
    actor: Organization,
    data: dict[str, Any],
    *,
    replacing: tuple[str, int] | None = None,
) -> None:
    """The annual quota (409) for harvest `data`, optionally replacing the earlier
    harvest event (batch_id, seq) that a correction rewrites."""
    harvest_day = date.fromisoformat(data["harvest_date"])
    lic = license_on(session, brand_id=brand.id, org_id=actor.id, day=harvest_day)
    if lic is None or brand.status != "active":
        # 403 when the brand is suspended or no licence is in force at all (revoked)...
        require_license(session, brand=brand, org=actor, day=utcnow().date())
        # ...422 when one is, but the harvest's day (its quota year) lies outside it.
        raise HarvestOutsideLicence(
            f"harvest_date {harvest_day} is not covered by any licence of {actor.name} for "
            f"brand {brand.slug!r}: the {harvest_day.year} quota cannot be used"
        )
    # Lock the license so two batches' harvests cannot both slip under the quota.
    session.exec(select(License).where(License.id == lic.id).with_for_update()).first()
    year = harvest_day.year
    already = _harvested_kg(
        session, brand_id=brand.id, org_id=actor.id, year=year, exclude=replacing
    )
    new_kg = _harvest_kg(data)
    if already + new_kg > lic.annual_quota_kg + 1e-6:
        raise QuotaExceeded(
            f"harvest of {new_kg:g} kg would bring {actor.name}'s {year} total under "
            f"{brand.slug!r} to {already + new_kg:g} kg, "
            f"over its quota of {lic.annual_quota_kg:g} kg"
        )


def _harvest_kg(data: dict[str, Any]) -> float:
    return float(data["quantity"]) * event_types.MASS_UNITS_KG[data["unit"]]


def _check_corrected_harvest(
    session: Session,
    batch: Batch,
    actor: Organization,
    existing: list[Event],
    data: dict[str, Any],
) -> None:
    """A correction that raises a harvest (or moves it to another year) is held to the
    quota like a new harvest; one that lowers or voids it may always be recorded."""
    corrected = data.get("corrected_data")
    target = existing[int(data["seq"])]
    if target.type != "harvested" or corrected is None:
        return
    current = next(
        (e.data for e in effective_events(_ledger_events(existing)) if e.seq == target.seq), None
    )
    if (
        current is not None
        and corrected["harvest_date"][:4] == current["harvest_date"][:4]
        and _harvest_kg(corrected) <= _harvest_kg(current)
    ):
        return
    brand = session.get(Brand, batch.brand_id)
    assert brand is not None
    _check_quota(session, brand, actor, corrected, replacing=(batch.id, target.seq))


def _harvested_kg(
    session: Session,
    *,
    brand_id: str,
    org_id: str,
    year: int,
    exclude: tuple[str, int] | None = None,
) -> float:
    """Effective harvested kg of the org under the brand in `year`, leaving out the
    harvest event `exclude` (batch_id, seq) if given."""
    # `type IN (...)`, not `type = ... OR type = ...`: PostgreSQL then probes the
    # (type, batch_id) index with both columns per batch; with the OR it walked every
    # harvest of the registry once per batch of the cooperative.
    rows = session.exec(
        select(Event)
        .join(Batch, Batch.id == Event.batch_id)  # type: ignore[arg-type]
        .where(
            Batch.brand_id == brand_id,
            Batch.cooperative_org_id == org_id,
            col(Event.type).in_(("harvested", "correction")),
        )
        .order_by(col(Event.batch_id), col(Event.seq))
    ).all()
    by_batch: dict[str, list[LedgerEvent]] = {}
    for e in rows:
        by_batch.setdefault(e.batch_id, []).append(
            LedgerEvent(e.seq, e.type, e.actor_org_id, e.data)
        )
    total = 0.0
    for batch_id, events in by_batch.items():
        for le in effective_events(events):
            if le.type != "harvested" or (batch_id, le.seq) == exclude:
                continue
            if date.fromisoformat(le.data["harvest_date"]).year == year:
                total += _harvest_kg(le.data)
    return total


def _check_correction(
    existing: list[Event], data: dict[str, Any], actor: Organization
) -> dict[str, Any]:
    seq = int(data["seq"])
    if seq >= len(existing):
        raise InvalidCorrection(
            f"data.seq: batch has no event {seq} to correct (head is {len(existing) - 1})"
        )
    target = existing[seq]
    if target.type in (*event_types.REGISTRY_ONLY_TYPES, "correction"):
        raise InvalidCorrection(f"data.seq: a {target.type} event cannot be corrected")
    if target.actor_org_id != actor.id:
        raise NotCustodian(f"only the organization that recorded event {seq} may correct it")
    if "corrected_data" in data:
        try:
            data["corrected_data"] = event_types.validate_data(target.type, data["corrected_data"])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidCorrection(f"data.corrected_data.{where}: {first['msg']}") from exc
    return data


def list_events(
    session: Session, *, batch_id: str, actor: Organization, after_seq: int = -1, limit: int
) -> list[Event]:
    """Up to `limit` events of the chain after `after_seq`, in chain order."""
    batch = get_batch(session, batch_id)
    ensure_visible(session, batch, actor)
    return list(
        session.exec(
            select(Event)
            .where(Event.batch_id == batch_id, col(Event.seq) > after_seq)
            .order_by(col(Event.seq))
            .limit(limit)
        )
    )


def list_batches(
    session: Session,
    *,
    actor: Organization,
    brand: str | None,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[tuple[Batch, str]]:
    """Batches the org may see, newest first, after the keyset `after` (created_at, id):
    all for regulators/admins, own brands for owners, own batches for cooperatives,
    batches it has recorded events on for handlers."""
    query = select(Batch, Brand.slug).join(Brand, Brand.id == Batch.brand_id)  # type: ignore[arg-type]
    if actor.kind == OrgKind.brand_owner:
        query = query.where(Brand.owner_org_id == actor.id)
    elif actor.kind == OrgKind.cooperative:
        query = query.where(Batch.cooperative_org_id == actor.id)
    elif actor.kind not in _SEE_ALL:
        touched = select(Event.batch_id).where(Event.actor_org_id == actor.id)
        query = query.where(col(Batch.id).in_(touched))
    if brand:
        query = query.where(Brand.slug == brand)
    if after is not None:
        at, last_id = after
        # `created_at <= at` on its own: the listing indexes (migration 0013) then start at
        # the cursor instead of walking the pages before it.
        query = query.where(
            col(Batch.created_at) <= at,
            or_(col(Batch.created_at) < at, col(Batch.id) > last_id),
        )
    query = query.order_by(col(Batch.created_at).desc(), col(Batch.id)).limit(limit)
    return [(b, slug) for b, slug in session.exec(query).all()]


def brand_slug(session: Session, batch: Batch) -> str:
    brand = session.get(Brand, batch.brand_id)
    assert brand is not None
    return brand.slug


def harvested_kg_in_year(session: Session, *, brand_id: str, org_id: str, year: int) -> float:
    """The quota tally: the org's effective harvested kg under the brand in `year` (what
    the quota rule counts; the console shows it beside the licence's quota)."""
    return _harvested_kg(session, brand_id=brand_id, org_id=org_id, year=year)
