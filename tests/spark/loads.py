"""Two loads of the simulator's events, as a pipeline delivers them over time.

The first load holds what arrived up to a cut; the second what arrived after it, made harder on
purpose: besides the simulator's own arrivals it holds events of old days whose delivery was held
back past the cut (late arrivals) and second copies of events the first load already had
(redeliveries). An incremental build after the second load must give what a full build gives.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from simulator.parquet import PART

# Of the events loaded before the cut: every DELAY_EVERY-th is delivered only after it, and every
# REDELIVER_EVERY-th is delivered a second time after it.
DELAY_EVERY = 40
REDELIVER_EVERY = 50


def _after_cut(n: int, cut: datetime, offset: timedelta) -> pa.Array:
    moments = np.datetime64(cut.replace(tzinfo=None), "us") + np.timedelta64(int(offset.total_seconds()), "s")
    return pa.array(moments + np.arange(n).astype("timedelta64[s]"), type=pa.timestamp("us", tz="UTC"))


def split_into_two_loads(raw: Path, late: Path, cut: datetime) -> tuple[pa.Table, pa.Table]:
    """Rewrite raw/interactions as the first load and write late/interactions as the second.
    Returns (first, second): together, every row the warehouse must end up with."""
    path = raw / "interactions" / PART
    events = pq.read_table(path)
    before = pc.less_equal(events["loaded_at"], cut).to_numpy(zero_copy_only=False)
    index = np.arange(events.num_rows)
    delayed = before & (index % DELAY_EVERY == 0)
    redelivered = before & ~delayed & (index % REDELIVER_EVERY == 1)

    loaded_at = events["loaded_at"].combine_chunks()
    held_back = pc.replace_with_mask(loaded_at, pa.array(delayed), _after_cut(int(delayed.sum()), cut, timedelta(hours=1)))
    events = events.set_column(events.schema.get_field_index("loaded_at"), "loaded_at", held_back)
    copies = events.filter(pa.array(redelivered))
    copies = copies.set_column(
        copies.schema.get_field_index("loaded_at"), "loaded_at", _after_cut(copies.num_rows, cut, timedelta(hours=2))
    )
    first_mask = pc.less_equal(events["loaded_at"], cut)
    first = events.filter(first_mask)
    second = pa.concat_tables([events.filter(pc.invert(first_mask)), copies])
    pq.write_table(first, path)
    (late / "interactions").mkdir(parents=True, exist_ok=True)
    pq.write_table(second, late / "interactions" / "part-00001.parquet")
    return first, second


def replace_raw_interactions(conninfo: str, tables: list[pa.Table]) -> int:
    """raw.interactions of a PostgreSQL database := the rows of `tables` (the same events)."""
    rows = 0
    with psycopg.connect(conninfo) as conn:
        conn.execute("truncate raw.interactions")
        names = tables[0].column_names
        with conn.cursor().copy(f"copy raw.interactions ({', '.join(names)}) from stdin") as copy:
            for table in tables:
                for row in table.to_pylist():
                    copy.write_row([row[name] for name in names])
                    rows += 1
    return rows
