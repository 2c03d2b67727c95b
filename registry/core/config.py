"""The one settings object, read from `REGISTRY_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import model_validator
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
    log_level: str = "INFO"

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
