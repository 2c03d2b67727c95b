"""The one settings object, read from `REGISTRY_*` environment variables."""

from __future__ import annotations

import ipaddress
from functools import cached_property, lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1, ::1` -> networks; ValueError names an unparsable entry."""
    networks: list[Network] = []
    for part in text.replace(";", ",").split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {entry!r}") from exc
    return tuple(networks)


DEV_KEY_PASSPHRASE = "development-only-passphrase"
# Label keys are encrypted under the passphrase; production wants one that resists guessing.
MIN_PRODUCTION_PASSPHRASE = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./registry.db"
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    key_passphrase: str = DEV_KEY_PASSPHRASE
    # Distinct devices that may scan one code before it is flagged as copied (a brand's own
    # `scan_alert_threshold` wins); see docs/clone-detection.md for why 4.
    scan_alert_threshold: int = Field(default=4, ge=1)
    # Optional MaxMind-format city database (GeoLite2-City, DB-IP, ...): locates scans by
    # the client's address when the page sends no location. Unset: no GeoIP.
    geoip_db: str | None = None
    # Per-code device sets: Redis keys under this prefix (with Redis), kept this many days
    # after a code's last scan; without Redis, at most `device_memory_codes` codes in memory.
    device_key_prefix: str = "registry:devices:"
    device_retention_days: int = Field(default=400, ge=1)
    device_memory_codes: int = Field(default=500_000, ge=1)
    # Fastest plausible ground travel between two scans of one code, in km/h.
    max_travel_kmh: float = 900.0
    # Scans closer than this are never "impossible travel": locations are coarse (0.1 degree
    # cells, up to ~16 km apart for neighbouring cells) and clocks of phones drift.
    min_travel_km: float = 50.0
    # A consumer scan of a batch not yet shipped or sold always raises an alert; this also
    # makes its verdict `suspicious` (DESIGN: genuine means no clone signal). A registry
    # whose producers check print runs by scanning them may turn it off: alert only.
    unshipped_scans_suspicious: bool = True
    # Off: consumer scans are still counted in verdicts but not recorded (an operator's
    # switch under a flood of scans; also the baseline of the verify benchmark).
    record_scans: bool = True
    # Verification caches keys, lots and scan counters in each process (registry/verify/
    # cache.py). Changes are seen at once through Redis, or in-process without it; this
    # bounds everything else (other processes without Redis, raw SQL, others' scan counts).
    # 0 turns the cache off.
    verify_cache_ttl: float = Field(default=5.0, ge=0)
    # Celery and the scan stream (used only when redis_url is set).
    task_queue: str = "registry"
    # The Celery app whose tasks run in-process when no broker is set (`module:attribute`).
    task_app: str = "workers.app:celery_app"
    # Seconds an unacknowledged task waits before Redis hands it to another worker; longer
    # than the longest task (a label sheet runs in chunks of seconds each), and what a job
    # of a killed worker waits before another worker resumes it (plus <= 10 s).
    task_visibility_timeout: int = 60
    scan_stream: str = "registry:scans"
    scan_stream_maxlen: int = 1_000_000
    scan_drain_interval: float = 1.0  # seconds between beat-scheduled drains
    scan_drain_batch: int = 2000  # stream entries written per transaction
    # Periodic chain audit of batches changed in the last `audit_window_minutes`.
    audit_interval: float = 300.0
    audit_window_minutes: int = 60
    # Job results (label sheet PDFs) on disk, deleted this long after the job finished.
    job_output_dir: str = "./registry-jobs"
    job_result_ttl_hours: float = 72.0
    job_expiry_interval: float = 3600.0
    # How often the beat looks for jobs whose message could not be sent (Redis unreachable
    # when they were asked for) and sends them: the longest such a job waits once it is back.
    job_resend_interval: float = Field(default=10.0, gt=0)
    log_level: str = "INFO"
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses or
    # networks, e.g. "10.0.0.0/8, 127.0.0.1"). Empty: the socket peer is the client.
    trusted_proxies: str = ""
    # Request bodies (registry/core/bounds.py): refused with 413 before they are parsed.
    # Bulk verify and sync have their own limits, derived from their item counts.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_json_depth: int = Field(default=32, ge=4, le=200)
    # JSON values (array items and object members) in a body: what its parse, on the event
    # loop, costs (10,000 small objects: about 1 ms). Sync takes 5 times more (its items).
    max_json_values: int = Field(default=10_000, ge=100)
    # Requests other than writes that run at once on the event loop; the others wait their
    # turn outside the loop's queue, so a write's turns on the loop stay short (issue 15).
    concurrent_reads: int = Field(default=8, ge=1, le=1024)
    # Rate limits (registry/core/ratelimit.py), in the `limits` library's notation. Public
    # requests count per client address (per key when a valid API key is sent); writes per
    # API key (per address without a valid key); a platform's key gets `factor` times more.
    rate_limits: bool = True
    rate_limit_public: str = "120/minute"
    rate_limit_writes: str = "600/minute"
    rate_limit_platform_factor: int = Field(default=10, ge=1)
    rate_limit_prefix: str = "registry-rl"  # Redis key prefix of the counters

    @field_validator("rate_limit_public", "rate_limit_writes")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        from limits import parse as parse_rate_limit  # ~40 ms to import; set values only

        parse_rate_limit(value)  # ValueError names the notation it could not read
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @cached_property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    # A write route's API-key check is remembered per process for this long: a revoked key
    # (or one whose organization changed) keeps writing for at most this many seconds in a
    # process that has just seen it. 0: every write reads the key.
    api_key_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    # The transparency log (registry/log/). Off only to measure what it costs (benchmarks):
    # events are then neither queued nor integrated, and the audit reports them missing.
    log_enabled: bool = True
    # The log's name in checkpoints and its key; default: the public URL's host + "/log".
    log_origin: str | None = None
    # Seconds between checkpoint publications (Celery beat, or a thread without Redis).
    checkpoint_interval: float = Field(default=5.0, gt=0)
    # Without Redis, each API process publishes checkpoints on a thread (off in tests, which
    # publish explicitly).
    publish_checkpoints: bool = True
    # An event's event_time (and a harvest's harvest_date) may lie at most this far in the
    # future: phones' clocks drift by minutes, not months (a later date would borrow next
    # year's quota).
    future_tolerance_seconds: float = Field(default=300.0, ge=0)
    # Audit exports of more events than this become a worker job (202, poll the job) instead
    # of one streamed answer, so no request runs for minutes.
    audit_export_inline_max: int = Field(default=200_000, ge=0)
    # The cooperative console (registry/console/): how long a sign-in lasts (members may
    # stay offline for days and still sync their outbox), and how many failed sign-ins
    # (the `limits` library's notation) a username or a client address gets before a pause.
    console_session_days: float = Field(default=30.0, gt=0)
    console_signin_limit: str = "5/15minutes"
    console_signin_limit_per_address: str = "30/15minutes"
    # Where failed sign-ins are counted: `memory://` or a Redis URL (default: redis_url,
    # else memory, which counts per process).
    console_limits_url: str | None = None
    # Argon2id cost of member passwords; the defaults are argon2-cffi's (RFC 9106's
    # low-memory profile). Lower only where sign-ins must be cheap (tests): the OWASP
    # floor is 19 MiB, 2 passes.
    console_password_memory_kib: int = Field(default=65536, ge=8192)
    console_password_time_cost: int = Field(default=3, ge=1)
    console_password_parallelism: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        """Production refuses the development passphrase, a short one, and label URLs
        that are not https (every problem named, one sentence each)."""
        if self.environment != "production":
            return self
        problems = []
        if self.key_passphrase == DEV_KEY_PASSPHRASE:
            problems.append(
                "REGISTRY_KEY_PASSPHRASE must be set in production "
                "(the development passphrase is refused)"
            )
        elif len(self.key_passphrase) < MIN_PRODUCTION_PASSPHRASE:
            problems.append(
                f"REGISTRY_KEY_PASSPHRASE is too short for production: use at least "
                f"{MIN_PRODUCTION_PASSPHRASE} characters"
            )
        if not self.public_url.startswith("https://"):
            problems.append(
                "REGISTRY_PUBLIC_URL must be an https:// URL in production "
                f"(labels printed with {self.public_url.split('://')[0]}:// cannot be trusted)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def log_name(self) -> str:
        """The log's origin line (also its key's name): no scheme, no '+' or spaces."""
        if self.log_origin:
            return self.log_origin
        host = self.public_url.split("://", 1)[-1].rstrip("/")
        return f"{host}/log"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
