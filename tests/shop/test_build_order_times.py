"""shop/build_order.py: which kept times order an incremental build (the last incremental build's, else
the last full build's), as dbt_runner keeps them."""

from __future__ import annotations

from pathlib import Path

from shop import build_order


def test_an_incremental_build_after_a_full_one_is_timed_by_the_full_one(tmp_path: Path) -> None:
    build_order.keep_node_seconds(tmp_path, [("model.shop.alerts", 3.9), ("model.shop.customers", 0.2)], full=True)
    assert build_order.previous_node_seconds(tmp_path) == {"model.shop.alerts": 3.9, "model.shop.customers": 0.2}
    # Once an incremental build's times are kept, they order the next one, whatever the full build kept.
    build_order.keep_node_seconds(tmp_path, [("model.shop.alerts", 2.2)])
    build_order.keep_node_seconds(tmp_path, [("model.shop.alerts", 9.0)], full=True)
    assert build_order.previous_node_seconds(tmp_path) == {"model.shop.alerts": 2.2}
    # A damaged incremental file: the full build's times.
    (tmp_path / "dbt" / "last_build" / "node_seconds_incremental.json").write_text("[1, 2]")
    assert build_order.previous_node_seconds(tmp_path) == {"model.shop.alerts": 9.0}
