"""`shop demo`: the product on one machine, from nothing to a loaded shop (more parts join later)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from shop import db as shop_db
from shop.settings import get_settings

console = Console(highlight=False)


def demo() -> None:
    """Start the database, simulate a default shop (or bring an existing one up to now), show where it is."""
    from shop.cli.simulate import simulate
    from simulator import loader

    settings = get_settings()
    info = shop_db.ready(settings)
    with shop_db.connect(info) as conn:
        state = loader.raw_state(conn)
    if state.events:
        console.print(f"The shop already holds {state.events:,} events: bringing it up to now.")
        simulate(append=True)
    else:
        console.print("Simulating a default shop: 5,000 users, 1,000 products, 120 days of history.")
        simulate()

    with shop_db.connect(info) as conn:
        counts = {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # fixed table names
            for table in ("raw.users", "raw.products", "raw.interactions")
        }
    table = Table(title="Where the data is", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("database", info.url(hide_password=True))
    table.add_row("data directory", str(settings.home_dir / "pgdata") if info.embedded else "external server")
    for name, count in counts.items():
        table.add_row(name, f"{count:,} rows")
    table.add_row("psql", ".venv/bin/shop db psql")
    table.add_row("shell exports", 'eval "$(.venv/bin/shop db env)"')
    table.add_row("stop the server", ".venv/bin/shop db stop")
    console.print(table)
