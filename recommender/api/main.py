"""The FastAPI application: ``create_app()`` (uvicorn runs it as a factory)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from recommender.api.database import DatabaseBusy, DatabaseUnavailable
from recommender.api.events import EventsRejected, json_safe
from recommender.api.metrics import MetricsMiddleware
from recommender.api.routes import events, health, live, metrics, model, products, recommendations
from recommender.api.schemas import EventIn
from recommender.api.settings import ApiSettings
from recommender.api.state import ApiState

log = logging.getLogger("shop.api")

UNAVAILABLE_RETRY_S = 5  # Retry-After when the database is down
BUSY_RETRY_S = 1  # ... and when it is up but busy

DESCRIPTION = """
Recommendations for the shop's storefront, served from memory: personalised products folding in
each user's newest events, similar and popular products, event collection into `raw.interactions`,
health, the model card and Prometheus metrics; the shop's products and users as they change (the live
integration: `PUT /products/{id}`, `POST /products`, `PUT /users/{id}`).
"""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    settings.variants  # noqa: B018 - a malformed SHOP_API_VARIANTS fails here, with its message

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What the imports made (the framework, numpy, psycopg, ...: some 100,000 objects) lives as
        # long as the process: move it out of the garbage collector's view, so that a full
        # collection under load scans what the service allocates instead of pausing every request
        # for tens of milliseconds. Models are loaded after this, so replaced ones are collected.
        gc.collect()
        gc.freeze()
        state = ApiState(settings)
        await state.start()
        app.state.api = state
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(title="Shop recommendations API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(MetricsMiddleware)
    app.include_router(recommendations.router)
    app.include_router(products.router)
    app.include_router(events.make_router(settings.api_max_batch))
    app.include_router(live.make_router(settings.api_max_batch))
    app.include_router(health.router)
    app.include_router(model.router)
    app.include_router(metrics.router)

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": f"{exc}; nothing was written, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(UNAVAILABLE_RETRY_S)},
        )

    @app.exception_handler(DatabaseBusy)  # the more specific class: Starlette looks handlers up by MRO
    async def database_busy(request: Request, exc: DatabaseBusy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(BUSY_RETRY_S)})

    @app.exception_handler(EventsRejected)
    async def events_rejected(request: Request, exc: EventsRejected) -> JSONResponse:
        return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors))}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (EventIn, *live.SCHEMAS):  # request bodies the routes read themselves
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
