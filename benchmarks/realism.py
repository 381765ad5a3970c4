"""Realism of the simulated shops: each scenario's measured figures next to public data.

    .venv/bin/python benchmarks/realism.py [--scenarios general grocery ...] [--seed 42]

Each scenario's default-sized shop (its preset's accounts, 1,000 products, 120 days ending
2025-12-15), generated in memory and measured by ``simulator.figures`` (de-duplicated on
event_id, as staging does). The last column names the public figure each scenario aims at.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from simulator.batch import EventBatch  # noqa: E402
from simulator.figures import measure  # noqa: E402
from simulator.generate import generate_history  # noqa: E402
from simulator.params import SimulationParams  # noqa: E402
from simulator.scenarios import SCENARIOS  # noqa: E402
from simulator.world import build_world  # noqa: E402

END = datetime(2025, 12, 15, tzinfo=timezone.utc)

# What each scenario aims at, from public data sets (figures as their publishers give them).
PUBLIC = {
    "general": "RetailRocket: 2.76M events / 1.41M visitors (about 2 per visitor), carts 2.6 % of views, "
               "32 % of carts bought; REES46: most visitors one session",
    "grocery": "Instacart: about 10 items per order, 59 % of ordered items re-orders",
    "fashion": "H&M (Kaggle): seasonal assortment, frequent sales; taste (style) drives choice",
    "electronics": "REES46 electronics: high prices, many views per purchase (about 1-2 % of views)",
    "media": "MovieLens: one title seen once per user, no brands, taste is everything",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    console = Console(width=250, highlight=False)
    table = Table(title="Realism per scenario (default-sized shops, 120 days)", title_justify="left")
    columns = ("scenario", "events", "visitors", "events / visitor", "one-session visitors",
               "cohort month 1 / 3", "top 10 % of visitors' events", "top 20 % products' views",
               "views / session", "carts / view", "bought / carted", "lines / order", "re-order lines",
               "mean unit price", "promotion lines", "complement orders", "season lift")
    for c in columns:
        table.add_column(c, justify="left" if c == "scenario" else "right")
    for name in args.scenarios:
        started = time.perf_counter()
        world = build_world(SimulationParams.for_scenario(name, seed=args.seed, end=END))
        f = measure(world, EventBatch.concat(list(generate_history(world))))
        console.print(f"{name}: {f.events:,} events in {time.perf_counter() - started:.1f} s")
        table.add_row(
            name, f"{f.events:,}", f"{f.users_with_events:,}", f"{f.events_per_user:.1f}",
            f"{f.one_session_share:.0%}", f"{f.cohort_month1:.0%} / {f.cohort_month3:.0%}",
            f"{f.top_decile_event_share:.0%}", f"{f.top_fifth_view_share:.0%}", f"{f.views_per_session:.1f}",
            f"{f.cart_per_view:.1%}", f"{f.purchase_per_cart:.0%}", f"{f.lines_per_order:.2f}",
            f"{f.reorder_share:.0%}", f"${f.mean_unit_price:,.2f}", f"{f.promotion_purchase_share:.0%}",
            f"{f.complement_order_share:.0%}", f"{f.season_lift:.2f}",
        )
    console.print(table)
    aims = Table(title="What each scenario aims at", title_justify="left")
    aims.add_column("scenario")
    aims.add_column("public figures")
    for name in args.scenarios:
        aims.add_row(name, PUBLIC[name])
    console.print(aims)
    console.print("Cohort month k: share of a signup month's accounts with a session k calendar months later. "
                  "Season lift: share of views in the product's season / share of products in season.")


if __name__ == "__main__":
    main()
