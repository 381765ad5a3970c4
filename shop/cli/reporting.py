"""How ``shop train``, ``shop evaluate`` and ``shop demo`` show an evaluation and a training run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from recommender.pipeline import Report
from recommender.training import TrainingObserver, TrainOutcome


def report_table(report: Report, title: str) -> Table:
    """One row per algorithm: test metrics with the NDCG interval and the lead over the best
    baseline (paired bootstrap), recall split into re-buys and items new to the user, validation NDCG."""
    k = report.k
    table = Table(title=title, title_justify="left")
    columns = [f"R@{k}", f"R@{k} re-buy", f"R@{k} new", f"NDCG@{k}", "95% interval"]
    if report.baseline:
        columns.append(f"vs {report.baseline}")
    columns += [f"MAP@{k}", "coverage"]
    has_truth = any(r.test.truth_ndcg is not None for r in report.results)
    if has_truth:
        columns.append(f"truth NDCG@{k}")
    columns += [f"valid. NDCG@{k}", "train s"]
    table.add_column("algorithm")
    for c in columns:
        table.add_column(c, justify="right")
    chosen = report.chosen.algorithm
    for r in report.results:
        t = r.test
        interval = report.test_intervals.get(r.algorithm)
        cells = [r.algorithm + (" *" if r.algorithm == chosen else ""), f"{t.recall:.4f}",
                 _maybe(t.recall_rebuy), _maybe(t.recall_new), f"{t.ndcg:.4f}",
                 "-" if interval is None else f"{interval.low:.4f}-{interval.high:.4f}"]
        if report.baseline:
            lead = report.lead_over_baseline.get(r.algorithm)
            cells.append("-" if lead is None else f"{lead.estimate:+.4f} [{lead.low:+.4f}, {lead.high:+.4f}]")
        cells += [f"{t.map:.4f}", f"{t.coverage:.3f}"]
        if has_truth:
            cells.append(_maybe(t.truth_ndcg))
        cells += [f"{r.validation.ndcg:.4f}", f"{r.train_seconds:.2f}"]
        table.add_row(*cells)
    return table


def _maybe(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def describe(report: Report) -> str:
    """The protocol and its windows, how many users each holds, why the starred model won, warnings."""
    w = report.windows
    if report.protocol == "last-basket":
        lines = [f"Protocol last-basket: test = each user's last basket ({report.test_users:,} users), "
                 f"validation = the basket before it ({report.validation_users:,} users)."]
    else:
        sized = f" ({w['shares']})" if "shares" in w else " (fixed days)" if w.get("sized_by") == "days" else ""
        lines = [f"Protocol temporal{sized}: train before {w.get('train_before', '?')} UTC, validation "
                 f"{w.get('validation', '?')} ({report.validation_users:,} users), test {w.get('test', '?')} "
                 f"({report.test_users:,} users)."]
    if "tuned_on" in w:
        lines.append(f"Parameters selected on {w['tuned_on']}.")
    lines.append("Full ranking over all items; re-buy / new: recall on items the user had / had not bought before; "
                 "intervals: 95% paired bootstrap over the test users.")
    if report.choice is not None:
        lines.append(f"* {report.choice.reason}.")
    lines += [f"Warning: {warning}." for warning in report.warnings]
    return "\n".join(lines)


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
