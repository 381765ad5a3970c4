"""Where a re-buy shop's gap is (issue 18's grocery target): the ranker's two parts swapped, one at
a time, for the simulator's own, on the test split `shop evaluate` cuts.

    python benchmarks/rebuy_gap.py                     # grocery, seed 42
    python benchmarks/rebuy_gap.py --scenario general

The ranker scores taste (a softmax over items) plus a re-buy mixture (rho x the learned chance that
a past purchase comes back within its horizon). Each row orders the test users' items one way and
gives NDCG@10 and its ratio to buy-again: the ranker as learned on validation (as `shop evaluate`
keeps it), its parts in the oracle's form (re-buys by due-ness first, taste after), each part
replaced by the simulator's hidden one (the re-buy law of benchmarks/recommender.py, the truth
ranking), and hindsight (the re-buys that did happen in the window, first): what timing could give
if it were perfect. Every oracle row reads hidden parameters or the future, which no model sees.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

from benchmarks.recommender import END, rebuy_law  # noqa: E402
from benchmarks.simulated_shop import simulate  # noqa: E402
from recommender.algorithms import make  # noqa: E402
from recommender.algorithms.base import top_k  # noqa: E402
from recommender.algorithms.ranker import Ranker, fit_weights  # noqa: E402
from recommender.evaluation import ranking_metrics, temporal_split  # noqa: E402
from recommender.matrix import IdMap, WeightConfig  # noqa: E402
from recommender.windows import temporal_points  # noqa: E402
from shopcore.timeunits import US_PER_DAY  # noqa: E402
from simulator.params import SimulationParams  # noqa: E402
from simulator.scenarios import SCENARIOS  # noqa: E402

console = Console(highlight=False, width=160)


def _then(first: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``first``'s order, with ``after`` squeezed into (0, 1e-6) to order what ``first`` leaves tied."""
    return first + 1e-6 / (1.0 + np.exp(-(after - after.max(axis=1, keepdims=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="grocery")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    shop = simulate(SimulationParams.for_scenario(args.scenario, seed=args.seed, end=END))
    events, catalogue = shop.events, shop.catalogue
    points, _ = temporal_points(events, test_days=None, validation_days=None)
    items = IdMap.of(catalogue.product_id, events.product_id)
    validation = temporal_split("validation", events.occurred_before(points.test_cutoff_us), catalogue, WeightConfig(),
                                points.validation_cutoff_us, points.test_cutoff_us, items)
    test = temporal_split("test", events, catalogue, WeightConfig(), points.test_cutoff_us, points.end_us, items)
    learned = fit_weights(Ranker().fit(validation.data), validation.data.rows(validation.eval_rows),
                          validation.positives)
    ranker = Ranker(**learned).fit(test.data)
    rows = test.data.rows(test.eval_rows)
    logits = ranker._taste_logits(rows)
    taste = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    rho = np.exp(learned["mix_bias"] + learned["mix_activity"] * ranker.activity(rows))
    due = ranker.due(rows)
    window_days = (points.end_us - points.test_cutoff_us) / US_PER_DAY
    in_window = Ranker(**learned, horizon_days=window_days)
    in_window.__dict__.update({k: v for k, v in ranker.__dict__.items() if k != "params"})
    due_window = in_window.due(rows)
    world = shop.world
    product = world.products.product_id.searchsorted(items.ids)
    truth = np.stack([world.affinity(int(u) - 1)[product] for u in test.eval_user_ids])
    truth += np.log(world.products.popularity[product])
    law = rebuy_law(shop, test)
    positives = test.positives.toarray() > 0
    bought = rows.purchases.toarray() > 0
    rebought = (positives & bought).astype(np.float64)
    buy_again = make("buy_again").fit(test.data).score(rows)

    variants = {
        "buy-again": buy_again,
        "ranker (taste + rho x due, as learned)": taste + rho[:, None] * due,
        "ranker's due (window horizon) first, its taste after": _then(due_window, taste),
        "taste + rho x re-buy law (the law in the learned mixture)": taste + rho[:, None] * law,
        "re-buy law first, ranker's taste after": _then(law, taste),
        "ranker's due (window horizon) first, truth ranking after": _then(due_window, truth),
        "re-buy law first, truth ranking after (the oracle)": _then(law, truth),
        "hindsight re-buys first, ranker's taste after": _then(rebought, taste),
        "hindsight re-buys first, truth ranking after": _then(rebought, truth),
    }
    share = rebought.sum() / positives.sum()
    table = Table(title=f"{args.scenario} (seed {args.seed}) test window {window_days:.1f} days, {len(rows):,} users; "
                  f"{share:.0%} of the positives are re-buys; NDCG@10", title_justify="left")
    for column in ("ordering", "NDCG@10", "/ buy-again", "recall on re-buys", "recall on new items"):
        table.add_column(column, justify="left" if column == "ordering" else "right")
    base = None
    for name, scores in variants.items():
        top = top_k(scores, 10)
        ndcg = float(ranking_metrics(top, test.positives)["ndcg"].mean())
        base = base or ndcg
        hit = np.zeros_like(positives)
        np.put_along_axis(hit, top, True, axis=1)
        hit &= positives
        recall = [float((hit & part).sum() / max((positives & part).sum(), 1)) for part in (bought, ~bought)]
        table.add_row(name, f"{ndcg:.4f}", f"{ndcg / base:.2f}x", f"{recall[0]:.3f}", f"{recall[1]:.3f}")
    console.print(table)


if __name__ == "__main__":
    main()
