"""The clone rules, once: what a consumer scan's evidence says about a code. Pure (no
database, no framework, no clock): the verdict (registry/verify/judge.py) and the alerts
(registry/scans/ingest.py writes what the verdict found) both come from here.

Policy (docs/clone-detection.md): a code is flagged as copied when more distinct devices
scanned it than its brand allows, or when two devices scanned it from places too far apart
for the time between them. A flagged code stays flagged for every other device, with the
evidence; the device that scanned it first keeps its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry.core.config import Settings
from registry.scans.signals import Sighting, impossible_travel

SCAN_THRESHOLD_EXCEEDED = "scan_threshold_exceeded"
IMPOSSIBLE_TRAVEL = "impossible_travel"
NOT_YET_SHIPPED = "not_yet_shipped"
# Events after which goods are in the market (and consumer scans are expected).
LEAVES_PRODUCER = ("shipped", "sold")


@dataclass(frozen=True)
class CloneRules:
    default_threshold: int
    max_travel_kmh: float
    min_travel_km: float
    unshipped_scans_suspicious: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> CloneRules:
        return cls(
            default_threshold=settings.scan_alert_threshold,
            max_travel_kmh=settings.max_travel_kmh,
            min_travel_km=settings.min_travel_km,
            unshipped_scans_suspicious=settings.unshipped_scans_suspicious,
        )

    def threshold(self, brand_threshold: int | None) -> int:
        """Distinct devices a code may see before it is flagged (the brand's, else ours)."""
        return brand_threshold or self.default_threshold


@dataclass(frozen=True)
class Flag:
    """Why and since when a code is flagged, and where it was first scanned."""

    kind: str
    at: datetime
    message: str


@dataclass(frozen=True)
class Located:
    """A located scan of a code: where, when, by which device, how precise."""

    at: datetime
    lat: float
    lon: float
    radius_km: float
    device: str
    region: str


@dataclass(slots=True)  # not frozen: one is made per scan, and frozen costs more
class CodeScans:
    """What the device counter knows of one code, taken atomically with this scan (or, for
    a bulk check, as it stands). `rank` is this device's place among the code's scanners
    (1 = the first), None when no device is asking."""

    devices: int = 0
    rank: int | None = None
    first_at: datetime | None = None
    first_region: str | None = None
    flag: Flag | None = None
    last_located: Located | None = None


@dataclass(frozen=True)
class CloneSignal:
    """A clone signal on a code; `kind` is both the verdict's reason code and the alert's
    kind. `raises_flag` says the counter should remember it (it was not flagged before)."""

    kind: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    raises_flag: bool = False


def _evidence(scans: CodeScans, *, label: str = "first scanned") -> str:
    if scans.first_at is None:
        return ""
    where = f" in {scans.first_region}" if scans.first_region else ""
    return f"; {label} {scans.first_at:%Y-%m-%d %H:%M} UTC{where}"


def clone_signals(
    scans: CodeScans,
    *,
    here: Located | None,
    brand_threshold: int | None,
    rules: CloneRules,
) -> list[CloneSignal]:
    """The clone signals of a code for the device asking (`scans.rank`), or for no device
    (a bulk or CLI check: only a flag already raised counts).

    The code's first device never sees a clone signal: it holds the package that was sold
    first. Any other device sees the stored flag, or raises one when the code now has more
    devices than the threshold, or when this scan is too far from another device's last
    located scan for the time between them."""
    if scans.rank == 1:
        return []
    if scans.flag is not None:
        flag = scans.flag
        return [
            CloneSignal(
                flag.kind,
                f"{flag.message}{_evidence(scans)}",
                detail=_detail(scans),
            )
        ]
    if scans.rank is None:
        return []
    threshold = rules.threshold(brand_threshold)
    if scans.devices > threshold:
        return [
            CloneSignal(
                SCAN_THRESHOLD_EXCEEDED,
                f"{scans.devices} different phones have checked this code, more than the "
                f"{threshold} one package is expected to meet: it may have been copied"
                f"{_evidence(scans)}",
                detail={**_detail(scans), "threshold": threshold},
                raises_flag=True,
            )
        ]
    earlier = scans.last_located
    if here is not None and earlier is not None and earlier.device != here.device:
        # Both positions may be off by their radius: only what is left counts as travel.
        slack = earlier.radius_km + here.radius_km
        move = impossible_travel(
            Sighting(earlier.at, earlier.lat, earlier.lon),
            Sighting(here.at, here.lat, here.lon),
            max_kmh=rules.max_travel_kmh,
            min_km=rules.min_travel_km + slack,
        )
        if move is not None:
            return [
                CloneSignal(
                    IMPOSSIBLE_TRAVEL,
                    f"this code was {move.describe(rules.max_travel_kmh)} "
                    f"({earlier.region} then {here.region})",
                    detail={
                        **_detail(scans),
                        "km": round(move.km, 1),
                        "hours": round(move.hours, 4),
                        "from": earlier.region,
                        "to": here.region,
                    },
                    raises_flag=True,
                )
            ]
    return []


def _detail(scans: CodeScans) -> dict[str, Any]:
    return {
        "devices": scans.devices,
        "first_at": scans.first_at.isoformat() if scans.first_at else None,
        "first_region": scans.first_region,
    }


def shipping_signal(event_types: list[str]) -> CloneSignal | None:
    """A consumer scan of a batch that has not left its producer: always an alert; a
    verdict reason only where the operator asked for it
    (`CloneRules.unshipped_scans_suspicious`)."""
    if any(kind in LEAVES_PRODUCER for kind in event_types):
        return None
    return CloneSignal(
        NOT_YET_SHIPPED,
        "this code's batch has not been shipped or sold yet, so no package of it should be "
        "in a consumer's hands: it may have been copied",
    )


FLAG_MESSAGES = {
    SCAN_THRESHOLD_EXCEEDED: "more different phones have checked this code than one "
    "package is expected to meet: it may have been copied",
    IMPOSSIBLE_TRAVEL: "this code was scanned in places too far apart for the time "
    "between them: it may have been copied",
}


def flag_of(signal: CloneSignal, at: datetime) -> Flag:
    """The flag a signal raises; the message is kept short (the evidence is added per
    answer)."""
    return Flag(signal.kind, at, FLAG_MESSAGES.get(signal.kind, signal.message))
