"""`shop demo`: the product on one machine, from nothing to a loaded shop, a built warehouse and a
trained model (the live loop with every server running joins in a later step)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from shop import db as shop_db
from shop.errors import ShopError
from shop.settings import get_settings

console = Console(highlight=False)


def demo() -> None:
    """Start the database, simulate a default shop (or bring it up to now), build the warehouse,
    train the recommender, and show where everything is."""
    from shop.cli.build import run_build
    from shop.cli.simulate import simulate
    from shop.cli.train import train
    from simulator import loader

    settings = get_settings()
    info = shop_db.ready(settings)
    with shop_db.connect(info) as conn:
        state = loader.raw_state(conn)
    if state.events:
        console.rule(f"The shop already holds {state.events:,} events: bringing it up to now")
        simulate(append=True)
    else:
        console.rule("Simulating a default shop: 5,000 users, 1,000 products, 120 days")
        simulate()

    console.rule("Building the warehouse (dbt)")
    if not run_build().success:
        raise ShopError("The warehouse build failed (see above); fix it and run `shop demo` again.")

    console.rule("Training the recommender")
    try:
        train()
    except typer.Exit as exc:
        if exc.exit_code:
            raise

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
    table.add_row("dashboard", ".venv/bin/shop serve dashboard   → http://localhost:8501")
    table.add_row("recommendation API", ".venv/bin/shop serve api         → http://localhost:8000/docs")
    table.add_row("dbt docs", ".venv/bin/shop serve docs        → http://localhost:8080")
    table.add_row("psql", ".venv/bin/shop db psql   (or: eval \"$(.venv/bin/shop db env)\" && psql)")
    table.add_row("stop the database", ".venv/bin/shop db stop")
    console.print(table)
