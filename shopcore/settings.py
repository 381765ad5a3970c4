"""Settings from the environment (prefix SHOP_), shared by every part of the project."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_", extra="ignore")

    home: Path = Field(
        default=Path(".shop"),
        description="Where the embedded database, logs, dbt output and models live.",
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql:// URL of an external server; unset means the embedded one.",
    )
    database_name: str = Field(
        default="shop",
        description="Database created and used on the embedded server.",
    )

    @field_validator("database_url")
    @classmethod
    def _blank_url_means_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
