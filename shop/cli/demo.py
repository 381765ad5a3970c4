"""`shop demo`: the whole product on one machine, from nothing (or from where it stopped) to live.

Set-up (simulate or bring the shop up to now, build, train), then the live part
(shop.live_demo): API, dashboard and docs site, a live stream with closed-loop sessions, and a
refresh loop, until Ctrl-C. A second run resumes on the existing data.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shopcore import db as shop_db
from shopcore import embedded
from shopcore.errors import ShopError
from shopcore.settings import get_settings

console = Console(highlight=False)



def demo(
    users: Annotated[int, typer.Option(min=1, max=10_000_000, help="Users of a new shop.")] = 5000,
    products: Annotated[int, typer.Option(min=1, max=1_000_000, help="Products of a new shop.")] = 1000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days of history of a new shop.")] = 120,
    seed: Annotated[int, typer.Option(min=0, help="Seed of a new shop.")] = 42,
    rate: Annotated[float, typer.Option(min=0.1, max=100_000, help="Live events per second.")] = 20.0,
    refresh_seconds: Annotated[
        float, typer.Option(min=1, max=86_400, help="Seconds between incremental warehouse builds.")
    ] = 30.0,
    retrain_minutes: Annotated[
        float, typer.Option(min=0, max=10_080, help="Minutes between retrains (0: never retrain).")
    ] = 10.0,
    variants: Annotated[
        str, typer.Option(help="A/B variants the API serves (SHOP_API_VARIANTS syntax).")
    ] = "popular=popular:1,model=current:1",
    api_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the recommendation API.")] = 8000,
    dashboard_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the dashboard.")] = 8501,
    docs_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the dbt docs site.")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to serve on (0.0.0.0 for other machines).")] = "127.0.0.1",
    setup_only: Annotated[
        bool, typer.Option("--setup-only", help="Simulate, build and train, then exit without going live.")
    ] = False,
) -> None:
    """Run the shop live: simulate (or resume), build, train, serve everything, stream until Ctrl-C."""
    from recommender.api.settings import parse_variants
    from shop.cli.build import run_build
    from shop.cli.simulate import simulate
    from shop.cli.train import train
    from shop.live_demo import LiveOptions
    from shop.live_demo import run as run_live
    from shop.ports import check_ports_free
    from simulator import loader

    started = time.monotonic()
    # Everything that can be wrong with the flags fails now, not after minutes of set-up.
    try:
        parse_variants(variants)
    except ShopError as exc:
        raise typer.BadParameter(str(exc).replace("SHOP_API_VARIANTS", "--variants"), param_hint="--variants") from None
    if len({api_port, dashboard_port, docs_port}) < 3:
        raise typer.BadParameter("--api-port, --dashboard-port and --docs-port must differ.", param_hint="--api-port")
    if not setup_only:
        check_ports_free(host, {"--api-port": api_port, "--dashboard-port": dashboard_port, "--docs-port": docs_port})
    settings = get_settings()
    was_running = settings.database_url is not None or embedded.status(settings.home_dir).running
    info = shop_db.ready(settings)
    with shop_db.connect(info) as conn:
        state = loader.raw_state(conn)
    if state.events:
        console.rule(f"The shop already holds {state.events:,} events: bringing it up to now")
        simulate(append=True)
    else:
        console.rule(f"Simulating a shop: {users:,} users, {products:,} products, {days} days")
        simulate(users=users, products=products, days=days, seed=seed)

    console.rule("Building the warehouse (dbt)")
    if not run_build().success:
        raise ShopError("The warehouse build failed (see above); fix it and run `shop demo` again.")

    console.rule("Training the recommender")
    try:
        train()
    except typer.Exit as exc:
        if exc.exit_code:
            raise
    except ShopError as exc:
        if "Cannot evaluate" not in str(exc):
            raise
        # A shop too short for a validation and a test window: train the default without them.
        console.print(f"[yellow]{exc}[/] Training the default algorithm without an evaluation.")
        train(evaluate_first=False)

    if setup_only:
        _print_where(settings, info)
        return
    options = LiveOptions(
        api_port=api_port, dashboard_port=dashboard_port, docs_port=docs_port, rate=rate,
        refresh_seconds=refresh_seconds, retrain_minutes=retrain_minutes or None, variants=variants, host=host,
    )
    run_live(settings, info, options, started_at=started, stop_database=not was_running, console=console)


def _print_where(settings, info) -> None:
    with shop_db.connect(info) as conn:
        counts = {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # fixed table names
            for table in ("raw.interactions", "marts.orders", "marts.user_item_interactions")
        }
    table = Table(title="Where everything is", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("database", info.url(hide_password=True))
    table.add_row("data directory", str(settings.home_dir / "pgdata") if info.embedded else "external server")
    for name, count in counts.items():
        table.add_row(name, f"{count:,} rows")
    table.add_row("models", str(settings.home_dir / "models"))
    table.add_row("go live", ".venv/bin/shop demo   (servers, live stream, refresh loop)")
    table.add_row("psql", ".venv/bin/shop db psql   (or: eval \"$(.venv/bin/shop db env)\" && psql)")
    console.print(table)
