"""`shop serve api`: the recommendation API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve_api(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each loads the model).")] = 1,
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 to accept other machines.")] = "127.0.0.1",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request (slower).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the recommendation API (docs at /docs) until Ctrl-C."""
    from recommender.api.server import serve

    serve(port=port, workers=workers, host=host, access_log=access_log, log_level=log_level)
