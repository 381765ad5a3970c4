"""`shop serve api|dashboard|docs`: the long-running parts, each on its own port."""

from __future__ import annotations

import typer

app = typer.Typer(help="Serve the API (:8000), the dashboard (:8501) or the dbt docs site (:8080).",
                  no_args_is_help=True)


def _register() -> None:
    # Each server's module imports its heavy dependencies only when its command runs.
    from shop.cli import docs, serve_api, serve_dashboard

    app.command("api")(serve_api.serve_api)
    app.command("dashboard")(serve_dashboard.dashboard)
    app.command("docs")(docs.docs)


_register()
