"""The build's order: ready nodes start longest-path-first (shop/build_order.py), timed by the last build."""

from __future__ import annotations

import networkx as nx

from shop import build_order


def _graph() -> nx.DiGraph:
    # events -> {sessions -> sessions_test -> months -> customers, hourly -> alerts}
    graph = nx.DiGraph()
    graph.add_edges_from([
        ("events", "sessions"), ("sessions", "sessions_test"), ("sessions_test", "months"),
        ("months", "customers"), ("events", "hourly"), ("hourly", "alerts"),
    ])
    return graph


def test_the_node_ahead_of_the_slowest_line_starts_first_however_shallow_the_other() -> None:
    seconds = {"events": 3.0, "sessions": 1.5, "sessions_test": 0.1, "months": 2.5, "customers": 4.0,
               "hourly": 2.0, "alerts": 2.5}
    scores = build_order.longest_path_scores(_graph(), seconds)
    # the tiny test gating months and customers (6.6 s to the end) goes before the aggregate (4.5 s)
    assert scores["sessions_test"] < scores["hourly"]
    assert scores["events"] == -(3.0 + 1.5 + 0.1 + 2.5 + 4.0)
    assert scores["customers"] == -4.0
    # a node the last build did not run counts as a short one
    assert build_order.longest_path_scores(_graph(), {})["customers"] == -build_order.UNKNOWN_NODE_SECONDS


def test_an_incremental_build_is_timed_by_the_last_one(tmp_path) -> None:
    assert build_order.previous_node_seconds(tmp_path) == {}  # none yet: every node alike
    build_order.keep_node_seconds(tmp_path, [("model.shop.customers", 2.5)])
    assert build_order.previous_node_seconds(tmp_path) == {"model.shop.customers": 2.5}
    # A damaged file times nothing (and does not stop the build).
    (tmp_path / "dbt" / "last_build" / "node_seconds_incremental.json").write_text('{"model.shop.customers": "x"}')
    assert build_order.previous_node_seconds(tmp_path) == {}
