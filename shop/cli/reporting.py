"""Shared by ``shop train`` and ``shop evaluate``: read the warehouse, run with progress, print."""

from __future__ import annotations

import os
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from recommender.pipeline import Report


def limit_threads(threads: int) -> None:
    """implicit asks for single-threaded BLAS (its own threads do the parallel work)."""
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, "blas")


def report_table(report: Report, title: str) -> Table:
    k = report.k
    table = Table(title=title, title_justify="left")
    columns = ["algorithm", f"P@{k}", f"R@{k}", f"NDCG@{k}", f"MAP@{k}", "coverage"]
    has_truth = any(r.test.truth_ndcg is not None for r in report.results)
    if has_truth:
        columns.append(f"truth NDCG@{k}")
    columns += [f"valid. NDCG@{k}", "train s"]
    for c in columns:
        table.add_column(c, justify="left" if c == "algorithm" else "right")
    best = report.best.algorithm
    for r in report.results:
        t = r.test
        cells = [r.algorithm + (" *" if r.algorithm == best else ""), f"{t.precision:.4f}", f"{t.recall:.4f}",
                 f"{t.ndcg:.4f}", f"{t.map:.4f}", f"{t.coverage:.3f}"]
        if has_truth:
            cells.append("-" if t.truth_ndcg is None else f"{t.truth_ndcg:.4f}")
        cells += [f"{r.validation.ndcg:.4f}", f"{r.train_seconds:.2f}"]
        table.add_row(*cells)
    return table


def describe(report: Report) -> str:
    w = report.windows
    return (f"train before {w.get('train_before', '?')} UTC, validation {w.get('validation', '?')}, "
            f"test {w.get('test', '?')}; {report.test_users:,} test users, full ranking over all items. "
            f"* = best on validation (parameters tuned on validation only).")


def status_printer(console: Console) -> tuple[Callable[[str], None], Callable[[], None]]:
    status = console.status("evaluating", spinner="dots")
    status.start()
    return (lambda message: status.update(message)), status.stop
