"""`shop demo`: the whole product on one machine, from nothing (or from where it stopped) to live.

Set-up (shop.demo_setup: simulate or bring the shop up to now, build, train), then the live part
(shop.live_demo): API, dashboard and docs site, a live stream with closed-loop sessions, and a
refresh loop, until Ctrl-C. A second run resumes on the existing data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from shop.cli.build import build_progress, print_summary
from shop.cli.simulate import (
    IncidentOption,
    Scenario,
    ScenarioOption,
    UsersOption,
    history_progress,
    parse_incidents,
    print_loaded,
)
from shopcore import db as shop_db
from shopcore import embedded
from shopcore.errors import ShopError
from shopcore.settings import get_settings

if TYPE_CHECKING:
    from recommender.evaluation import NotEnoughHistory
    from recommender.training import TrainOutcome
    from shop.dbt_runner import DbtResult, NodeProgress
    from shopcore.db import ConnectionInfo
    from simulator.loader import LoadResult

console = Console(highlight=False)


def demo(
    scenario: ScenarioOption = Scenario.general,
    users: UsersOption = None,
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
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Serve the shop the database holds (e.g. an imported one): "
                                               "build, train if the data allows, serve; simulate nothing "
                                               "(--scenario, --users, --products, --days, --seed and --rate do not apply).")
    ] = False,
    incident: IncidentOption = None,
) -> None:
    """Run the shop live: simulate (or resume), build, train, serve everything, stream until Ctrl-C.

    With --no-stream, nothing is simulated: the shop the database holds is built, trained (or, when
    its history cannot support a model, served by popularity) and served until Ctrl-C."""
    from recommender.api.settings import parse_variants
    from shop.demo_setup import set_up, set_up_existing
    from shop.live_demo import LiveOptions
    from shop.live_demo import run as run_live
    from shop.ports import check_ports_free
    from simulator.runner import make_params

    started = time.monotonic()
    # Everything that can be wrong with the flags fails now, not after minutes of set-up.
    parse_incidents(incident)  # injected into the live stream: START offsets count from when it starts
    if incident and (no_stream or setup_only):
        raise typer.BadParameter("--incident goes into the live stream: it needs neither --no-stream nor --setup-only.",
                                 param_hint="--incident")
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
    if no_stream:
        set_up_existing(info, settings.home_dir, _ConsoleSetup())
    else:
        new_shop = make_params(users=users, products=products, days=days, seed=seed, end=None,
                               scenario=scenario.value)
        set_up(info, settings.home_dir, new_shop, _ConsoleSetup())

    if setup_only:
        _print_where(settings, info)
        return
    options = LiveOptions(
        api_port=api_port, dashboard_port=dashboard_port, docs_port=docs_port, rate=rate,
        refresh_seconds=refresh_seconds, retrain_minutes=retrain_minutes or None, variants=variants, host=host,
        stream=not no_stream, incidents=tuple(incident or ()),
    )
    run_live(settings, info, options, started_at=started, stop_database=not was_running, console=console)


class _ConsoleSetup:
    """The set-up's steps (shop.demo_setup.SetupView), printed as `shop simulate`, `shop build` and
    `shop train` print them."""

    def __init__(self) -> None:
        from shop.cli.reporting import TrainingReport

        self.training = TrainingReport(console)

    def step(self, title: str) -> None:
        console.rule(title)

    def simulating(self) -> AbstractContextManager[Callable[[int | None, int], None]]:
        return history_progress()

    def simulated(self, result: LoadResult | None, info: ConnectionInfo) -> None:
        print_loaded(result, info)

    def building(self) -> AbstractContextManager[Callable[[NodeProgress], None]]:
        return build_progress()

    def built(self, result: DbtResult) -> None:
        print_summary(result)

    def training_without_evaluation(self, reason: NotEnoughHistory) -> None:
        console.print(f"[yellow]{reason}[/] Training the default algorithm without an evaluation.")

    def trained(self, outcome: TrainOutcome) -> None:
        self.training.saved(outcome)

    def not_trained(self, reason: ShopError) -> None:
        console.print(f"[yellow]No model: {reason}[/] The API serves popular products until a retrain succeeds.")


def _print_where(settings, info) -> None:
    from shop.demo_setup import table_sizes

    table = Table(title="Where everything is", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("database", info.url(hide_password=True))
    table.add_row("data directory", str(settings.home_dir / "pgdata") if info.embedded else "external server")
    for name, count in table_sizes(info).items():
        table.add_row(name, f"{count:,} rows")
    table.add_row("models", str(settings.home_dir / "models"))
    table.add_row("go live", ".venv/bin/shop demo   (servers, live stream, refresh loop)")
    table.add_row("psql", ".venv/bin/shop db psql   (or: eval \"$(.venv/bin/shop db env)\" && psql)")
    console.print(table)
