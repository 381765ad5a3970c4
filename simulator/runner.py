"""What `shop simulate` does: decide the window and the world, then load history or stream live.

History goes in one transaction (simulator.loader); live mode commits one small transaction per
batch, so the warehouse and the API see events within a second or two.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
from rich.console import Console

from shopcore import db as shop_db
from shopcore.db import ConnectionInfo
from shopcore.errors import ShopError
from shopcore.timeunits import US_PER_DAY
from simulator import loader
from simulator.closed_loop import ApiRecommendations, ClosedLoop, Served
from simulator.incidents import Incident
from simulator.injection import Injector
from simulator.generate import (
    ROWS_PER_MEAN_VIEW,
    expected_events_per_second,
    generate_history,
    generate_window,
    new_state,
)
from simulator.params import SimulationParams
from simulator.world import World, build_world

_WARM_UP = timedelta(minutes=30)
_NEWCOMER_SHARE = 0.5
_WARM_UP_EVENTS = 300_000


def make_params(
    *, users: int | None, products: int, days: int, seed: int, end: datetime | None,
    scenario: str = "general",
) -> SimulationParams:
    """Parameters of a new shop: the scenario's preset, with these values over it (``users``
    None keeps the preset's number of accounts)."""
    kwargs = {"products": products, "days": days, "seed": seed}
    if users is not None:
        kwargs["users"] = users
    if end is not None:
        kwargs["end"] = end
    return SimulationParams.for_scenario(scenario, **kwargs)


def params_from_json(values: dict) -> SimulationParams:
    """The parameters recorded in truth.simulation_runs, back as SimulationParams."""
    values = dict(values)
    values["end"] = datetime.fromisoformat(values["end"])
    if "max_lateness" in values:
        values["max_lateness"] = timedelta(seconds=float(values["max_lateness"]))
    known = SimulationParams.__dataclass_fields__
    return SimulationParams(**{k: v for k, v in values.items() if k in known})


def _day_count(start: datetime, end: datetime) -> int:
    first = math.floor(start.timestamp() * 1e6) // US_PER_DAY
    last = (math.ceil(end.timestamp() * 1e6) - 1) // US_PER_DAY
    return max(0, last - first + 1)


def _signups_per_day(world: World) -> float:
    """The signup rate at the end of the world's window (its last 30 days), for appended windows."""
    end_us = int(world.params.end.timestamp() * 1e6)
    recent = np.count_nonzero(world.users.signup_us >= end_us - 30 * US_PER_DAY)
    return recent / 30.0


def _add_users(world: World, times: list[datetime]) -> np.ndarray:
    """Sign up new users one by one, each drawn from a generator keyed by (seed, user id), so
    that replaying the same ids and signup times rebuilds exactly the same users."""
    ids = []
    for moment in times:
        next_id = world.n_users + 1
        rng = np.random.default_rng([world.params.seed, next_id])
        ids.extend(world.add_users(1, [moment], rng).tolist())
    return np.array(ids, dtype=np.int64)


def restore_world(conn, parameters: dict) -> World:
    """The world of a recorded run, including the users that appends and live streams added
    after it was built (replayed in id order: same ids, same tastes, same names)."""
    world = build_world(params_from_json(parameters))
    later = conn.execute(
        "select user_id, signup_at from raw.users where user_id > %s order by user_id", (world.n_users,)
    ).fetchall()
    for user_id, signup_at in later:
        if user_id != world.n_users + 1:
            raise ShopError(
                f"raw.users has a gap before user {user_id}: it was not written by this simulator. "
                "Run `shop simulate --reset` to start a new shop."
            )
        _add_users(world, [signup_at])
    return world


