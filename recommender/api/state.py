"""Everything the API serves from, in one object per process, and the background tasks that keep
it fresh: the database supervisor and event tail, the model watcher (hot reload), the product
refresh and the served-recommendation writer.

Handlers read ``ApiState`` attributes once per request and never see a half-made change: a new
model or catalogue is prepared off the event loop and then swapped in with one assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recommender import artifacts
from recommender.api import metrics
from recommender.api.catalogue import CatalogueMissing, ProductCatalogue, load_product_catalogue
from recommender.api.database import Database, DatabaseBusy, DatabaseUnavailable
from recommender.api.fresh import FreshEvents, poll
from recommender.api.live import ProductPoll, ProductRow, current_products
from recommender.api.served_log import RequestIds, ServedLog
from recommender.api.serving import PopularityRecommender, Recommender, ServingModel
from recommender.api.settings import CURRENT, POPULAR, ApiSettings, VariantSpec
from recommender.api.variants import Assigner

log = logging.getLogger("shop.api")

ANSWER_CACHE = 20_000


class AnswerCache:
    """Finished answers by key (the route's inputs), the least recently used dropped past ``size``.

    The one cache of the API: a served model's answer for the same inputs does not change until
    a model or the catalogue does, and then the state starts a new cache (``ApiState._rebuild``).
    """

    def __init__(self, size: int = ANSWER_CACHE) -> None:
        self.size = size
        self._answers: OrderedDict[tuple, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get_or_build(self, key: tuple, build: Callable[[], Any]) -> Any:
        answers = self._answers
        answer = answers.get(key)
        if answer is None:
            answer = answers[key] = build()
            if len(answers) > self.size:
                answers.popitem(last=False)
        else:
            answers.move_to_end(key)
        return answer


@dataclass
class ModelSlot:
    """One model source (``current`` or a pinned directory) and what is loaded from it."""

    source: str
    model: ServingModel | None = None
    loaded_at: datetime | None = None
    error: str | None = "not loaded yet"
    signature: tuple | None = None
    # Serving, but not what was asked for: `current` is broken and another model is served.
    warning: str | None = None


@dataclass
class Recommenders:
    by_variant: dict[str, Recommender] = field(default_factory=dict)
    default: str = "default"


def _signature(models_dir: Path) -> tuple:
    try:
        current = (models_dir / artifacts.CURRENT).read_text().strip()
    except OSError:
        current = None
    try:
        mtime = models_dir.stat().st_mtime_ns
    except OSError:
        mtime = None
    return current, mtime


class ApiState:
    def __init__(self, settings: ApiSettings, database: Database | None = None) -> None:
        self.settings = settings
        self.db = database or Database.for_settings(settings)
        self.catalogue = ProductCatalogue.empty()
        self.catalogue_error: str | None = "not loaded yet"
        self.catalogue_loaded_at: float | None = None
        self.fresh = FreshEvents()
        # The shop's product rows as this worker last read them (the live integration): applied over
        # every catalogue loaded from marts.products, which may be older (see ``apply_products``).
        self.product_poll = ProductPoll()
        self.live_products: dict[int, ProductRow] = {}
        self.request_ids = RequestIds()
        self.served = ServedLog(self.request_ids, window_s=settings.api_impression_window_s,
                                rows_per_s=settings.api_impressions_per_s,
                                unknown_rows_per_s=settings.api_unknown_impressions_per_s)
        self.assigner = Assigner(settings.variants)
        self.slots: dict[str, ModelSlot] = {
            spec.source: ModelSlot(spec.source) for spec in settings.variants if spec.source != POPULAR
        }
        self.popularity = PopularityRecommender(self.catalogue)
        self.recommenders = Recommenders(default=settings.variants[0].name)
        self.answers = AnswerCache()
        self._rebuild()
        self.started_at = time.time()
        self._tasks: list[asyncio.Task] = []
        self._reload_lock = asyncio.Lock()

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        await self.db.connect()
        metrics.DATABASE_UP.set(1 if self.db.up else 0)
        if self.db.up:
            await self.refresh_catalogue()
        await self.reload_models()
        self._rebuild()
        await self.poll_once()
        self._tasks = [
            asyncio.create_task(self._every(self.settings.api_poll_interval_s, self.poll_once), name="poll"),
            asyncio.create_task(self._every(self.settings.api_reload_interval_s, self.reload_models), name="reload"),
            asyncio.create_task(self._every(self.settings.api_catalogue_refresh_s, self.refresh_catalogue),
                                name="catalogue"),
            asyncio.create_task(self._every(self.settings.api_log_flush_interval_s, self.flush_served),
                                name="served-log"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.served.flush(self.db), timeout=5)
        await self.db.close()

    async def _every(self, interval: float, job) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a background job must survive anything
                log.exception("background job %s failed", getattr(job, "__name__", job))

    # ------------------------------------------------------------------ database and events

    async def poll_once(self) -> None:
        if not self.db.up:
            if not await self.db.connect():
                metrics.DATABASE_UP.set(0)
                return
            log.info("database back: refreshing products and events")
            if self.catalogue_error:
                await self.refresh_catalogue()
        metrics.DATABASE_UP.set(1)
        try:
            async with self.db.connection() as conn:
                await poll(conn, self.fresh)
                products = await self.product_poll.read(conn)
        except DatabaseBusy:
            # Busy is not down, unless a connection of our own cannot reach it either.
            if not await self.db.probe():
                metrics.DATABASE_UP.set(0)
            return
        except DatabaseUnavailable:
            metrics.DATABASE_UP.set(0)
            return
        metrics.FRESH_EVENTS.set(len(self.fresh))
        if products:
            self.apply_products(products)

    async def refresh_catalogue(self) -> None:
        try:
            async with self.db.connection() as conn:
                catalogue = await load_product_catalogue(conn)
                shop_rows = await current_products(conn)
        except DatabaseUnavailable as exc:
            if not len(self.catalogue):
                self.catalogue_error = str(exc)
            return
        except CatalogueMissing as exc:
            self.catalogue_error = str(exc)
            return
        if not len(catalogue):
            self.catalogue_error = "marts.products is empty: run `shop simulate` and `shop build`"
            return
        # The marts give the popularity order; each product's attributes are what raw.products holds
        # now, read in the same breath. Rows polled before are not replayed over them: an import
        # dates a product's row by the events it saw (an older updated_at), so a row held from an
        # earlier poll could otherwise undo a change the warehouse already carries. A write newer
        # than everything just read (it landed after the read) stays. (No rows: a warehouse whose
        # staging predates the `active` column; what was polled is all there is.)
        if shop_rows:
            newest = max(r.updated_at for r in shop_rows)
            later = [r for r in self.live_products.values() if r.updated_at > newest]
            self.live_products = {r.product_id: r for r in [*shop_rows, *later]}
        # Every product: prepared off the event loop; rows a poll applied meanwhile are added after.
        held = dict(self.live_products)
        catalogue = await asyncio.to_thread(lambda: catalogue.with_rows(list(held.values())) or catalogue)
        meanwhile = [r for pid, r in self.live_products.items() if held.get(pid) is not r]
        if meanwhile:
            catalogue = catalogue.with_rows(meanwhile) or catalogue
        unchanged = catalogue.fragments == self.catalogue.fragments and catalogue.ranked == self.catalogue.ranked
        self.catalogue_error, self.catalogue_loaded_at = None, time.time()
        if not unchanged:  # keep the cached answers when nothing changed
            self.catalogue = catalogue
            self._rebuild()

    def apply_products(self, rows: list[ProductRow]) -> bool:
        """The shop's newest product rows (a write of this worker, or the poll): the catalogue
        follows them at once (new details served, an inactive product never recommended again) and a
        new answer cache starts. True when the catalogue changed."""
        for row in rows:
            held = self.live_products.get(row.product_id)
            if held is None or row.updated_at >= held.updated_at:
                self.live_products[row.product_id] = row
        if not len(self.catalogue):  # not loaded yet: refresh_catalogue applies them when it is
            return False
        catalogue = self.catalogue.with_rows(self.live_products[r.product_id] for r in rows)
        if catalogue is None:
            return False
        self.catalogue = catalogue
        self._rebuild()
        metrics.CATALOGUE_UPDATES.inc()
        return True

    async def flush_served(self) -> None:
        self.served.forget_old(time.time())
        await self.served.flush(self.db)

    # ------------------------------------------------------------------ models

    async def reload_models(self) -> None:
        """Load what changed on disk (in a thread), then swap it in; a failed load keeps the old model."""
        async with self._reload_lock:
            models_dir = self.settings.models_dir
            signature = _signature(models_dir)
            changed = False
            for slot in self.slots.values():
                if slot.signature == signature:
                    continue
                try:
                    path, warning = await asyncio.to_thread(self._resolve, slot.source, models_dir)
                    warning = self.public(warning)
                    if warning and warning != slot.warning:
                        log.warning("model %s: %s", slot.source, warning)
                    slot.warning = warning
                    if slot.model is None or slot.model.path != path:
                        model = await asyncio.to_thread(lambda p=path: ServingModel(artifacts.load(p), p).prepare())
                        slot.model, slot.loaded_at, changed = model, datetime.now(timezone.utc), True
                        metrics.MODEL_RELOADS.labels("loaded").inc()
                        log.info("serving model %s for %s", model.model_id, slot.source)
                    slot.error = None
                    slot.signature = signature
                except artifacts.NoModelError as exc:
                    slot.error = self.public(str(exc))
                    slot.signature = signature
                except Exception as exc:  # noqa: BLE001 - a bad artifact must not take serving down
                    slot.error = self.public(f"loading the model failed: {type(exc).__name__}: {exc}")
                    slot.signature = signature
                    metrics.MODEL_RELOADS.labels("failed").inc()
                    log.exception("could not load a model for %s", slot.source)
            if changed:
                await self._update_floor()
                self._rebuild()

    @staticmethod
    def _resolve(source: str, models_dir: Path) -> tuple[Path, str | None]:
        if source == CURRENT:
            return artifacts.resolve_current(models_dir)
        path = models_dir / source
        try:
            artifacts.require_card(path)
        except artifacts.NoModelError as exc:
            raise artifacts.NoModelError(f"{exc} (SHOP_API_VARIANTS names it)") from None
        return path, None

    def public(self, text: str | None) -> str | None:
        """``text`` for clients: SHOP_HOME's location replaced by its name."""
        if not text:
            return text
        home = self.settings.home_dir
        for spelling in {str(home), str(self.settings.home.expanduser())}:
            if spelling not in ("", ".", "/"):
                text = text.replace(spelling, "SHOP_HOME")
        return text

    async def _update_floor(self) -> None:
        watermarks = [s.model.watermark_us for s in self.slots.values() if s.model is not None]
        watermarks = [w for w in watermarks if w is not None]
        if self.fresh.set_floor(min(watermarks) if watermarks else None):
            # A model older than what is held: read its newer events before it serves.
            with contextlib.suppress(DatabaseUnavailable):
                async with self.db.connection() as conn:
                    await poll(conn, self.fresh)

    def _rebuild(self) -> None:
        popular = PopularityRecommender(self.catalogue)
        listed_ids = self.catalogue.product_ids()
        for slot in self.slots.values():
            if slot.model is not None:
                slot.model.listed = slot.model.listed_mask(listed_ids) if len(listed_ids) else None
        by_variant: dict[str, Recommender] = {}
        for spec in self.settings.variants:
            slot = self.slots.get(spec.source)
            by_variant[spec.name] = slot.model if slot is not None and slot.model is not None else popular
        self.popularity = popular
        self.recommenders = Recommenders(by_variant, self.settings.variants[0].name)
        self.answers = AnswerCache()  # answers of the previous models or catalogue do not hold

    # ------------------------------------------------------------------ lookups for handlers

    def variant_for(self, user_id: int | None) -> VariantSpec:
        if user_id is None:
            return self.settings.variants[0]
        return self.assigner.assign(user_id)

    def knows(self, user_id: int) -> bool:
        """Whether the API has any history of the user: in a served model's data or with fresh
        events (the same answer for every variant, so that impression logging treats arms alike)."""
        if user_id in self.fresh.by_user:
            return True
        return any(s.model is not None and user_id in s.model.user_row for s in self.slots.values())

    def recommender(self, variant: str) -> Recommender:
        return self.recommenders.by_variant[variant]

    @property
    def current_slot(self) -> ModelSlot | None:
        return self.slots.get(CURRENT)
