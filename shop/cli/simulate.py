"""`shop simulate`: a history of the shop loaded in one transaction, or a live stream of events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from shopcore import db as shop_db
from simulator.scenarios import SCENARIOS

if TYPE_CHECKING:
    from shopcore.db import ConnectionInfo
    from simulator.loader import LoadResult

console = Console(highlight=False)


Scenario = Enum("Scenario", {name: name for name in SCENARIOS}, type=str)  # type: ignore[misc]
# The options that choose a new shop's kind and size, shared with `shop demo`.
ScenarioOption = Annotated[
    Scenario, typer.Option(help="The kind of shop: a catalogue and behaviour preset (see the README).")
]
UsersOption = Annotated[
    int | None,
    typer.Option(min=1, max=10_000_000, show_default=False,
                 help="Accounts in the shop (visitors and customers). Default: the scenario's (40,000 for general)."),
]


IncidentOption = Annotated[
    list[str] | None,
    typer.Option(
        "--incident",
        metavar="SPEC",
        help="Inject an incident (repeatable): KIND[:START[:DURATION]][,key=value...]. Kinds: tracking-outage, "
             "duplicate-storm, late-burst, price-bug, checkout-break, bot-traffic. START: an ISO time or an offset "
             "from the window's start (+30d); DURATION: 6h, 2d. E.g. price-bug:+30d:2d,category=Books "
             "(the README's \"Incidents on demand\"). Recorded in truth.incidents.",
        show_default=False,
    ),
]


def parse_incidents(specs: list[str] | None) -> list:
    """The --incident specs as simulator.incidents.Incident, or a clear BadParameter."""
    from simulator.incidents import IncidentError, parse_incident

    try:
        return [parse_incident(spec) for spec in specs or []]
    except IncidentError as exc:
        raise typer.BadParameter(str(exc), param_hint="--incident") from None


class OutputFormat(str, Enum):
    postgres = "postgres"
    parquet = "parquet"


def _positive_rate(value: float | None) -> float | None:
    if value is not None and not (0 < value <= 100_000):
        raise typer.BadParameter("must be more than 0 and at most 100000 events per second")
    return value


def _parse_end(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2025-12-15 or 2025-12-15T08:00)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def simulate(
    scenario: ScenarioOption = Scenario.general,
    users: UsersOption = None,
    products: Annotated[int, typer.Option(min=1, max=1_000_000, help="Products in the catalogue.")] = 1000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days of history, ending at --end.")] = 120,
    seed: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Random seed: same seed, same shop.")] = 42,
    end: Annotated[
        str | None,
        typer.Option(callback=lambda v: _parse_end(v) and v,
                     help="End of the history window (ISO date-time, UTC if no offset). Default: now."),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Drop the simulated raw and truth data first, in the same transaction (with --format parquet: replace the files under --out).")] = False,
    append: Annotated[bool, typer.Option("--append", help="Continue the existing shop from its last event up to --end.")] = False,
    live: Annotated[bool, typer.Option("--live", help="Stream events now-timestamped until Ctrl-C.")] = False,
    rate: Annotated[
        float | None, typer.Option(callback=_positive_rate, help="With --live: events per second (default 20).")
    ] = None,
    recommendations_api: Annotated[
        str | None,
        typer.Option(help="With --live: the recommendation API's base URL (e.g. http://127.0.0.1:8000). A share of "
                          "the sessions then starts from its recommendations, tagged with the variant that served them."),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="postgres: load the raw tables into the database. parquet: write them as "
                                      "Parquet files under --out (for the dbt project's spark target)."),
    ] = OutputFormat.postgres,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="With --format parquet: the directory to write (one sub-directory per raw table)."),
    ] = None,
    incident: IncidentOption = None,
) -> None:
    """Simulate the shop: history (default) or a live stream (--live)."""
    from simulator import runner
    from simulator.incidents import IncidentError

    end_at = _parse_end(end)
    incidents = parse_incidents(incident)
    if reset and append:
        raise typer.BadParameter("--reset and --append exclude each other: pick one.", param_hint="--reset/--append")
    if output_format is OutputFormat.parquet:
        if out is None:
            raise typer.BadParameter("--format parquet writes files: give the directory with --out DIR.", param_hint="--out")
        if live or append:
            raise typer.BadParameter(
                "--format parquet writes a whole history: --live and --append need --format postgres.",
                param_hint="--format",
            )
        if incidents:
            raise typer.BadParameter("--incident records its truth in the database: it needs --format postgres.",
                                     param_hint="--incident")
    elif out is not None:
        raise typer.BadParameter("--out only applies to --format parquet.", param_hint="--out")
    if rate is not None and not live:
        raise typer.BadParameter("--rate only applies to --live.", param_hint="--rate")
    if recommendations_api is not None:
        if not live:
            raise typer.BadParameter("--recommendations-api only applies to --live.", param_hint="--recommendations-api")
        if not recommendations_api.startswith(("http://", "https://")):
            raise typer.BadParameter(f"{recommendations_api!r} is not an http:// or https:// URL.",
                                     param_hint="--recommendations-api")
    if live and (append or end is not None):
        raise typer.BadParameter("--live streams from now: it takes no --append or --end.", param_hint="--live")
    try:
        params = runner.make_params(users=users, products=products, days=days, seed=seed, end=end_at,
                                    scenario=scenario.value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    if output_format is OutputFormat.parquet:
        _simulate_parquet(out, params, reset=reset)
        return

    info = shop_db.ready()
    try:
        if live:
            runner.stream_live(info, params, rate=rate or 20.0, reset=reset, recommendations_api=recommendations_api,
                               console=console, incidents=incidents)
            return
        with history_progress() as on_day:
            result = runner.run_history(info, params, reset=reset, append=append, on_day=on_day, incidents=incidents)
    except IncidentError as exc:
        # It does not fit the window or the shop: found before anything was written.
        raise typer.BadParameter(str(exc), param_hint="--incident") from None
    print_loaded(result, info)


def print_loaded(result: LoadResult | None, info: ConnectionInfo) -> None:
    """What a history load added (None: nothing was left to add) and where the database is."""
    if result is None:
        console.print("Nothing to add: the shop is already simulated up to the requested end.")
        return
    rate_text = f"{result.events / result.seconds:,.0f} events/s" if result.seconds > 0 else ""
    console.print(
        f"Loaded {result.events:,} events, {result.users:,} users and {result.products:,} products "
        f"({result.window_start:%Y-%m-%d %H:%M} to {result.window_end:%Y-%m-%d %H:%M} UTC) "
        f"in {result.seconds:.1f} s {rate_text}"
    )
    for inc in result.incidents:
        where = f" in {inc.category}" if inc.category else ""
        console.print(f"Injected {inc.kind}{where} from {inc.starts_at:%Y-%m-%d %H:%M} to {inc.ends_at:%Y-%m-%d %H:%M} UTC: "
                      f"{inc.rows_affected:,} rows affected (truth.incidents)")
    console.print(f"Database: {info.url(hide_password=True)}  (psql: `shop db psql`; exports: `eval \"$(shop db env)\"`)")


@contextmanager
def history_progress() -> Iterator[Callable[[int | None, int], None]]:
    """A live bar of the simulated days; yields runner.run_history's on_day callback."""
    with _day_progress() as (progress, task):

        def on_day(day_total: int | None, events: int) -> None:
            progress.update(task, total=day_total, advance=1, events=events)

        yield on_day


def _simulate_parquet(out: Path, params, *, reset: bool) -> None:
    """The same history as a database load, written as Parquet files (no database involved)."""
    from simulator import parquet

    parquet.check_out_dir(out, reset=reset)  # refuse before any work
    with _day_progress() as (progress, task):

        def on_batch(batch, events: int) -> None:
            progress.update(task, advance=1, events=events)

        result = parquet.simulate_history(out, params, reset=reset, on_batch=on_batch)
    console.print(
        f"Wrote {result.events:,} events, {result.users:,} users and {result.products:,} products "
        f"({params.start:%Y-%m-%d %H:%M} to {params.end:%Y-%m-%d %H:%M} UTC) as Parquet to {result.out} "
        f"in {result.seconds:.1f} s"
    )


@contextmanager
def _day_progress() -> Iterator[tuple[Progress, TaskID]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[events]:>12,} events"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("simulating days", total=None, events=0)
        yield progress, task
