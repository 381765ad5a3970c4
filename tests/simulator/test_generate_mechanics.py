"""Event generation mechanics: batch layout, UUIDs, determinism, windows, live mode."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from numpy._core import multiarray

from shopcore.ordering import stable_argsort
from simulator.batch import EVENT_TYPE_SPELLINGS, RowBlock
from simulator.distinct import distinct_sorted
from simulator.generate import (
    EventBatch,
    _merged_by_time,
    expected_events_per_second,
    generate_history,
    generate_window,
    new_state,
)
from simulator.ids import as_uuids, uuid4_bytes
from simulator.memory import fewer_fresh_pages
from simulator.params import SimulationParams
from simulator.world import World, build_world

END = datetime(2025, 12, 15, tzinfo=timezone.utc)
SMALL = SimulationParams(users=6000, products=150, days=21, end=END)  # ~10k events


@pytest.fixture(scope="module")
def small_world() -> World:
    return build_world(SMALL)


@pytest.fixture(scope="module")
def small_history(small_world: World) -> EventBatch:
    return EventBatch.concat(list(generate_history(small_world)))


def _assert_same_rows(a: EventBatch, b: EventBatch) -> None:
    assert len(a) == len(b)
    for f in fields(EventBatch):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.dtype == y.dtype, f.name
        assert np.array_equal(x, y), f.name


# ----------------------------------------------------------------------------- layout


def test_batch_columns_have_the_copy_encoder_layout(small_history: EventBatch) -> None:
    b = small_history
    n = len(b)
    assert n > 1000
    for name in ("event_id", "session_id", "order_id"):
        col = getattr(b, name)
        assert col.dtype == np.uint8 and col.shape == (n, 16), name
    for name in ("user_id", "product_id", "unit_price_cents"):
        assert getattr(b, name).dtype == np.int64, name
    assert b.quantity.dtype == np.int32
    assert b.has_order.dtype == bool
    assert b.event_type.dtype.kind == "U"
    assert set(np.unique(b.event_type)) <= set(EVENT_TYPE_SPELLINGS)
    assert b.recommendation_variant.dtype == object
    assert b.occurred_at.dtype == np.dtype("datetime64[us]")
    assert b.loaded_at.dtype == np.dtype("datetime64[us]")


def test_uuids_are_valid_version_4(small_history: EventBatch) -> None:
    b = small_history
    for name in ("event_id", "session_id"):
        col = getattr(b, name)
        assert np.all(col[:, 6] >> 4 == 4), name
        assert np.all(col[:, 8] >> 6 == 0b10), name
        parsed = as_uuids(col[:200])
        assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    orders = b.order_id[b.has_order]
    assert np.all(orders[:, 6] >> 4 == 4) and np.all(orders[:, 8] >> 6 == 0b10)
    # Event ids are unique apart from duplicate deliveries.
    keys = np.ascontiguousarray(b.event_id).view("V16").ravel()
    assert len(np.unique(keys)) > 0.99 * len(b)


def test_uuid4_bytes_come_from_the_generator() -> None:
    a = uuid4_bytes(np.random.default_rng(5), 1000)
    b = uuid4_bytes(np.random.default_rng(5), 1000)
    assert np.array_equal(a, b) and a.shape == (1000, 16)
    assert len({bytes(r) for r in a}) == 1000


@pytest.mark.parametrize("span", [1, 3, 86_400_000_000, 1 << 61])
def test_stable_argsort_is_numpy_stable_order(span: int) -> None:
    """Ties keep their positions; a range too wide to pack with the positions falls back."""
    rng = np.random.default_rng(span)
    for n in (0, 1, 2, 7, 5000):
        keys = rng.integers(-span, span, n, dtype=np.int64)
        assert np.array_equal(stable_argsort(keys), np.argsort(keys, kind="stable"))


def test_concat_take_and_len() -> None:
    world = build_world(SimulationParams(users=100, products=40, days=3, end=END))
    batches = list(generate_history(world))
    whole = EventBatch.concat(batches)
    assert len(whole) == sum(len(b) for b in batches)
    assert len(EventBatch.concat([])) == 0
    idx = np.array([3, 0, 2])
    part = whole.take(idx)
    assert len(part) == 3
    assert np.array_equal(part.event_id, whole.event_id[idx])
    assert list(part.event_type) == list(whole.event_type[idx])
    mask = whole.event_type_code() == 0
    assert len(whole.take(mask)) == mask.sum()
    with pytest.raises(ValueError, match="rows"):
        columns = {f.name: getattr(part, f.name) for f in fields(part)}
        EventBatch(**{**columns, "quantity": np.ones(2, np.int32)})


def _row_block(n: int, rng: np.random.Generator) -> RowBlock:
    def ints() -> np.ndarray:
        return rng.integers(0, 1 << 40, n)

    return RowBlock(uuid4_bytes(rng, n), uuid4_bytes(rng, n), uuid4_bytes(rng, n), rng.random(n) < 0.5,
                    ints(), ints(), rng.integers(0, 9, n).astype(np.int8), rng.integers(1, 4, n).astype(np.int32),
                    ints(), ints())


def _assert_same_blocks(a: RowBlock, b: RowBlock) -> None:
    for f in fields(RowBlock):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.dtype == y.dtype and np.array_equal(x, y), f.name


@pytest.mark.parametrize("n_first,n_second", [(7, 40), (0, 40), (7, 0), (0, 0)])
def test_take_joined_takes_rows_of_the_concatenation(n_first: int, n_second: int) -> None:
    rng = np.random.default_rng(n_first + n_second)
    first, second = _row_block(n_first, rng), _row_block(n_second, rng)
    for indices in (rng.permutation(n_first + n_second)[: (n_first + n_second) // 2],
                    np.arange(n_first + n_second)[::-1], np.empty(0, dtype=np.int64)):
        _assert_same_blocks(RowBlock.take_joined(first, second, indices),
                            RowBlock.concat([first, second]).take(indices))
    # Columns of other types are converted as the concatenation converts them.
    narrow = RowBlock(**{**{f.name: getattr(first, f.name) for f in fields(RowBlock)},
                         "quantity": first.quantity.astype(np.int16)})
    indices = np.arange(n_first + n_second)
    _assert_same_blocks(RowBlock.take_joined(narrow, second, indices),
                        RowBlock.concat([narrow, second]).take(indices))


def test_ready_rows_merge_in_the_stable_order_of_their_instants() -> None:
    """Two sorted runs (pending rows first) merge as the stable sort orders them, ties to the
    first run; a run out of order falls back to the sort."""
    rng = np.random.default_rng(11)
    for case in range(300):
        n_first, n_second = int(rng.integers(0, 12)), int(rng.integers(0, 40))
        first, second = rng.integers(0, 15, n_first), np.sort(rng.integers(0, 15, n_second))
        if case % 3:
            first = np.sort(first)
        occurred = np.concatenate((first, second))
        indices = np.flatnonzero(rng.random(n_first + n_second) < 0.8)
        assert np.array_equal(_merged_by_time(indices, occurred, n_first),
                              indices[np.argsort(occurred[indices], kind="stable")])


def test_distinct_sorted_is_numpys_unique() -> None:
    rng = np.random.default_rng(12)
    for n in (0, 1, 2, 9, 1000):
        values = rng.integers(-6, 6, n, dtype=np.int64)
        got, expected = distinct_sorted(values), np.unique(values)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_world_build_pages_setting_is_restored() -> None:
    """No huge pages are asked for inside ``fewer_fresh_pages``; numpy's setting comes back
    after, also when the block fails."""
    before = multiarray._get_madvise_hugepage()
    with fewer_fresh_pages():
        assert multiarray._get_madvise_hugepage() is False
    assert multiarray._get_madvise_hugepage() == before
    with pytest.raises(RuntimeError), fewer_fresh_pages():
        raise RuntimeError
    assert multiarray._get_madvise_hugepage() == before


# ----------------------------------------------------------------------------- determinism


def test_same_params_same_rows(small_history: EventBatch) -> None:
    again = EventBatch.concat(list(generate_history(build_world(SMALL))))
    _assert_same_rows(small_history, again)


def test_other_seed_other_rows(small_history: EventBatch) -> None:
    other = EventBatch.concat(list(generate_history(build_world(SMALL.replace(seed=7)))))
    assert not np.array_equal(small_history.event_id[:100], other.event_id[:100])
    assert len(other) != len(small_history) or not np.array_equal(small_history.product_id, other.product_id)


def test_history_split_at_midnight_equals_one_run(small_world: World, small_history: EventBatch) -> None:
    state = new_state(small_world)
    mid = SMALL.start + timedelta(days=9)
    first = list(generate_history(small_world, SMALL.start, mid, state=state))
    second = list(generate_history(small_world, mid, END, state=state))
    _assert_same_rows(small_history, EventBatch.concat(first + second))


def test_windows_must_not_go_back_in_time(small_world: World) -> None:
    state = new_state(small_world)
    list(generate_history(small_world, SMALL.start, SMALL.start + timedelta(days=2), state=state))
    with pytest.raises(ValueError, match="starts before the end of the previous one"):
        list(generate_history(small_world, SMALL.start, SMALL.start + timedelta(days=1), state=state))
    with pytest.raises(ValueError, match="end must be after start"):
        list(generate_history(small_world, END, END))


# ----------------------------------------------------------------------------- loaded_at limits


def test_loaded_at_is_capped_by_max_loaded_at(small_world: World) -> None:
    start = END - timedelta(days=4)
    free = EventBatch.concat(list(generate_history(small_world, start, END)))
    end_np = np.datetime64(END.replace(tzinfo=None), "us")
    assert free.loaded_at.max() > end_np + np.timedelta64(1, "h")  # late arrivals after the end
    assert free.loaded_at.max() <= end_np + np.timedelta64(3, "D")  # ... within max_lateness
    now = END + timedelta(hours=1)
    capped = EventBatch.concat(list(generate_history(small_world, start, END, max_loaded_at=now)))
    assert capped.loaded_at.max() <= np.datetime64(now.replace(tzinfo=None), "us")
    assert np.all(capped.loaded_at >= capped.occurred_at)
    assert np.array_equal(capped.occurred_at, free.occurred_at)  # only arrival times change
    with pytest.raises(ValueError, match="max_loaded_at"):
        list(generate_history(small_world, start, END, max_loaded_at=END - timedelta(hours=1)))


# ----------------------------------------------------------------------------- live mode


def test_live_windows_emit_only_arrived_rows_and_carry_the_rest(small_world: World) -> None:
    state = new_state(small_world)
    list(generate_history(small_world, state=state))
    rng = np.random.default_rng(11)
    target = 100.0  # events per second
    multiplier = target / expected_events_per_second(small_world, END)
    t = END
    generate_window(small_world, state, t, t + timedelta(minutes=20), rng=rng, rate_multiplier=multiplier)
    t += timedelta(minutes=20)  # warmed up: sessions in progress
    total = 0
    seen: list[EventBatch] = []
    for _ in range(60):  # one minute of 1-second windows
        nxt = t + timedelta(seconds=1)
        multiplier = target / expected_events_per_second(small_world, t)
        b = generate_window(small_world, state, t, nxt, rng=rng, rate_multiplier=multiplier,
                            max_loaded_at=nxt)
        nxt_np = np.datetime64(nxt.replace(tzinfo=None), "us")
        if len(b):
            assert b.loaded_at.max() < nxt_np  # nothing from the future
            assert np.all(b.loaded_at >= b.occurred_at)
        total += len(b)
        seen.append(b)
        t = nxt
    assert 0.6 * 60 * target < total < 1.5 * 60 * target
    assert len(state.pending) > 0  # sessions in progress and late arrivals wait
    live = EventBatch.concat(seen)
    cleaned = np.strings.lower(np.strings.strip(np.unique(live.event_type)))
    assert set(cleaned) <= {"view", "add_to_cart", "purchase"}


def test_rate_multiplier_scales_the_stream(small_world: World) -> None:
    def events(multiplier: float) -> int:
        state = new_state(small_world)
        rng = np.random.default_rng(3)
        start = END
        generate_window(small_world, state, start - timedelta(minutes=20), start, rng=rng,
                        rate_multiplier=multiplier)  # warm up: sessions in progress
        return len(generate_window(small_world, state, start, start + timedelta(minutes=10), rng=rng,
                                   rate_multiplier=multiplier))

    low, high = events(500.0), events(2000.0)
    assert 3.0 < high / low < 5.0


def test_expected_events_per_second_matches_the_generated_volume(
    small_world: World, small_history: EventBatch
) -> None:
    hours = int(SMALL.days * 24)
    expected = sum(
        expected_events_per_second(small_world, SMALL.start + timedelta(minutes=30 + 60 * h)) * 3600
        for h in range(hours)
    )
    assert 0.8 < len(small_history) / expected < 1.25
    # Busier in the evening than at night.
    evening = expected_events_per_second(small_world, END - timedelta(days=1) + timedelta(hours=20))
    night = expected_events_per_second(small_world, END - timedelta(days=1) + timedelta(hours=3))
    assert evening > 3 * night > 0


def test_live_mode_serves_new_users(small_world: World) -> None:
    world = build_world(SMALL)
    state = new_state(world)
    rng = np.random.default_rng(5)
    t = END
    assert len(world.intent_shares()) == SMALL.users
    world.add_users(20, [t] * 20, rng)
    # The per-user intent shares follow the added users.
    shares = world.intent_shares()
    activity = world.users.activity_rate[SMALL.users:] / SMALL.mean_activity
    assert np.array_equal(shares[SMALL.users:], SMALL.intent_share * np.clip(
        activity ** -SMALL.intent_activity_elasticity, 0.2, 5.0))
    state.sync_users(world.n_users)
    b = generate_window(world, state, t, t + timedelta(minutes=30), rng=rng, rate_multiplier=50.0)
    assert len(b) > 0
    assert b.user_id.max() <= world.n_users
    new = b.user_id > SMALL.users
    assert new.any()  # a new user's first visit comes right after signing up
    assert np.all(b.occurred_at[new] >= np.datetime64(t.replace(tzinfo=None), "us"))


def test_bad_live_arguments(small_world: World) -> None:
    state = new_state(small_world)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="rate_multiplier"):
        generate_window(small_world, state, END, END + timedelta(seconds=1), rng=rng, rate_multiplier=-1)
    with pytest.raises(ValueError, match="window end must be after its start"):
        generate_window(small_world, state, END, END, rng=rng)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_window(small_world, state, datetime(2025, 12, 15), datetime(2025, 12, 16), rng=rng)
