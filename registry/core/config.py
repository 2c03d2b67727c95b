"""The one settings object, read from `REGISTRY_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_KEY_PASSPHRASE = "development-only-passphrase"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./registry.db"
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    key_passphrase: str = DEV_KEY_PASSPHRASE
    scan_alert_threshold: int = 50
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
    # Seconds an unacknowledged task waits before Redis hands it to another worker; longer
    # than the longest job (a worker killed mid-job is retried after this).
    task_visibility_timeout: int = 3600
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
    log_level: str = "INFO"
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
        if self.environment == "production" and self.key_passphrase == DEV_KEY_PASSPHRASE:
            raise ValueError(
                "REGISTRY_KEY_PASSPHRASE must be set in production "
                "(the development passphrase is refused)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
