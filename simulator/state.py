"""What the simulation must remember between days and live windows.

* rows already generated but not yet emitted: the tail of a session that crosses the window
  end, and (in live mode) events that will only arrive later;
* scheduled re-buys of consumables (who, what, how many, when it runs out);
* which durables each user owns (nobody buys the same durable twice);
* when each user last ordered (a fresh order makes the next one less likely for a while).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.batch import RowBlock
from simulator.distinct import distinct_sorted
from simulator.world import World

_NEVER = np.iinfo(np.int64).min // 4  # "no order yet": far enough in the past, safe to subtract


@dataclass
class SimulationState:
    n_products: int
    pending: RowBlock  # generated, not yet emitted
    rebuy_due_us: np.ndarray  # int64, when the consumable runs out
    rebuy_user: np.ndarray  # int64 user index
    rebuy_product: np.ndarray  # int64 product index
    rebuy_quantity: np.ndarray  # int32
    owned: np.ndarray  # sorted unique int64 keys user_index * n_products + product_index
    last_order_us: np.ndarray  # int64 per user index
    clock_us: int | None = None  # end of the last generated window

    @classmethod
    def new(cls, world: World) -> SimulationState:
        i64 = np.empty(0, dtype=np.int64)
        return cls(
            n_products=world.n_products,
            pending=RowBlock.empty(),
            rebuy_due_us=i64, rebuy_user=i64, rebuy_product=i64,
            rebuy_quantity=np.empty(0, dtype=np.int32),
            owned=i64,
            last_order_us=np.full(world.n_users, _NEVER, dtype=np.int64),
        )

    def sync_users(self, n_users: int) -> None:
        """Grow per-user memory after ``World.add_users``."""
        missing = n_users - len(self.last_order_us)
        if missing > 0:
            self.last_order_us = np.concatenate(
                (self.last_order_us, np.full(missing, _NEVER, dtype=np.int64))
            )

    # ------------------------------------------------------------------ durables

    def ownership_keys(self, user_index: np.ndarray, product_index: np.ndarray) -> np.ndarray:
        return user_index * self.n_products + product_index

    def owns(self, keys: np.ndarray) -> np.ndarray:
        if len(self.owned) == 0:
            return np.zeros(len(keys), dtype=bool)
        pos = np.minimum(np.searchsorted(self.owned, keys), len(self.owned) - 1)
        return self.owned[pos] == keys

    def add_owned(self, keys: np.ndarray) -> None:
        # Few new keys into a long sorted array: insert in place of re-sorting everything.
        new = distinct_sorted(keys)
        new = new[~self.owns(new)]
        if len(new):
            self.owned = np.insert(self.owned, np.searchsorted(self.owned, new), new)

    # ------------------------------------------------------------------ consumables

    def schedule_rebuys(
        self, due_us: np.ndarray, user: np.ndarray, product: np.ndarray, quantity: np.ndarray
    ) -> None:
        if len(due_us):
            self.rebuy_due_us = np.concatenate((self.rebuy_due_us, due_us))
            self.rebuy_user = np.concatenate((self.rebuy_user, user))
            self.rebuy_product = np.concatenate((self.rebuy_product, product))
            self.rebuy_quantity = np.concatenate((self.rebuy_quantity, quantity.astype(np.int32)))

    def pop_rebuys(
        self, end_us: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Remove and return the re-buys due before ``end_us`` (due, user, product, quantity)."""
        due = self.rebuy_due_us < end_us
        if not due.any():
            i64 = np.empty(0, dtype=np.int64)
            return i64, i64, i64, np.empty(0, dtype=np.int32)
        out = (self.rebuy_due_us[due], self.rebuy_user[due], self.rebuy_product[due],
               self.rebuy_quantity[due])
        keep = ~due
        self.rebuy_due_us = self.rebuy_due_us[keep]
        self.rebuy_user = self.rebuy_user[keep]
        self.rebuy_product = self.rebuy_product[keep]
        self.rebuy_quantity = self.rebuy_quantity[keep]
        return out

    # ------------------------------------------------------------------ orders

    def record_orders(self, user_index: np.ndarray, at_us: np.ndarray) -> None:
        np.maximum.at(self.last_order_us, user_index, at_us)