def run_history(
    info: ConnectionInfo,
    params: SimulationParams,
    *,
    reset: bool = False,
    append: bool = False,
    on_day: Callable[[int, int], None] | None = None,
    incidents: Sequence[Incident] = (),
) -> loader.LoadResult | None:
    """Simulate and load a window of history; None when --append finds nothing left to add.

    ``incidents`` are injected into the window's rows and recorded in truth.incidents in the same
    transaction; one that does not fit the window raises IncidentError before anything is written."""
    now = datetime.now(timezone.utc)
    with shop_db.connect(info, autocommit=True) as conn:
        state = loader.raw_state(conn)
        if append:
            if state.last_run is None:
                raise ShopError("There is no simulated shop to append to. Run `shop simulate` first.")
            world = restore_world(conn, state.last_run["parameters"])
            start = max(filter(None, [state.last_occurred_at, state.last_run["window_end"]]))
            end = min(params.end, now)
            if end <= start:
                return None
            days = (end - start).total_seconds() / 86_400
            rng = np.random.default_rng([world.params.seed, int(start.timestamp())])
            n_new = int(rng.poisson(_signups_per_day(world) * days))
            offsets = np.sort(rng.uniform(0, (end - start).total_seconds(), n_new))
            times = [start + timedelta(seconds=float(s)) for s in offsets]
            new_ids = _add_users(world, times)
            mode = "append"
        else:
            if state.events and not reset:
                last = state.last_occurred_at
                raise ShopError(
                    f"raw.interactions already holds {state.events:,} events (the last at {last:%Y-%m-%d %H:%M} UTC). "
                    "Run `shop simulate --append` to continue the shop from there, or `shop simulate --reset` "
                    "to drop the simulated data and start anew."
                )
            if (state.users or state.products) and not reset:
                raise ShopError(
                    f"raw.users or raw.products already hold rows ({state.users:,} users, {state.products:,} "
                    "products). Run `shop simulate --reset` to replace them."
                )
            if params.end > now:
                raise ShopError(
                    f"--end {params.end:%Y-%m-%d %H:%M} UTC is in the future: history ends at or before now. "
                    "Use `shop simulate --live` to stream events as they happen."
                )
            world = build_world(params)
            start, end = params.start, params.end
            new_ids = None
            mode = "history"

        total_days = _day_count(start, end)

        def counted(batch, events: int) -> None:
            if on_day is not None:
                on_day(total_days, events)

        # This load happens at `end` in the shop's time: no row it writes arrived after that. (Rows
        # "arriving" later, past a history ending before now, would sit beyond the warehouse's
        # watermark, and a later --append's rows behind it, where an incremental build skips them.)
        batches = generate_history(world, start, end, state=new_state(world), max_loaded_at=min(end, now))
        injector = Injector.for_window(world, incidents, window_start=start, window_end=end, cap=min(end, now))
        if injector is not None:
            batches = injector.inject_history(batches)
        result = loader.load_history(
            conn,
            world,
            batches,
            mode=mode,
            window_start=start,
            window_end=end,
            reset=reset,
            new_user_ids=new_ids,
            on_batch=counted,
            in_transaction=injector.record if injector is not None else None,
        )
        return dataclasses.replace(result, incidents=tuple(injector.injected)) if injector is not None else result


def stream_live(
    info: ConnectionInfo,
    params: SimulationParams,
    *,
    rate: float,
    reset: bool = False,
    recommendations_api: str | None = None,
    console: Console | None = None,
    incidents: Sequence[Incident] = (),
) -> int:
    """`shop simulate --live`: run_live, with the sessions' recommendations asked from the API at
    `recommendations_api` (a base URL) when one is given; returns the events written."""
    source = ApiRecommendations(recommendations_api) if recommendations_api else None
    return run_live(info, params, rate=rate, reset=reset, console=console, recommendations=source,
                    incidents=incidents)


