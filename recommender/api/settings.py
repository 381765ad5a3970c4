"""The API's settings, from the environment (prefix SHOP_), like every other part of the project."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopcore.errors import ShopError
from shopcore.settings import Settings as ShopSettings

# A variant serves either the model `current` points at (and follows it on reload), the
# in-package popularity baseline, or one pinned artifact directory under SHOP_HOME/models.
CURRENT, POPULAR = "current", "popular"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SOURCE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


@dataclass(frozen=True)
class VariantSpec:
    name: str
    source: str  # "current", "popular" or an artifact directory name
    weight: int


def parse_variants(text: str | None) -> tuple[VariantSpec, ...]:
    """``name=source[:weight],...``, e.g. ``control=popular:1,treatment=current:1``.

    Unset or blank: one variant, ``default``, serving the current model.
    """
    if text is None or not text.strip():
        return (VariantSpec("default", CURRENT, 1),)
    specs: list[VariantSpec] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, rest = part.partition("=")
        name, rest = name.strip(), rest.strip()
        source, _, weight_text = rest.partition(":")
        source, weight_text = source.strip(), weight_text.strip() or "1"
        hint = ("Write SHOP_API_VARIANTS as name=source[:weight] pairs separated by commas, e.g. "
                "'control=popular:1,treatment=current:1'; a source is 'current', 'popular' or the "
                "name of a model directory under SHOP_HOME/models.")
        if not sep or not _NAME.match(name) or not _SOURCE.match(source) or source.startswith("."):
            raise ShopError(f"SHOP_API_VARIANTS entry {part!r} is not valid. {hint}")
        try:
            weight = int(weight_text)
        except ValueError:
            raise ShopError(f"SHOP_API_VARIANTS entry {part!r} has a weight that is not a whole number. {hint}") from None
        if not 1 <= weight <= 1000:
            raise ShopError(f"SHOP_API_VARIANTS entry {part!r}: the weight must be from 1 to 1000.")
        if any(s.name == name for s in specs):
            raise ShopError(f"SHOP_API_VARIANTS names the variant {name!r} twice.")
        specs.append(VariantSpec(name, source, weight))
    if not specs:
        return (VariantSpec("default", CURRENT, 1),)
    return tuple(specs)


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_", extra="ignore")

    home: Path = Field(default=Path(".shop"), description="SHOP_HOME: models are read from SHOP_HOME/models.")
    database_url: str | None = Field(default=None, description="External PostgreSQL; unset: the embedded one.")
    database_name: str = Field(default="shop", description="Database on the embedded server.")
    api_variants: str | None = Field(default=None, description="A/B variants: name=source[:weight],...")
    api_key: SecretStr | None = Field(default=None, description="When set, required on POST /events (X-API-Key).")
    api_max_batch: int = Field(default=1000, ge=1, le=100_000, description="Most events in one POST /events.")
    api_max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Largest POST /events body.")
    api_poll_interval_s: float = Field(default=0.25, gt=0, le=60, description="How often new events are read.")
    api_reload_interval_s: float = Field(default=1.0, gt=0, le=3600, description="How often the model pointer is checked.")
    api_catalogue_refresh_s: float = Field(default=60.0, gt=0, description="How often product data is re-read.")
    api_log_flush_interval_s: float = Field(default=1.0, gt=0, le=60, description="How often served recommendations "
                                            "are written (what a crash or kill -9 can lose).")
    # Impressions (raw.served_recommendations): see the README, "Impressions and A/B counting".
    api_impression_window_s: float = Field(default=30.0, ge=0, le=86_400,
                                           description="The same answer to the same user within this long is one "
                                           "impression (logged once); 0: every answer is logged.")
    api_impressions_per_s: float = Field(default=200.0, gt=0, le=1_000_000,
                                         description="Ceiling on impression rows logged per second (per worker); "
                                         "rows over it are dropped and counted in /metrics.")
    api_unknown_impressions_per_s: float = Field(default=20.0, ge=0, le=1_000_000,
                                                 description="Of those, the ceiling for users the API has no history "
                                                 "of (new sign-ups or made-up ids); 0: never logged.")
    api_max_future_skew_s: float = Field(default=300.0, ge=0, description="How far in the future occurred_at may be.")
    # Bounds on every wait, so that no request and no connection is held forever.
    api_statement_timeout_s: float = Field(default=5.0, gt=0, le=3600,
                                           description="Longest a statement of the API may run (PostgreSQL "
                                           "statement_timeout); then 503 busy.")
    api_lock_timeout_s: float = Field(default=1.0, gt=0, le=3600,
                                      description="Longest the API waits for a table lock (lock_timeout); then "
                                      "503 busy, nothing written.")
    api_pool_size: int = Field(default=4, ge=1, le=100, description="Database connections per worker.")
    api_pool_wait_s: float = Field(default=1.0, gt=0, le=60,
                                   description="Longest a request waits for a free connection; then 503 busy.")
    api_body_timeout_s: float = Field(default=10.0, gt=0, le=600,
                                      description="Longest a request body may take to arrive; then 408.")
    api_keep_alive_s: float = Field(default=5.0, gt=0, le=600,
                                    description="An idle keep-alive connection is closed after this long.")

    @field_validator("database_url")
    @classmethod
    def _blank_url_means_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("api_key")
    @classmethod
    def _blank_key_means_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def models_dir(self) -> Path:
        return self.home_dir / "models"

    @cached_property
    def variants(self) -> tuple[VariantSpec, ...]:
        return parse_variants(self.api_variants)

    def shop_settings(self) -> ShopSettings:
        return ShopSettings(home=self.home, database_url=self.database_url, database_name=self.database_name)
