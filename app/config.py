"""Settings, read once from `EPU_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EPU_", extra="ignore")

    data_dir: Path = Path("./data")
    """Where the embedded SQLite database and the local token issuer's key live."""

    database_url: str | None = None
    """SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Unset: SQLite in data_dir."""

    public_base_url: str = "http://127.0.0.1:8000"
    """The gateway's address as clients see it: used in Bundle fullUrls and document links."""

    auth_issuer: str = "epu-gateway-local"
    auth_audience: str = "epu-gateway"
    auth_jwks_url: str | None = None
    """JWKS of an external issuer (the national IdP or the operator's). Unset: the local issuer."""
    auth_leeway_seconds: int = 30
    auth_jwks_refresh_cooldown_seconds: float = 30
    """After a JWKS fetch, a token naming an unknown key waits this long before forcing another
    fetch, so that made-up key ids cannot hammer the issuer."""

    prescription_validity_days: int = 365
    max_json_bytes: int = 1_000_000
    max_image_bytes: int = 10_000_000
    max_image_pixels: int = 40_000_000

    retention_days: int = 90
    """`epu purge` removes closed (completed, cancelled, expired) prescriptions untouched longer."""

    failed_lookup_limit: int = 20
    failed_lookup_window_seconds: int = 600
    redis_url: str | None = None
    """Redis for the rate-limit counters. Unset: failed look-ups are counted in the database."""
    redis_key_prefix: str = "epu:"
    token_request_budget_per_minute: int = 600

    terminology_refresh_seconds: float = 30
    """How often an instance checks the database for a newly imported terminology release."""

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'epu.sqlite3').resolve()}"

    @property
    def uses_local_issuer(self) -> bool:
        return self.auth_jwks_url is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
