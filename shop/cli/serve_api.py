"""`shop serve api`: the recommendation API under uvicorn."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer
from rich.console import Console

from shop.errors import ShopError

console = Console(highlight=False, stderr=True)


def serve_api(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each loads the model).")] = 1,
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 to accept other machines.")] = "127.0.0.1",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request (slower).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the recommendation API (docs at /docs) until Ctrl-C."""
    # One BLAS thread per worker: requests are small, and threads would fight the event loop.
    # (Set before anything loads numpy's BLAS.)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from recommender.api.settings import ApiSettings
    from shop import db

    settings = ApiSettings()
    settings.variants  # noqa: B018 - fail early on a malformed SHOP_API_VARIANTS
    try:
        info = db.ready(settings.shop_settings())  # starts the embedded server, applies migrations
        console.print(f"database: {info.url(hide_password=True)}")
    except ShopError as exc:
        console.print(f"[yellow]warning:[/] {exc}\nStarting anyway: /health/ready says 503 until the database "
                      "is reachable.")
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="shop-api-metrics-")
    console.print(f"serving on http://{host}:{port} (docs: http://{host}:{port}/docs), {workers} worker(s), "
                  f"models from {settings.models_dir}")
    uvicorn.run(
        "recommender.api.main:create_app", factory=True, host=host, port=port, workers=workers,
        access_log=access_log, log_level=log_level, timeout_graceful_shutdown=10,
    )
