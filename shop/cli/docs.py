"""`shop serve docs`: generate the dbt docs site and serve it over HTTP (default port 8080)."""

from __future__ import annotations

import functools
import http.server
from collections.abc import Callable, Mapping

import typer
from rich.console import Console

from shop import dbt_runner
from shopcore import dbt_artifacts
from shopcore.errors import ShopError

console = Console(highlight=False)


def _database_env() -> Mapping[str, str]:
    from shopcore import db

    return db.ready().env()


def generate(env_provider: Callable[[], Mapping[str, str]] = _database_env) -> dbt_runner.DbtResult:
    with console.status("Generating the dbt docs site (dbt docs generate)..."):
        result = dbt_runner.generate_docs(env_provider())
    if not result.success:
        raise ShopError(
            f"dbt docs generate failed: {result.exception or '; '.join(result.errors) or 'see the dbt log'}. "
            "Run `shop build` first and fix what it reports."
        )
    return result


def serve(directory: str, host: str, port: int) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    try:
        server = http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise ShopError(f"Cannot listen on {host}:{port} ({exc.strerror}). Choose another port with --port.") from exc
    console.print(f"dbt docs: http://{'localhost' if host in ('0.0.0.0', '127.0.0.1') else host}:{port}  (Ctrl-C stops)")
    with server:
        server.serve_forever()


def docs(
    port: int = typer.Option(8080, "--port", "-p", help="HTTP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
    no_generate: bool = typer.Option(False, "--no-generate", help="Serve the last generated site as it is."),
) -> None:
    """Generate the dbt docs site (lineage, descriptions, tests, exposures) and serve it."""
    target = dbt_artifacts.target_dir()
    if not no_generate:
        target = generate().target_dir or target
    if not (target / "index.html").is_file():
        raise ShopError(f"No docs site in {target}: run `shop serve docs` without --no-generate.")
    serve(str(target), host, port)
