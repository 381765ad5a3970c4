"""Start a build's nodes longest-path-first, so the chain that decides when the build ends never waits.

dbt runs a node once its parents (and, under `dbt build`, their tests) are done, on a pool of
SHOP_DBT_THREADS threads; when more nodes are ready than threads are free, it picks by depth in
the graph, shallowest first. On an incremental build that starts side branches (the monitoring
aggregates, the daily marts, `user_item_interactions`) before the few small tests that gate the
longest chain (`int_interactions_enriched` -> sessions and orders -> user months -> `customers`),
and that chain then waits for a free thread while the rest runs.

Here an incremental build uses the classic critical-path rule instead: each node's priority is the
time from its start to the end of the build along its slowest line of descendants, timed by the
previous incremental build. Without one (no incremental build yet after the first build, from an
empty warehouse, which is a full build in all but name, or after a full refresh with no incremental
times kept), by the last full build, scaled to an appended day: a full build's times are not an
appended day's, since its incremental models read every row. Taken as they are, they ranked the
models that are slow over the whole history (`user_item_interactions`, the sessions' aggregate, the
monitoring aggregates) ahead of the small tests that gate the chain from the sessions to `customers`,
whose models cost about as much on one day as on the whole history; those tests then waited for a
thread while the side branches ran. So each node counts as dbt's cost of a node plus a small share of
its full-build time (about one day's share of a shop's history): the heavy models still rank ahead of
light ones, as counting every node alike would not (the alerts' windows and `price_changes` then
started last and ended the build alone), but no longer ahead of a long chain of light ones. With
neither, every node counts alike: the number of nodes still ahead. A full refresh keeps dbt's order:
counting nodes alike delayed its slowest model (`user_item_interactions`). Only the order of ready
nodes changes: what runs, its dependencies and its result are dbt's, so a build's rows and tests
are the same either way. The hooks are private methods of the dbt-core 1.11 the project pins
(GraphQueue._get_scores, lower runs first; GraphQueue.get; GraphRunnableTask.run_queue); without
them, dbt's own order stays.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopcore.dbt_artifacts import dbt_home, keep_file

# The time a node the previous build did not run is assumed to take (a test or a small model).
UNKNOWN_NODE_SECONDS = 0.1
# The share of a node's full-build time an incremental build is assumed to spend on it beyond dbt's cost
# of a node: about one appended day of a shop's history. The order is the same over a wide range of it.
FULL_BUILD_SHARE = 0.02
log = logging.getLogger(__name__)


def _times_path(home: Path | None, *, full: bool = False) -> Path:
    return dbt_home(home) / "last_build" / f"node_seconds_{'full' if full else 'incremental'}.json"


def previous_node_seconds(home: Path | None) -> dict[str, float]:
    """Each node's execution time in the last kept incremental build, or else its expected time in an
    incremental build after the last full build (`from_full_build`); neither, or damaged files: an
    empty map."""
    incremental = _read_times(_times_path(home))
    if incremental:
        return incremental
    return from_full_build(_read_times(_times_path(home, full=True)))


def from_full_build(seconds: Mapping[str, float]) -> dict[str, float]:
    """A full build's node times as an incremental build's: dbt's cost of a node plus a share of the
    node's work (see the module's docstring)."""
    return {node: UNKNOWN_NODE_SECONDS + FULL_BUILD_SHARE * time for node, time in seconds.items()}


def _read_times(path: Path) -> dict[str, float]:
    try:
        times = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(times, dict):
        return {}
    try:
        return {str(node): float(seconds) for node, seconds in times.items()}
    except (TypeError, ValueError):  # a damaged file: this build orders its nodes as dbt would
        return {}


def keep_node_seconds(home: Path | None, nodes: Iterable[tuple[str, float]], *, full: bool = False) -> None:
    """Keep a build's node times for the next incremental one (written atomically): an incremental
    build's, or with `full` a full build's (read only while no incremental build's are kept)."""
    keep_file(_times_path(home, full=full), json.dumps(dict(nodes)).encode("utf-8"))


def longest_path_scores(graph: Any, seconds: Mapping[str, float]) -> dict[str, float]:
    """Minus each node's time to the end of the build along its slowest descendants (lower runs first)."""
    import networkx as nx

    remaining: dict[str, float] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        tail = max((remaining[child] for child in graph.successors(node)), default=0.0)
        remaining[node] = seconds.get(node, UNKNOWN_NODE_SECONDS) + tail
    return {node: -time for node, time in remaining.items()}


@contextmanager
def longest_path_first(seconds: Mapping[str, float]) -> Iterator[None]:
    """While inside, dbt's graph queues order ready nodes by `longest_path_scores`, and hand a node
    out only when a thread is free to run it.

    dbt hands every ready node at once to its thread pool, which runs them first come, first
    served: an order among ready nodes would then only decide the order in the pool's backlog at
    the moment they became ready, not which node the next free thread takes. So the queue's `get`
    waits until fewer nodes than threads are running, and the choice is made when a thread frees.
    """
    try:
        from dbt.graph.queue import GraphQueue
        from dbt.task.runnable import GraphRunnableTask
    except ImportError:  # another dbt: keep its order
        yield
        return
    originals = {name: getattr(owner, name, None) for owner, name in
                 ((GraphQueue, "_get_scores"), (GraphQueue, "get"), (GraphRunnableTask, "run_queue"))}
    if None in originals.values():
        log.debug("dbt's graph queue is not the one this was written for: its own order stays")
        yield
        return
    get_node, run_queue = originals["get"], originals["run_queue"]

    def scores(self: Any, graph: Any) -> dict[str, float]:
        return longest_path_scores(graph, seconds)

    def get_when_a_thread_is_free(self: Any, block: bool = True, timeout: float | None = None) -> Any:
        limit = getattr(self, "shop_running_limit", None)
        if limit:
            with self.lock:
                while len(self.in_progress) >= limit:
                    self.some_task_done.wait()
        return get_node(self, block=block, timeout=timeout)

    def run_queue_with_limit(self: Any, pool: Any) -> None:
        if self.job_queue is not None:
            self.job_queue.shop_running_limit = max(1, int(getattr(self.config, "threads", 0) or 0))
        return run_queue(self, pool)

    GraphQueue._get_scores = scores
    GraphQueue.get = get_when_a_thread_is_free
    GraphRunnableTask.run_queue = run_queue_with_limit
    try:
        yield
    finally:
        GraphQueue._get_scores = originals["_get_scores"]
        GraphQueue.get = get_node
        GraphRunnableTask.run_queue = run_queue
