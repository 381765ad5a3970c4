"""Incidents on demand (`shop simulate --incident`): the spec, each kind in the raw rows and in
truth.incidents, determinism, refusals that write nothing, and a live stream's injection."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from simulator.batch import EventBatch
from simulator.generate import generate_history, new_state
from simulator.incidents import KINDS, Incident, IncidentError, draw_incidents, footprint, parse_incident
from simulator.injection import Injector
from simulator.params import SimulationParams
from simulator.world import build_world
from tests.simulator.test_simulate_cli import SMALL, _counts
from tests.support import run_shop

UTC = timezone.utc


# ----------------------------------------------------------------------------- the spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("tracking-outage", Incident("tracking-outage")),
        ("Late-Burst:+30d", Incident("late-burst", start=timedelta(days=30))),
        ("duplicate-storm:+1.5h:90m,copies=5",
         Incident("duplicate-storm", start=timedelta(hours=1.5), duration=timedelta(minutes=90), copies=5)),
        ("price-bug:2025-11-20T08:00:2d,category=Home & Kitchen",
         Incident("price-bug", start=datetime(2025, 11, 20, 8, tzinfo=UTC), duration=timedelta(days=2),
                  category="Home & Kitchen")),
        ("checkout-break:2025-11-20T08:00:30+01:00", Incident("checkout-break",
         start=datetime(2025, 11, 20, 7, 0, 30, tzinfo=UTC))),
        ("bot-traffic::6h,views=2000,user=7",
         Incident("bot-traffic", duration=timedelta(hours=6), views=2000, user_id=7)),
        ("late-burst:+2d:1d,delay=12h", Incident("late-burst", start=timedelta(days=2), duration=timedelta(days=1),
                                                 delay=timedelta(hours=12))),
    ],
)
def test_specs_parse_into_incidents(spec, expected):
    parsed = parse_incident(spec)
    assert parsed == expected
    assert parse_incident(parsed.spec) == Incident(**{**expected.__dict__, "duration": expected.length})


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("meteor-strike", "unknown incident kind"),
        ("tracking-outage:+2x", "neither an ISO time"),
        ("tracking-outage:yesterday:6h", "neither an ISO time"),
        ("tracking-outage:+1d:0h", "duration must be between"),
        ("duplicate-storm,category=Books", "takes no option 'category'"),
        ("price-bug,factor=1", "factor=1"),
        ("price-bug,factor=lots", "factor='lots' is not valid"),
        ("bot-traffic,views=2.5", "views='2.5' is not valid"),
        ("checkout-break,keep=0.9", "keep must be between"),
        ("price-bug:category=Books", "options go after a comma"),
        ("checkout-break:+1d:6x", "'6x' is not a duration"),
        ("tracking-outage,Books", "options are key=value"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, says):
    with pytest.raises(IncidentError, match=says.replace("(", r"\(")):
        parse_incident(spec)


def test_random_draws_fit_the_window_apart_and_repeat_for_a_seed():
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    drawn = draw_incidents(7, start, end, per_kind=2)
    assert sorted(i.kind for i in drawn) == sorted(KINDS * 2)
    assert drawn == draw_incidents(7, start, end, per_kind=2)
    assert drawn != draw_incidents(8, start, end, per_kind=2)
    spans = sorted((i.start, i.start + footprint(i)) for i in drawn)
    assert spans[0][0] >= start and spans[-1][1] <= end
    assert all(b[0] - a[1] >= timedelta(days=2) for a, b in zip(spans, spans[1:]))
    with pytest.raises(IncidentError, match="more than the window holds"):
        draw_incidents(7, start, start + timedelta(days=10), per_kind=2)


# ----------------------------------------------------------------------------- determinism


PARAMS = SimulationParams(users=300, products=60, days=14, end=datetime(2025, 11, 30, tzinfo=UTC), seed=5)


@pytest.fixture(scope="module")
def world():
    return build_world(PARAMS)


def test_the_same_seed_injects_the_same_rows(world):
    params = PARAMS
    # Defaults everywhere: starts and categories are drawn from the seed.
    incidents = [Incident(kind) for kind in KINDS]

    def injected() -> tuple[EventBatch, list]:
        injector = Injector.for_window(world, incidents, window_start=params.start, window_end=params.end,
                                       cap=params.end)
        rows = EventBatch.concat(list(injector.inject_history(
            generate_history(world, state=new_state(world), max_loaded_at=params.end))))
        return rows, [(i.starts_at, i.category, i.rows_affected, i.detail) for i in injector.injected]

    (a, truth_a), (b, truth_b) = injected(), injected()
    assert truth_a == truth_b
    for name in ("event_id", "loaded_at", "unit_price_cents", "user_id"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert sum(rows for _, _, rows, _ in truth_a) > 5000  # the bot's views at least


def test_a_live_storm_holds_its_copies_until_they_arrive_and_counts_them_then(world):
    rows = EventBatch.concat(list(generate_history(world, state=new_state(world), max_loaded_at=PARAMS.end)))
    rows = rows.take(np.argsort(rows.loaded_at, kind="stable"))
    storm = Incident("duplicate-storm", start=PARAMS.start, duration=timedelta(days=14))
    injector = Injector.for_window(world, [storm], window_start=PARAMS.start, window_end=None)
    loaded = rows.loaded_at.astype("datetime64[us]")
    written, held = 0, 0
    # Ticks of five minutes over three days, each emitting what arrived in it, as the stream does.
    ticks = np.arange(np.datetime64("2025-11-16T00:00", "us"), np.datetime64("2025-11-19T00:00", "us"),
                      np.timedelta64(5, "m"))
    cut = np.searchsorted(loaded, ticks)
    for a, b, tick in zip(cut, cut[1:], ticks[1:]):
        now = tick.astype(datetime).replace(tzinfo=UTC)
        out = EventBatch.concat(injector.apply_live([rows.take(np.arange(a, b))], now))
        assert not len(out) or out.loaded_at.max() < tick
        written += len(out)
        held = max(held, len(injector.pending))
    (inc,) = injector.injected
    fed = cut[-1] - cut[0]
    assert held > 0  # copies crossed the end of their tick and waited
    assert inc.rows_affected == written - fed > 0  # counted once written ...
    assert inc.rows_affected + len(injector.pending) == 3 * fed  # ... and the rest still wait


# ----------------------------------------------------------------------------- each kind, loaded

ALL_KINDS = (
    "tracking-outage:2025-11-12T08:00:8h,category=Electronics",
    "duplicate-storm:2025-11-13T10:00:4h",
    "late-burst:2025-11-15T00:00:1d",  # arrives three days after it ends, 11-19
    "price-bug:2025-11-20T00:00:1d,category=Books",
    "checkout-break:2025-11-22T00:00:2d",
    "bot-traffic:2025-11-25T08:00:6h,views=3000",
)
SHOP = dict(users=4000, products=100, days=20, seed=42, end=datetime(2025, 11, 30, tzinfo=UTC))


@pytest.fixture(scope="module")
def shop_with_incidents(database):
    """A shop loaded with one incident of each kind (through the service `shop simulate` calls)."""
    from simulator.runner import make_params, run_history
    from tests.support import create_database, drop_database

    db = create_database(database, "shop_inc")
    result = run_history(db.info, make_params(**SHOP), incidents=[parse_incident(spec) for spec in ALL_KINDS])
    yield db, result
    drop_database(database, db)


def _truth(db) -> dict[str, dict]:
    with db.connect() as conn:
        rows = conn.execute(
            "select kind, starts_at, ends_at, category, rows_affected, detail, run_id from truth.incidents"
        ).fetchall()
    return {kind: dict(starts_at=s, ends_at=e, category=c, rows=n, detail=d, run_id=r)
            for kind, s, e, c, n, d, r in rows}


def test_every_kind_is_recorded_in_the_truth(shop_with_incidents):
    db, result = shop_with_incidents
    truth = _truth(db)
    assert set(truth) == set(KINDS)
    assert {t["run_id"] for t in truth.values()} == {result.run_id}
    assert {i.kind: i.rows_affected for i in result.incidents} == {k: t["rows"] for k, t in truth.items()}
    assert truth["tracking-outage"]["category"] == "Electronics" and truth["price-bug"]["category"] == "Books"
    assert truth["late-burst"]["ends_at"] - truth["late-burst"]["starts_at"] == timedelta(days=1)
    assert all(t["rows"] > 0 for t in truth.values()), truth
    # The recorded spec is the incident as resolved: it names its start and category.
    resolved = parse_incident(truth["bot-traffic"]["detail"]["spec"])
    assert resolved.start == truth["bot-traffic"]["starts_at"] and resolved.views == 3000
    assert parse_incident(truth["tracking-outage"]["detail"]["spec"]).category == "Electronics"


def test_a_tracking_outage_loses_its_categorys_events(shop_with_incidents):
    db, _ = shop_with_incidents
    t = _truth(db)["tracking-outage"]
    with db.connect() as conn:
        inside, other, before = conn.execute(
            """
            select count(*) filter (where p.category = 'Electronics' and i.occurred_at >= %(s)s and i.occurred_at < %(e)s),
                   count(*) filter (where p.category <> 'Electronics' and i.occurred_at >= %(s)s and i.occurred_at < %(e)s),
                   count(*) filter (where p.category = 'Electronics'
                                    and i.occurred_at >= %(s)s - interval '1 day' and i.occurred_at < %(e)s - interval '1 day')
            from raw.interactions as i join raw.products as p using (product_id)
            """,
            {"s": t["starts_at"], "e": t["ends_at"]},
        ).fetchone()
    assert inside == 0 and other > 50 and before > 10
    assert t["rows"] > 10


def test_a_duplicate_storm_multiplies_deliveries(shop_with_incidents):
    db, _ = shop_with_incidents
    t = _truth(db)["duplicate-storm"]
    with db.connect() as conn:
        rows, events = conn.execute(
            "select count(*), count(distinct event_id) from raw.interactions where loaded_at >= %s and loaded_at < %s",
            (t["starts_at"], t["ends_at"]),
        ).fetchone()
        normal = conn.execute(
            "select count(*)::float / count(distinct event_id) from raw.interactions where loaded_at < %s",
            (t["starts_at"],),
        ).fetchone()[0]
    # Each event that arrived in the window is there copies + 1 times (copies of late arrivals land just after).
    assert rows / events > 3.5 and normal < 1.05
    assert t["rows"] >= 3 * events * 0.9 and t["detail"]["copies"] == 3


def test_a_late_burst_arrives_days_after_it_occurred(shop_with_incidents):
    db, _ = shop_with_incidents
    t = _truth(db)["late-burst"]
    arrives = datetime.fromisoformat(t["detail"]["arrives_from"])
    assert arrives == t["ends_at"] + timedelta(days=3)
    with db.connect() as conn:
        rows, early, latest = conn.execute(
            """
            select count(*), count(*) filter (where loaded_at < %s), max(loaded_at)
            from raw.interactions where occurred_at >= %s and occurred_at < %s
            """,
            (arrives, t["starts_at"], t["ends_at"]),
        ).fetchone()
    assert rows == t["rows"] > 100 and early == 0
    assert latest <= arrives + timedelta(hours=1)


def test_a_price_bug_multiplies_its_categorys_prices(shop_with_incidents):
    db, _ = shop_with_incidents
    t = _truth(db)["price-bug"]
    with db.connect() as conn:
        ratios = conn.execute(
            """
            select p.category = 'Books' and i.occurred_at >= %s and i.occurred_at < %s as bugged,
                   min(i.unit_price / p.price), max(i.unit_price / p.price), count(*)
            from raw.interactions as i join raw.products as p using (product_id)
            where i.occurred_at >= '2025-11-19' and i.occurred_at < '2025-11-22'
            group by 1
            """,
            (t["starts_at"], t["ends_at"]),
        ).fetchall()
    by = {bugged: (low, high, n) for bugged, low, high, n in ratios}
    # Prices move (promotions, changes) by far less than the bug's factor.
    assert by[True][0] > 30 and by[True][2] == t["rows"]
    assert by[False][1] < 3
    assert t["detail"]["factor"] == 100


def test_a_checkout_break_keeps_views_and_loses_purchases(shop_with_incidents):
    db, _ = shop_with_incidents
    t = _truth(db)["checkout-break"]
    with db.connect() as conn:
        during, before = (conn.execute(
            """
            select count(*) filter (where lower(trim(event_type)) = 'view'),
                   count(*) filter (where lower(trim(event_type)) = 'purchase')
            from raw.interactions where occurred_at >= %s and occurred_at < %s
            """,
            (start, start + timedelta(days=2)),
        ).fetchone() for start in (t["starts_at"], t["starts_at"] - timedelta(days=2)))
    views, purchases = during
    assert views > 0.6 * before[0]
    assert before[1] > 20 and purchases <= 0.1 * before[1]
    assert t["rows"] > purchases


def test_bot_traffic_is_one_user_with_thousands_of_views(shop_with_incidents):
    db, _ = shop_with_incidents
    t = _truth(db)["bot-traffic"]
    with db.connect() as conn:
        top_user, views = conn.execute(
            """
            select user_id, count(*) from raw.interactions
            where occurred_at >= %s and occurred_at < %s and event_type = 'view'
            group by 1 order by 2 desc limit 1
            """,
            (t["starts_at"], t["ends_at"]),
        ).fetchone()
    assert top_user == t["detail"]["user_id"] and views >= 3000 == t["rows"]


# ----------------------------------------------------------------------------- refusals


def test_a_bad_spec_is_a_cli_error_and_writes_nothing(fresh_database):
    result = run_shop("simulate", *SMALL, "--incident", "tracking-outage:+1d:-6h", env=fresh_database.env,
                      check=False)
    assert result.returncode == 2, result.stderr
    assert "--incident" in result.stderr and "'-6h' is not a duration" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _counts(fresh_database) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("price-bug:+1d,category=Bakery", "no category 'Bakery'"),  # the general shop has none
        ("late-burst:+18d", "but the simulated window is"),  # its rows would arrive after the end
        ("bot-traffic:2025-11-20T00:00,user=301", "no user 301"),
    ],
)
def test_an_incident_that_does_not_fit_the_shop_writes_nothing(fresh_database, spec, says):
    """Found once the window and the world are known (the CLI turns it into a BadParameter)."""
    from simulator.runner import make_params, run_history

    with pytest.raises(IncidentError, match=says):
        run_history(fresh_database.info, make_params(users=300, products=80, days=20, seed=42,
                                                     end=datetime(2025, 11, 30, tzinfo=UTC)),
                    incidents=[parse_incident(spec)])
    assert _counts(fresh_database) == (0, 0, 0, 0)


# ----------------------------------------------------------------------------- live


def test_a_live_stream_refuses_a_bad_incident_before_creating_the_shop(fresh_database):
    from simulator.runner import make_params, run_live

    with pytest.raises(IncidentError, match="no category 'Bakery'"):
        run_live(fresh_database.info, make_params(users=300, products=80, days=1, seed=3, end=None), rate=50,
                 max_seconds=1, incidents=[parse_incident("tracking-outage,category=Bakery")])
    assert _counts(fresh_database) == (0, 0, 0, 0)


def test_a_live_stream_injects_and_counts_as_it_goes(fresh_database):
    from simulator.runner import make_params, run_live

    params = make_params(users=1000, products=80, days=1, seed=3, end=None)
    incidents = [parse_incident("price-bug,category=all"), parse_incident("bot-traffic::1s,views=150")]
    # The bot's views arrive within two seconds of occurring: all of them have arrived by the end.
    run_live(fresh_database.info, params, rate=300, tick_seconds=0.5, max_seconds=4, incidents=incidents)
    with fresh_database.connect() as conn:
        truth = {kind: (rows, detail, start, end) for kind, rows, detail, start, end in conn.execute(
            "select kind, rows_affected, detail, starts_at, ends_at from truth.incidents").fetchall()}
        run_ids = conn.execute("select distinct run_id from truth.incidents").fetchall()
        bot, bot_detail, bot_start, bot_end = truth["bot-traffic"]
        bot_views = conn.execute(
            "select count(*) from raw.interactions where user_id = %s and occurred_at >= %s and occurred_at < %s",
            (bot_detail["user_id"], bot_start, bot_end),
        ).fetchone()[0]
        bugged, lowest, during = conn.execute(
            """
            select count(*) filter (where i.unit_price / p.price > 30),
                   min(i.unit_price / p.price) filter (where i.user_id <> %s), count(*)
            from raw.interactions as i join raw.products as p using (product_id)
            where i.occurred_at >= %s
            """,
            (bot_detail["user_id"], truth["price-bug"][2]),
        ).fetchone()
    # The bot's rows waited in the stream until their time came, then were counted as written.
    assert bot == 150 and 150 <= bot_views <= 160
    # Every other row of the stream (it occurred in the bug's first day) is off by 100x.
    assert lowest > 30 and truth["price-bug"][0] == bugged > 100
    assert during - bugged <= 150
    assert run_ids == [(fresh_database.scalar("select max(run_id) from truth.simulation_runs"),)]


def test_the_demo_passes_its_incidents_to_the_live_stream(tmp_path):
    from shop.live_demo import LiveOptions, _children

    _, stream = _children(LiveOptions(incidents=("checkout-break:+5m:10m",)), tmp_path)
    assert stream.argv[-2:] == ["--incident", "checkout-break:+5m:10m"]
    # Refused before anything starts (the set-up would need the database; the check comes first).
    import typer

    from shop.cli.demo import demo

    with pytest.raises(typer.BadParameter, match="live stream"):
        demo(incident=["checkout-break:+5m:10m"], setup_only=True)
    with pytest.raises(typer.BadParameter, match="unknown incident kind"):
        demo(incident=["meteor-strike"])


def test_parquet_output_refuses_incidents(tmp_path):
    import typer

    from shop.cli.simulate import OutputFormat, simulate

    with pytest.raises(typer.BadParameter, match="needs --format postgres"):
        simulate(incident=["tracking-outage"], output_format=OutputFormat.parquet, out=tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_a_duration_too_long_for_any_history_is_a_clear_error() -> None:
    with pytest.raises(IncidentError, match="too long"):
        parse_incident("duplicate-storm:+1d:99999999999w")
