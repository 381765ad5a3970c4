"""The set-up of `shop demo`: a shop in the database, a built warehouse, a trained recommender.

A database without events gets a new simulated shop; one with events is brought up to now (an
append), so a second demo resumes where the first stopped. Then a full warehouse build, then
training, evaluated first unless the history is too short for that. `set_up_existing` (`shop demo
--no-stream`) simulates nothing: it builds and trains on the shop the database holds (an imported
one), and when no model can be trained the API serves popularity. What each step shows is up
to a SetupView (shop/cli/demo.py prints it the way `shop simulate`, `shop build` and `shop train`
do); the live part is shop/live_demo.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from recommender.evaluation import NotEnoughHistory
from recommender.training import (
    TrainingObserver,
    TrainOptions,
    TrainOutcome,
    train_and_save,
)
from shop import dbt_runner
from shopcore import db as shop_db
from shopcore.errors import ShopError
from simulator import loader, runner
from simulator.params import SimulationParams

# The tables whose sizes the end of the set-up shows.
SHOWN_TABLES = ("raw.interactions", "marts.orders", "marts.user_item_interactions")


class SetupView(Protocol):
    """What the set-up shows as it goes."""

    training: TrainingObserver

    def step(self, title: str) -> None: ...

    def simulating(self) -> AbstractContextManager[Callable[[int | None, int], None]]:
        """Shown while history is simulated; gives runner.run_history's on_day callback."""
        ...

    def simulated(self, result: loader.LoadResult | None, info: shop_db.ConnectionInfo) -> None: ...

    def building(self) -> AbstractContextManager[Callable[[dbt_runner.NodeProgress], None]]:
        """Shown while the warehouse builds; gives dbt_runner.build's on_progress callback."""
        ...

    def built(self, result: dbt_runner.DbtResult) -> None: ...

    def training_without_evaluation(self, reason: NotEnoughHistory) -> None: ...

    def trained(self, outcome: TrainOutcome) -> None: ...

    def not_trained(self, reason: ShopError) -> None:
        """No model could be trained (`set_up_existing` only): the API serves popularity."""
        ...


def set_up(info: shop_db.ConnectionInfo, home: Path, new_shop: SimulationParams, view: SetupView) -> None:
    """Simulate `new_shop` (or append up to now), build, train; a ShopError says which step failed and why."""
    simulate(info, new_shop, view)
    build(info, view)
    train(info, home, view)


def set_up_existing(info: shop_db.ConnectionInfo, home: Path, view: SetupView) -> None:
    """Build and train on the shop the database holds, simulating nothing; a database without
    events is refused (there is nothing to serve)."""
    with shop_db.connect(info) as conn:
        events = loader.raw_state(conn).events
    if not events:
        raise ShopError("The database holds no events to serve: import a shop's history with `shop import` "
                        "(see the README's \"Bring your own data\"), or run `shop demo` without --no-stream "
                        "to simulate one.")
    view.step(f"Serving the shop the database holds ({events:,} events); simulating nothing")
    build(info, view)
    try:
        train(info, home, view)
    except ShopError as exc:
        view.not_trained(exc)


def simulate(info: shop_db.ConnectionInfo, new_shop: SimulationParams, view: SetupView) -> None:
    with shop_db.connect(info) as conn:
        state = loader.raw_state(conn)
    append = bool(state.events)
    if append:
        view.step(f"The shop already holds {state.events:,} events: bringing it up to now")
    else:
        view.step(f"Simulating a shop: {new_shop.users:,} users, {new_shop.products:,} products, {new_shop.days} days")
    # An append continues the recorded shop and reads only the end (now) from these parameters.
    with view.simulating() as on_day:
        result = runner.run_history(info, new_shop, append=append, on_day=on_day)
    view.simulated(result, info)


def build(info: shop_db.ConnectionInfo, view: SetupView) -> None:
    view.step("Building the warehouse (dbt)")
    with view.building() as on_progress:
        result = dbt_runner.build(info.env(), on_progress=on_progress)
    view.built(result)
    if not result.success:
        raise ShopError("The warehouse build failed (see above); fix it and run `shop demo` again.")


def train(info: shop_db.ConnectionInfo, home: Path, view: SetupView) -> None:
    view.step("Training the recommender")
    try:
        outcome = train_and_save(info, home, TrainOptions(), view.training)
    except NotEnoughHistory as exc:
        # A shop too short for a validation and a test window: train the default without them.
        view.training_without_evaluation(exc)
        outcome = train_and_save(info, home, TrainOptions(evaluate=False), view.training)
    view.trained(outcome)


def table_sizes(info: shop_db.ConnectionInfo) -> dict[str, int]:
    """Rows in each of SHOWN_TABLES."""
    with shop_db.connect(info) as conn:
        return {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # fixed table names
            for table in SHOWN_TABLES
        }
