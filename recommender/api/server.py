"""Serve the recommendation API under uvicorn: what `shop serve api` and `python -m recommender.api` run."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def serve(*, port: int = 8000, workers: int = 1, host: str = "127.0.0.1", access_log: bool = False,
          log_level: str = "info") -> None:
    """Make the database ready (or warn that it is not), then serve until Ctrl-C."""
    # One BLAS thread per worker: requests are small, and threads would fight the event loop.
    # (Set before anything loads numpy's BLAS.)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from recommender.api.settings import ApiSettings
    from shopcore import db
    from shopcore.errors import ShopError

    settings = ApiSettings()
    settings.variants  # noqa: B018 - fail early on a malformed SHOP_API_VARIANTS
    try:
        info = db.ready(settings.shop_settings())  # starts the embedded server, applies migrations
        _say(f"database: {info.url(hide_password=True)}")
    except ShopError as exc:
        _say(f"warning: {exc}\nStarting anyway: /health/ready says 503 until the database is reachable.")
    _say(f"serving on http://{host}:{port} (docs: http://{host}:{port}/docs), {workers} worker(s), "
         f"models from {settings.models_dir}")
    with metrics_directory(workers):
        uvicorn.run(
            "recommender.api.main:create_app", factory=True, host=host, port=port, workers=workers,
            access_log=access_log, log_level=log_level, timeout_graceful_shutdown=10,
            timeout_keep_alive=settings.api_keep_alive_s,  # idle keep-alive connections are closed after this
        )


@contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """Where several workers' metrics meet (PROMETHEUS_MULTIPROC_DIR): the user's directory when
    they set one (left as it is), else a temporary one for this run, removed when serving ends."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers <= 1 or given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="shop-api-metrics-", ignore_cleanup_errors=True) as path:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        try:
            yield path
        finally:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
