"""shop/build_order.py: which kept times order an incremental build (the last incremental build's, else
the last full build's), as dbt_runner keeps them."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from shop import build_order


def test_an_incremental_build_after_a_full_one_is_timed_by_the_full_one(tmp_path: Path) -> None:
    build_order.keep_node_seconds(tmp_path, [("model.shop.alerts", 3.9), ("model.shop.customers", 0.2)], full=True)
    assert build_order.previous_node_seconds(tmp_path) == build_order.from_full_build(
        {"model.shop.alerts": 3.9, "model.shop.customers": 0.2})
    # Once an incremental build's times are kept, they order the next one, whatever the full build kept.
    build_order.keep_node_seconds(tmp_path, [("model.shop.alerts", 2.2)])
    build_order.keep_node_seconds(tmp_path, [("model.shop.alerts", 9.0)], full=True)
    assert build_order.previous_node_seconds(tmp_path) == {"model.shop.alerts": 2.2}
    # A damaged incremental file: the full build's times.
    (tmp_path / "dbt" / "last_build" / "node_seconds_incremental.json").write_text("[1, 2]")
    assert build_order.previous_node_seconds(tmp_path) == build_order.from_full_build({"model.shop.alerts": 9.0})


def test_a_full_builds_times_rank_a_long_chain_of_light_nodes_before_one_heavy_model() -> None:
    """The first incremental build after a full one: the gate of the customer chain (ten light links, as
    the sessions' test to `customers` is) starts before a model that is heavy only over the whole history
    (as `user_item_interactions` is), while a heavy model still ranks before a light one."""
    import networkx as nx

    chain = [f"chain_{link}" for link in range(10)]
    graph = nx.DiGraph(list(pairwise(chain)))
    graph.add_nodes_from(["heavy", "light"])
    full = {**dict.fromkeys(chain, 2.0), "heavy": 40.0, "light": 1.0}
    as_they_are = build_order.longest_path_scores(graph, full)
    assert as_they_are["heavy"] < as_they_are["chain_0"]  # lower runs first: the full times put it first
    scores = build_order.longest_path_scores(graph, build_order.from_full_build(full))
    assert scores["chain_0"] < scores["heavy"] < scores["light"]
    assert scores["chain_0"] < scores["chain_1"]
