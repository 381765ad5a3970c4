"""``EventBatch``: rows of raw.interactions as equal-length numpy columns.

The layout is what the binary COPY encoder consumes without per-row Python:

=========================  ===========================  ==========================================
field                      dtype                        raw.interactions column
=========================  ===========================  ==========================================
event_id, session_id       uint8 (n, 16)                uuid (RFC 4122 version-4 bytes)
user_id, product_id        int64                        bigint
event_type                 ``<U12`` (ASCII)             text; one of ``EVENT_TYPE_SPELLINGS``
quantity                   int32                        integer (>= 1)
unit_price_cents           int64                        unit_price numeric(10,2) x 100 (> 0)
order_id                   uint8 (n, 16)                uuid, NULL where ``has_order`` is False
has_order                  bool                         True exactly on purchase rows
recommendation_variant     object (None or str)         text, NULL where None
occurred_at, loaded_at     datetime64[us] (UTC)         timestamptz
=========================  ===========================  ==========================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from shopcore.events import ADD_TO_CART, PURCHASE, VIEW

# Canonical spellings first (index = event type code), then the sloppy ones some producers
# send; lower(trim(x)) of every spelling is canonical.
EVENT_TYPE_SPELLINGS = np.array([
    "view", "add_to_cart", "purchase",
    "VIEW", "View", " view", "view ",
    "ADD_TO_CART", " Add_To_Cart", "add_to_cart ", "Add_to_cart",
    "PURCHASE", "Purchase ", " purchase", "Purchase",
], dtype="<U12")
SPELLING_TYPE = np.array([0, 1, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], dtype=np.int8)
# Non-canonical spellings of each type, for drawing sloppy rows.
SLOPPY_SPELLINGS: tuple[np.ndarray, ...] = tuple(
    np.flatnonzero((SPELLING_TYPE == t) & (np.arange(len(SPELLING_TYPE)) >= 3))
    for t in range(3)
)

@dataclass
class EventBatch:
    event_id: np.ndarray
    session_id: np.ndarray
    user_id: np.ndarray
    product_id: np.ndarray
    event_type: np.ndarray
    quantity: np.ndarray
    unit_price_cents: np.ndarray
    order_id: np.ndarray
    has_order: np.ndarray
    recommendation_variant: np.ndarray
    occurred_at: np.ndarray
    loaded_at: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.event_id)
        for f in fields(self):
            col = getattr(self, f.name)
            if len(col) != n:
                raise ValueError(f"EventBatch column {f.name} has {len(col)} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.event_id)

    @classmethod
    def empty(cls) -> EventBatch:
        return cls(
            event_id=np.empty((0, 16), dtype=np.uint8),
            session_id=np.empty((0, 16), dtype=np.uint8),
            user_id=np.empty(0, dtype=np.int64),
            product_id=np.empty(0, dtype=np.int64),
            event_type=np.empty(0, dtype="<U12"),
            quantity=np.empty(0, dtype=np.int32),
            unit_price_cents=np.empty(0, dtype=np.int64),
            order_id=np.empty((0, 16), dtype=np.uint8),
            has_order=np.empty(0, dtype=bool),
            recommendation_variant=np.empty(0, dtype=object),
            occurred_at=np.empty(0, dtype="datetime64[us]"),
            loaded_at=np.empty(0, dtype="datetime64[us]"),
        )

    @classmethod
    def concat(cls, batches: Sequence[EventBatch]) -> EventBatch:
        """All rows of ``batches``, in order."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            return batches[0]
        return cls(**{
            f.name: np.concatenate([getattr(b, f.name) for b in batches])
            for f in fields(cls)
        })

    def take(self, indices: np.ndarray) -> EventBatch:
        """The rows at ``indices`` (integer positions or a boolean mask), in that order."""
        indices = np.asarray(indices)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        # np.take along axis 0 copies whole (n, 16) UUID rows far faster than fancy indexing.
        return EventBatch(**{
            f.name: np.take(getattr(self, f.name), indices, axis=0) for f in fields(self)
        })

    def event_type_code(self) -> np.ndarray:
        """0 = view, 1 = add_to_cart, 2 = purchase, whatever the spelling (lower(trim(x)))."""
        canon = np.strings.lower(np.strings.strip(self.event_type))
        alphabetical = np.array(["add_to_cart", "purchase", "view"])
        return np.array([ADD_TO_CART, PURCHASE, VIEW], dtype=np.int8)[np.searchsorted(alphabetical, canon)]


@dataclass
class RowBlock:
    """Compact event rows as the generator keeps them before emitting: indices instead of
    looked-up values, a spelling code instead of a string. ``generate`` turns emitted blocks
    into ``EventBatch``es; pending rows wait in this form."""

    event_id: np.ndarray  # uint8 (n, 16)
    session_id: np.ndarray  # uint8 (n, 16)
    order_id: np.ndarray  # uint8 (n, 16), zeros where has_order is False
    has_order: np.ndarray  # bool
    user: np.ndarray  # int64 user index (user_id - 1)
    product: np.ndarray  # int64 product index (product_id - 1)
    spelling: np.ndarray  # int8 index into EVENT_TYPE_SPELLINGS
    quantity: np.ndarray  # int32
    occurred_us: np.ndarray  # int64 microseconds since the epoch
    loaded_us: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.event_id)

    @classmethod
    def empty(cls) -> RowBlock:
        u = np.empty((0, 16), dtype=np.uint8)
        i = np.empty(0, dtype=np.int64)
        return cls(u, u.copy(), u.copy(), np.empty(0, dtype=bool), i, i.copy(),
                   np.empty(0, dtype=np.int8), np.empty(0, dtype=np.int32), i.copy(), i.copy())

    @classmethod
    def concat(cls, blocks: Sequence[RowBlock]) -> RowBlock:
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return cls.empty()
        if len(blocks) == 1:
            return blocks[0]
        return cls(**{f.name: np.concatenate([getattr(b, f.name) for b in blocks])
                      for f in fields(cls)})

    def take(self, indices: np.ndarray) -> RowBlock:
        return RowBlock(**{f.name: np.take(getattr(self, f.name), indices, axis=0)
                           for f in fields(self)})

    @staticmethod
    def take_joined(first: RowBlock, second: RowBlock, indices: np.ndarray) -> RowBlock:
        """``concat([first, second]).take(indices)`` without building the concatenation: each
        column is one gather from ``second`` (the large block: a window's fresh rows), then
        the few rows of ``first`` (the pending ones) are put in their places."""
        n = len(first)
        if n == 0 or len(second) == 0:
            return second.take(indices - n) if n == 0 else first.take(indices)
        names = [f.name for f in fields(RowBlock)]
        if any(getattr(first, k).dtype != getattr(second, k).dtype for k in names):
            return RowBlock.concat([first, second]).take(indices)  # concatenation would convert
        from_first = np.flatnonzero(indices < n)
        at_second = indices - n
        at_second[from_first] = 0  # any row: overwritten below
        at_first = indices[from_first]
        out = {}
        for k in names:
            column = np.take(getattr(second, k), at_second, axis=0)
            column[from_first] = np.take(getattr(first, k), at_first, axis=0)
            out[k] = column
        return RowBlock(**out)