class _StopFlag:
    """Set by Ctrl-C or SIGTERM: the current batch finishes, then the stream stops."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, lambda *_: self.event.set())
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _LiveWriter:
    """Writes the live stream's batches; rides out a database that goes away.

    A batch that cannot be written (the server stopped or restarted) stays pending with the users it
    introduced, the stream keeps generating, and the writer reconnects with a doubling back-off; when
    the database answers again every pending row goes in, in one transaction, so nothing generated is
    lost. After `give_up_after` without a database the stream stops with one line that says why.
    """

    def __init__(self, info: ConnectionInfo, world: World, console: Console, stop: threading.Event,
                 give_up_after: timedelta = timedelta(minutes=10),
                 on_write: Callable[[psycopg.Connection], None] | None = None) -> None:
        self.info, self.world, self.console, self.stop = info, world, console, stop
        self.on_write = on_write  # more to write in each write's transaction (incident counts)
        self.give_up_after = give_up_after
        self.conn: psycopg.Connection | None = shop_db.connect(info, autocommit=True)
        self.pending_users: list[np.ndarray] = []
        self.pending_batches: list = []
        self.down_since: float | None = None
        self.next_try = 0.0
        self.backoff = 1.0

    def write(self, new_user_ids: np.ndarray, batches: list, *, force: bool = False) -> int:
        """Write these rows and any pending ones; returns the events written now (0 while the database
        is away). Between tries only `force` (the stream's last write) skips the back-off."""
        if len(new_user_ids):
            self.pending_users.append(new_user_ids)
        self.pending_batches.extend(batches)
        if self.down_since is not None and time.monotonic() < self.next_try and not force:
            return 0
        if self.down_since is not None:
            # Rows held back reach the warehouse now: loaded_at says so, or an incremental build that
            # ran since the restart (its watermark past their generation time) would never read them.
            arrived = np.datetime64(datetime.now(timezone.utc).replace(tzinfo=None), "us")
            for batch in self.pending_batches:
                batch.loaded_at = np.maximum(batch.loaded_at.astype("datetime64[us]"), arrived)
        try:
            if self.conn is None or self.conn.closed:
                self.conn = shop_db.connect(self.info, autocommit=True)
            with self.conn.transaction():
                for user_ids in self.pending_users:
                    loader.copy_world_rows(self.conn, self.world, user_ids)
                written = loader.copy_events(self.conn, self.pending_batches)
                if self.on_write is not None:
                    self.on_write(self.conn)
        except (psycopg.OperationalError, ShopError) as exc:
            self._went_away(exc)
            return 0
        if self.down_since is not None:
            self.console.print(f"The database is back after {time.monotonic() - self.down_since:.0f} s: "
                               f"wrote the {written:,} events generated meanwhile.")
        self.pending_users, self.pending_batches = [], []
        self.down_since, self.backoff = None, 1.0
        return written

    def _went_away(self, exc: Exception) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        now = time.monotonic()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self.down_since is None:
            self.down_since = now
            self.console.print(f"[yellow]The database is unavailable ({reason}).[/] Keeping the generated events "
                               "and retrying with back-off; Ctrl-C stops.")
        elif now - self.down_since > self.give_up_after.total_seconds():
            raise ShopError(f"The database has been unavailable for {now - self.down_since:.0f} s ({reason}); "
                            f"stopped the live stream. {sum(len(b) for b in self.pending_batches):,} generated "
                            "events were not written. Start the database (`shop db start`) and run it again.")
        self.next_try = now + self.backoff
        self.backoff = min(self.backoff * 2, 30.0)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def run_live(
    info: ConnectionInfo,
    params: SimulationParams,
    *,
    rate: float,
    reset: bool = False,
    console: Console | None = None,
    tick_seconds: float = 1.0,
    max_seconds: float | None = None,
    recommendations: Callable[[int], Served | None] | None = None,
    incidents: Sequence[Incident] = (),
) -> int:
    """Stream about `rate` events per second until interrupted; returns the events written.

    ``incidents`` are injected into the stream (their offsets count from its start) and recorded
    in truth.incidents when it starts; each write updates their counts in its transaction.

    With ``recommendations`` (e.g. ``ApiRecommendations(url)``), ``loop_share`` of the sessions
    start from the recommendations it returns (simulator.closed_loop), their events tagged with
    the variant that served them.
    """
    console = console or Console()
    started = datetime.now(timezone.utc)
    with shop_db.connect(info, autocommit=True) as conn:
        state = loader.raw_state(conn)
        existing = state.last_run is not None and not reset
        world = restore_world(conn, state.last_run["parameters"]) if existing else build_world(params.replace(end=started))
        # Resolved before anything is written: an incident that cannot be injected stops the stream here.
        injector = Injector.for_window(world, incidents, window_start=started, window_end=None)
        if existing:
            console.print(f"Streaming into the existing shop (simulation run {state.last_run['run_id']}).")
        else:
            with conn.transaction():
                if reset:
                    loader.truncate_simulated_data(conn)
                loader.copy_world_rows(conn, world)
                loader.record_run(conn, seed=params.seed, parameters=world.params.to_json_dict(), mode="live",
                                  window_start=started, window_end=started, events=0)
            console.print(f"Created a shop of {world.n_users:,} users and {world.n_products:,} products.")
        if injector is not None:
            with conn.transaction():
                injector.record(conn)
            for inc in injector.injected:
                console.print(f"Injecting {inc.kind} from {inc.starts_at:%Y-%m-%d %H:%M:%S} to "
                              f"{inc.ends_at:%Y-%m-%d %H:%M:%S} UTC ({inc.detail['spec']}).")
        rng = np.random.default_rng()
        sim_state = new_state(world)
        # New visitors (each signs up and visits at once) bring about half of the stream's
        # sessions: most visitors come once, so the accounts of the shop alone go quiet.
        p = world.params
        signups_per_second = _NEWCOMER_SHARE * rate / (p.mean_views_per_session * ROWS_PER_MEAN_VIEW)
        # Warm up: simulate the sessions already in progress (discarding what they emitted), so
        # the stream starts at its full rate instead of ramping up over the first minutes.
        # Late arrivals keep their lateness (no cap), so they trickle in later as they would.
        warm_from = started - min(_WARM_UP, timedelta(seconds=_WARM_UP_EVENTS / rate))
        warm_rate = expected_events_per_second(world, started)
        generate_window(world, sim_state, warm_from, started, rng=rng,
                        rate_multiplier=rate / warm_rate if warm_rate > 0 else 1.0)
        loop = ClosedLoop(world, sim_state, recommendations, rng) if recommendations is not None else None
        total = 0  # events written
        generated = 0  # events generated (more than written while the database is away)
        users_added = 0
        window_start = started
        last_report = time.monotonic()
        console.print(f"Streaming about {rate:g} events/s into raw.interactions. Ctrl-C stops after the current batch.")
        with _StopFlag() as stop, contextlib.closing(
            _LiveWriter(info, world, console, stop.event, on_write=injector.record if injector is not None else None)
        ) as writer:
            deadline = time.monotonic() + max_seconds if max_seconds is not None else None
            while not stop.event.is_set():
                stop.event.wait(tick_seconds)
                now = datetime.now(timezone.utc)
                expected = expected_events_per_second(world, now)
                # The estimate is approximate: steer by what was really streamed so far.
                elapsed = (now - started).total_seconds()
                correction = min(2.0, max(0.5, (rate * elapsed + 50) / (generated + 50)))
                multiplier = rate / expected * correction if expected > 0 else 1.0
                n_new = int(rng.poisson(signups_per_second * (now - window_start).total_seconds()))
                new_ids = _add_users(world, [now] * n_new)
                sim_state.sync_users(world.n_users)
                batches = [generate_window(world, sim_state, window_start, now, rng=rng,
                                           rate_multiplier=multiplier, max_loaded_at=now)]
                if loop is not None:
                    now_us = int(now.timestamp() * 1e6)
                    # Asked outside the transaction: the API may take a moment.
                    loop.start_sessions(loop.sessions_due(len(batches[0])), now_us)
                    batches.append(loop.release(now_us))
                if injector is not None:
                    batches = injector.apply_live(batches, now)
                generated += sum(len(batch) for batch in batches)
                total += writer.write(new_ids, batches)
                users_added += len(new_ids)
                window_start = now
                if time.monotonic() - last_report >= 10:
                    elapsed = (now - started).total_seconds()
                    loop_text = ""
                    if loop is not None:
                        served = ", ".join(f"{k} {v}" for k, v in sorted(loop.stats.by_variant.items())) or "none"
                        loop_text = (f"; closed loop: {loop.stats.answered}/{loop.stats.sessions} lists served "
                                     f"({served}), {loop.stats.events:,} events")
                        if recommendations is not None and getattr(recommendations, "last_error", None):
                            loop_text += f", last API error: {recommendations.last_error}"
                    console.print(f"  {total:,} events ({total / elapsed:,.1f}/s), {users_added} new users{loop_text}")
                    last_report = time.monotonic()
                if deadline is not None and time.monotonic() >= deadline:
                    break
            ended = datetime.now(timezone.utc)
            if writer.pending_batches:
                total += writer.write(np.empty(0, dtype=np.int64), [], force=True)
            unwritten = sum(len(batch) for batch in writer.pending_batches)
            if unwritten:
                console.print(f"[yellow]The database is still unavailable: {unwritten:,} generated events were not "
                              "written.[/]")
            else:
                with shop_db.connect(info, autocommit=True) as final, final.transaction():
                    run_id = loader.record_run(final, seed=world.params.seed, parameters=world.params.to_json_dict(),
                                               mode="live", window_start=started, window_end=ended, events=total)
                    if injector is not None:
                        injector.record(final, run_id)
    console.print(f"Stopped: streamed {total:,} events and {users_added} new users in {(ended - started).total_seconds():.0f} s.")
    return total
