"""How ``shop train``, ``shop evaluate`` and ``shop demo`` show an evaluation and a training run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recommender.pipeline import Report
from recommender.training import TrainingObserver, TrainOutcome


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


class EvaluationSpinner(TrainingObserver):
    """A spinner line showing the evaluation's current step, from its first step until it ends."""

    def __init__(self, console: Console) -> None:
        self._status = console.status("evaluating", spinner="dots")
        self._running = False

    def progress(self, message: str) -> None:
        if not self._running:
            self._status.start()
            self._running = True
        self._status.update(message)

    def evaluation_ended(self) -> None:
        if self._running:
            self._status.stop()
            self._running = False


class TrainingReport(EvaluationSpinner):
    """What `shop train` shows: the spinner, the evaluation table, the fit, the saved model."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.console = console

    def evaluated(self, report: Report) -> None:
        self.console.print(report_table(report, "Offline evaluation"))
        self.console.print(describe(report))

    def fitting(self, algorithm: str, pairs: int) -> None:
        self.console.print(f"Training {algorithm} on {pairs:,} user-product pairs ...")

    def saved(self, outcome: TrainOutcome) -> None:
        self.console.print(f"Saved {outcome.path} ({outcome.fit_seconds:.1f} s to fit) and made it current; "
                           f"data watermark {outcome.watermark}.")
