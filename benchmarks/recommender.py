"""Recommender quality and training cost, every algorithm.

    python benchmarks/recommender.py                # quality on the default shop + the 5M-event scale run
    python benchmarks/recommender.py --skip-scale   # quality only (~30 s)
    python benchmarks/recommender.py --scale-users 20000 --scale-products 2000 --scale-days 60
    python benchmarks/recommender.py --scenarios general grocery fashion electronics media
    python benchmarks/recommender.py --auto-scenarios general grocery fashion electronics media
    python benchmarks/recommender.py --ranker-fit 50000 --save /tmp/after.npz --against /tmp/before.npz

Quality: the default simulated shop (5,000 users, 1,000 products, 120 days, seed 42), built in
memory; validation-tuned parameters, one evaluation on the temporal test split (last 14 days),
NDCG@10 also against the simulator's true affinities.
Targets: best NDCG@10 >= 2x popularity and >= 1.2x user-based kNN.

Scale: a simulated shop of 100,000 users and 10,000 products (60 days: about 0.9M events now that
most visitors come once; ``--scale-users 270000 --scale-days 365`` give about 5M); each
algorithm is fitted on all of it, with the parameters tuned above, in a fresh process (2 threads),
which reports wall time (matrix build + fit, and the fit's named stages), CPU time and peak memory. Targets: <= 60 s and <= 4 GiB. The dense user x user cosine matrix of the original design
is sized, not built.

Scenarios (``--scenarios``, instead of the runs above): each scenario's default-sized shop; on
its temporal test split, popularity, item-kNN and ALS (validation-tuned) against two oracles
that read the simulator's hidden parameters: the truth ranking (log popularity + the true
affinity, the law views follow) and the same without the latent taste term (everything a
model of category, brand and price tastes could know). Targets: item-kNN or ALS >= 1.3x
popularity NDCG@10; the taste-blind oracle clearly below the truth ranking (truth-NDCG@10).

What `shop train` serves, per scenario (``--auto-scenarios``): every algorithm evaluated as `shop
evaluate` does (windows sized by the data), the choice rule's pick (recommender/choice.py) against the
best single algorithm (with its 95% paired-bootstrap interval) and the baselines. Targets: the pick
within the best one's interval, >= 1.2x the better of popularity and buy-again, >= user-kNN (>= 1.2x
user-kNN on the general scenario; >= 1.2x popularity on media, a catalogue of one category, no brands
and one price). Two oracles on the same test split say what is reachable at all (in brackets: / the
better of popularity and buy-again, / user-kNN): the truth ranking, and the simulator's own re-buy
law (true cycles and re-buy chance; ``rebuy_law``) ranking re-buys first with the truth ranking after.

The ranker's weights on a big catalogue (``--ranker-fit PRODUCTS``, instead of the runs above): the
general scenario's default-sized shop with that many products, its windows cut as `shop evaluate`
cuts them. The weights are learned (``fit_weights``) on the window before validation and scored on
validation, then learned on validation and scored on the test window, as `shop evaluate` does; each
row gives the users learned from, the CPU and wall seconds of ``fit_weights`` alone, and NDCG@10 with
its 95% interval over the window's users. ``--save`` keeps the per-user NDCGs, and ``--against`` a
file another tree saved gives the paired-bootstrap lead over it (same shop, same users).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.simulated_shop import SimulatedShop, simulate  # noqa: E402
from recommender.algorithms.base import top_k  # noqa: E402
from recommender.evaluation import Split, ranking_metrics, split_points, temporal_split, truth_ndcg  # noqa: E402
from recommender.matrix import Catalogue, IdMap, Interactions, WeightConfig  # noqa: E402
from recommender.windows import temporal_points  # noqa: E402
from scipy.special import ndtr  # noqa: E402
from shopcore.events import PURCHASE  # noqa: E402
from shopcore.timeunits import US_PER_DAY, US_PER_SECOND  # noqa: E402
from recommender.pipeline import default_params, run_evaluation, train  # noqa: E402
from simulator.scenarios import SCENARIOS  # noqa: E402
from simulator.world import taste_term  # noqa: E402
from shop.cli.reporting import report_table  # noqa: E402
from simulator.params import SimulationParams  # noqa: E402

END = datetime(2025, 12, 1, tzinfo=timezone.utc)  # a fixed window: the same shop on every run
console = Console(highlight=False, width=150)
SCALE_ALGORITHMS = ("popularity", "buy_again", "user_knn", "item_knn", "als", "ease", "hybrid", "ranker")


def quality(seed: int) -> dict[str, dict]:
    started = time.perf_counter()
    shop = simulate(SimulationParams(seed=seed, end=END))
    console.print(f"default shop: {len(shop.events):,} events, {shop.world.n_users:,} users, "
                  f"{shop.world.n_products:,} products ({time.perf_counter() - started:.1f} s to simulate)")
    started = time.perf_counter()
    report = run_evaluation(shop.events, shop.catalogue, truth=shop.truth, seed=seed, threads=2)
    console.print(report_table(report, f"Quality on the temporal test split ({report.test_users:,} test users)"))
    best = report.best
    ndcg = {r.algorithm: r.test.ndcg for r in report.results}
    console.print(f"best on validation: {best.algorithm} {best.params}")
    console.print(f"windows: {report.windows}; validation users {report.validation_users:,}")
    console.print(f"best NDCG@10 {best.test.ndcg:.4f} = {best.test.ndcg / ndcg['popularity']:.2f}x popularity "
                  f"(target >= 2), {best.test.ndcg / ndcg['user_knn']:.2f}x user_knn (target >= 1.2); "
                  f"evaluation took {time.perf_counter() - started:.1f} s")
    chosen = report.chosen
    console.print(f"auto serves {chosen.algorithm}: NDCG@10 {chosen.test.ndcg:.4f} = "
                  f"{chosen.test.ndcg / ndcg['popularity']:.2f}x popularity, "
                  f"{chosen.test.ndcg / ndcg['user_knn']:.2f}x user_knn. {report.choice.reason}.")
    for warning in report.warnings:
        console.print(f"warning: {warning}")
    return {r.algorithm: r.params for r in report.results}


PAIR_COLUMNS = ("user_id", "product_id", "views", "add_to_carts", "purchases", "units_purchased", "first_us",
                "last_us", "first_purchase_us", "last_purchase_us", "last_purchase_units")


def _save(path: Path, inter: Interactions, catalogue: Catalogue) -> None:
    np.savez(path, **{k: getattr(inter, k) for k in PAIR_COLUMNS},
             watermark_us=np.array(inter.watermark_us), catalogue_id=catalogue.product_id,
             catalogue_category=catalogue.category, catalogue_brand=catalogue.brand, catalogue_price=catalogue.price)


def _peak_rss() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited from
    the parent that forked us)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fit_one(algorithm: str, path: str, params_json: str) -> None:
    """Child process: fit one algorithm on the saved interactions; print time and peak memory."""
    started = time.perf_counter()
    with np.load(path) as f:
        inter = Interactions(**{k: f[k] for k in PAIR_COLUMNS}, watermark_us=int(f["watermark_us"]))
        catalogue = Catalogue(f["catalogue_id"], f["catalogue_category"], f["catalogue_brand"], f["catalogue_price"])
    loaded = time.perf_counter() - started
    params = json.loads(params_json) or default_params(algorithm, threads=2)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    cpu_started = time.process_time()
    try:
        trained, fit_seconds = train(inter, catalogue, algorithm=algorithm, params=params)
        stages = trained.algorithm.stage_seconds
        error = None
    except ValueError as exc:
        fit_seconds, error = None, str(exc)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # every thread's: what the fit costs whatever else the cores run
    peak = _peak_rss()
    print(json.dumps({"algorithm": algorithm, "seconds": total, "cpu_seconds": cpu, "fit_seconds": fit_seconds,
                      "load_seconds": loaded,
                      "stages": stages, "peak_bytes": peak, "error": error}))


def _stages(r: dict) -> str:
    """Where a fit's time went: the matrix build (everything before the fit), then the
    algorithm's named stages, then the rest of its fit."""
    if r["fit_seconds"] is None:
        return ""
    parts = [("matrix build", r["seconds"] - r["fit_seconds"]), *r["stages"].items()]
    rest = r["fit_seconds"] - sum(r["stages"].values())
    if r["stages"] and rest > 0.05:
        parts.append(("other", rest))
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in parts)


def _with_threads(params: dict, threads: int) -> dict:
    params = dict(params)
    if "threads" in params:
        params["threads"] = threads
    if "base_params" in params:
        params["base_params"] = _with_threads(params["base_params"], threads)
    return params


def scale(users: int, products: int, days: int, seed: int, tuned: dict[str, dict],
          algorithms: tuple[str, ...] = SCALE_ALGORITHMS) -> None:
    started = time.perf_counter()
    shop = simulate(SimulationParams(users=users, products=products, days=days, seed=seed, end=END))
    inter = shop.events.aggregate()
    catalogue = shop.catalogue  # the ranker reads brands and prices
    n_events, n_users = len(shop.events), len(np.unique(inter.user_id))
    console.print(f"scale shop: {n_events:,} events, {n_users:,} active users of {users:,}, {products:,} products, "
                  f"{len(inter):,} user-product pairs ({time.perf_counter() - started:.0f} s to simulate)")
    del shop
    table = Table(title=f"Training on all {n_events:,} events (matrix build + fit, 2 threads, fresh process)",
                  title_justify="left")
    for c in ("algorithm", "seconds", "CPU seconds", "peak memory", "within 60 s / 4 GiB", "stages (s)"):
        table.add_column(c, justify="left" if c in ("algorithm", "stages (s)") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "interactions.npz"
        _save(path, inter, catalogue)
        for algorithm in algorithms:
            params = json.dumps(_with_threads(tuned.get(algorithm, {}), 2))
            out = subprocess.run([sys.executable, __file__, "--fit-one", algorithm, str(path), params],
                                 capture_output=True, text=True, timeout=1800)
            if out.returncode != 0:
                table.add_row(algorithm, "failed", "", "", out.stderr.strip().splitlines()[-1][:60])
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if r["error"]:
                table.add_row(algorithm, "n/a", "", "", r["error"][:60])
                continue
            ok = r["seconds"] <= 60 and r["peak_bytes"] <= 4 << 30
            table.add_row(algorithm, f"{r['seconds']:.1f}", f"{r['cpu_seconds']:.1f}", f"{r['peak_bytes'] / 2**30:.2f} GiB",
                          "yes" if ok else "NO",
                          _stages(r))
    console.print(table)
    console.print(f"load average while fitting: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    dense32, dense64 = n_users**2 * 4, n_users**2 * 8
    # Time of the dense cosine product, measured on a 5,000-user slice and scaled (it grows as users^2).
    sample = min(5000, n_users)
    rng = np.random.default_rng(0)
    x = (rng.random((sample, products)) < len(inter) / (n_users * products)).astype(np.float32)
    t = time.perf_counter()
    x @ x.T
    dense_s = (time.perf_counter() - t) * (n_users / sample) ** 2
    console.print(f"dense user x user cosine (the original design) at {n_users:,} users: "
                  f"{dense32 / 2**30:,.1f} GiB as float32, {dense64 / 2**30:,.1f} GiB as float64, and about "
                  f"{dense_s:,.0f} s of dense products; user_knn above holds only the sparse matrix.")


def oracle_metrics(shop: SimulatedShop, *, with_taste: bool, k: int = 10) -> tuple[float, float]:
    """(NDCG@10 on the test split's positives, truth-NDCG@10) of ranking every item by
    ln popularity + affinity, with or without the taste term."""
    events, world = shop.events, shop.world
    points = split_points(events, test_days=14.0, validation_days=14.0)
    items = IdMap.of(shop.catalogue.product_id, events.product_id)
    test = temporal_split("test", events, shop.catalogue, WeightConfig(), points.test_cutoff_us,
                          points.end_us, items)
    product_index = world.products.product_id.searchsorted(items.ids)
    log_pop = np.log(world.products.popularity[product_index])
    ndcg = truth = 0.0
    users = test.eval_user_ids
    for a in range(0, len(users), 512):
        ids = users[a:a + 512]
        affinity = np.stack([world.affinity(int(u) - 1)[product_index] for u in ids])
        score = affinity + log_pop
        if not with_taste:
            uu = np.repeat(ids - 1, len(product_index))
            pp = np.tile(product_index, len(ids))
            score = score - taste_term(world.users.taste, world.products.taste, uu, pp).reshape(score.shape)
        top = top_k(score, k)
        ndcg += float(ranking_metrics(top, test.positives[a:a + 512])["ndcg"].sum())
        truth += float(truth_ndcg(top, affinity).sum())
    return ndcg / len(users), truth / len(users)


def rebuy_law(shop: SimulatedShop, split: Split) -> np.ndarray:
    """Test users x items: the chance, under the simulator's own re-buy law, that the user re-buys
    the item in the split's window. The law: a consumable's purchase schedules a re-buy with
    ``rebuy_probability``, after the item's true cycle times the units bought (log-normal spread),
    and with ``rebuy_together`` after the mean cycle of the order's lines; the last purchase before
    the cut-off has not come back yet. Read from the hidden parameters, which no model sees."""
    world, params = shop.world, shop.world.params
    items = split.data.items
    cycle = world.products.repurchase_days[world.products.product_id.searchsorted(items.ids)]
    history = shop.events.occurred_before(split.cutoff_us)
    bought = history.event_type == PURCHASE
    user, item = history.user_id[bought], items.index(history.product_id[bought])
    at, units = history.occurred_us[bought], history.quantity[bought]
    line_cycle = cycle[item] * units  # NaN for durables
    lines = np.ones(len(at))
    if params.rebuy_together:  # one order: the same user and checkout instant
        _, order = np.unique(np.stack((user, at // US_PER_SECOND)), axis=1, return_inverse=True)
        order = order.ravel()
        known = np.isfinite(line_cycle)
        per_order = np.bincount(order, weights=known)
        mean = np.bincount(order, weights=np.where(known, line_cycle, 0.0)) / np.maximum(per_order, 1)
        line_cycle, lines = np.where(known, mean[order], np.nan), per_order[order]
    last = np.lexsort((at, item, user))
    keep = np.ones(len(last), dtype=bool)
    keep[:-1] = (user[last][1:] != user[last][:-1]) | (item[last][1:] != item[last][:-1])
    last = last[keep & np.isfinite(line_cycle[last])]
    sigma = 0.2 / np.sqrt(np.maximum(lines[last], 1.0)) + 0.02  # the mean of the lines' spreads, and whole days

    def ran_out(at_us: int) -> np.ndarray:
        age = np.maximum((at_us - at[last]) / US_PER_DAY, 1e-3)
        return ndtr((np.log(age) - np.log(np.maximum(line_cycle[last], 1e-3))) / sigma)

    p, start, end = params.rebuy_probability, ran_out(split.cutoff_us), ran_out(split.end_us)
    chance = p * (end - start) / np.maximum(1.0 - p + p * (1.0 - start), 1e-12)
    out = np.zeros((len(split.eval_rows), len(items)))
    row = np.searchsorted(split.eval_user_ids, user[last])
    hit = (row < len(split.eval_rows)) & (split.eval_user_ids[np.minimum(row, len(split.eval_rows) - 1)] == user[last])
    out[row[hit], item[last][hit]] = chance[hit]
    return out


def oracles_on(shop: SimulatedShop, split: Split, k: int = 10) -> tuple[float, float]:
    """NDCG@k on ``split``'s positives of (the truth ranking: ln popularity + the true affinity,
    the law views follow; the re-buy law's chances first, the truth ranking after them)."""
    world = shop.world
    product_index = world.products.product_id.searchsorted(split.data.items.ids)
    log_pop = np.log(world.products.popularity[product_index])
    law = rebuy_law(shop, split)
    truth_sum = both_sum = 0.0
    users = split.eval_user_ids
    for a in range(0, len(users), 512):
        truth = np.stack([world.affinity(int(u) - 1)[product_index] for u in users[a:a + 512]]) + log_pop
        positives = split.positives[a:a + 512]
        truth_sum += float(ranking_metrics(top_k(truth, k), positives)["ndcg"].sum())
        # The truth ranking squeezed into (0, 1e-6): it only orders what the law leaves tied.
        fill = 1e-6 / (1.0 + np.exp(-(truth - truth.max(axis=1, keepdims=True))))
        both_sum += float(ranking_metrics(top_k(law[a:a + 512] + fill, k), positives)["ndcg"].sum())
    return truth_sum / len(users), both_sum / len(users)


def scenarios(names: list[str], seed: int) -> None:
    table = Table(title="Per scenario: NDCG@10 on the temporal test split (last 14 days), truth-NDCG@10 in brackets",
                  title_justify="left")
    for c in ("scenario", "events", "test users", "popularity", "item_knn", "als", "best / popularity",
              "oracle: truth ranking", "oracle: no taste term"):
        table.add_column(c, justify="left" if c == "scenario" else "right")
    for name in names:
        started = time.perf_counter()
        shop = simulate(SimulationParams.for_scenario(name, seed=seed, end=END))
        report = run_evaluation(shop.events, shop.catalogue, truth=shop.truth, seed=seed, threads=2,
                                test_days=14.0, validation_days=14.0,  # the oracles' split
                                algorithms=["popularity", "item_knn", "als"])
        r = {x.algorithm: x.test for x in report.results}
        best = max(r["item_knn"].ndcg, r["als"].ndcg)
        truth_rank = oracle_metrics(shop, with_taste=True)
        blind = oracle_metrics(shop, with_taste=False)
        cell = lambda m: f"{m.ndcg:.4f} ({m.truth_ndcg:.3f})"  # noqa: E731
        table.add_row(name, f"{len(shop.events):,}", f"{report.test_users:,}", cell(r["popularity"]),
                      cell(r["item_knn"]), cell(r["als"]), f"{best / r['popularity'].ndcg:.2f}x",
                      f"{truth_rank[0]:.4f} ({truth_rank[1]:.3f})", f"{blind[0]:.4f} ({blind[1]:.3f})")
        console.print(f"{name}: {time.perf_counter() - started:.0f} s")
    console.print(table)


def auto_per_scenario(names: list[str], seed: int) -> None:
    table = Table(title="What auto serves, per scenario: test NDCG@10 (windows sized by the data)",
                  title_justify="left")
    for c in ("scenario", "test users", "auto serves", "its NDCG@10", "best single [95%]", "popularity",
              "buy_again", "user_knn", "/ max(pop, buy)", "/ user_knn", "within best's interval",
              "oracle: truth ranking", "oracle: re-buy law + truth"):
        table.add_column(c, justify="left" if c in ("scenario", "auto serves") else "right")
    for name in names:
        started = time.perf_counter()
        shop = simulate(SimulationParams.for_scenario(name, seed=seed, end=END))
        report = run_evaluation(shop.events, shop.catalogue, truth=shop.truth, seed=seed, threads=2)
        ndcg = {r.algorithm: r.test.ndcg for r in report.results}
        chosen = report.chosen
        best = max(report.results, key=lambda r: r.test.ndcg)
        interval = report.test_intervals[best.algorithm]
        # The oracles on the very test split run_evaluation scored (same windows, same users).
        points, _ = temporal_points(shop.events, test_days=None, validation_days=None)
        test = temporal_split("test", shop.events, shop.catalogue, WeightConfig(), points.test_cutoff_us, points.end_us,
                              IdMap.of(shop.catalogue.product_id, shop.events.product_id))
        truth_rank, law = oracles_on(shop, test)
        floor = max(ndcg["popularity"], ndcg["buy_again"])
        oracle = lambda x: f"{x:.4f} ({x / floor:.2f}x, {x / ndcg['user_knn']:.2f}x)"  # noqa: E731
        table.add_row(name, f"{report.test_users:,}", chosen.algorithm, f"{chosen.test.ndcg:.4f}",
                      f"{best.algorithm} {best.test.ndcg:.4f} [{interval.low:.4f}, {interval.high:.4f}]",
                      f"{ndcg['popularity']:.4f}", f"{ndcg['buy_again']:.4f}", f"{ndcg['user_knn']:.4f}",
                      f"{chosen.test.ndcg / floor:.2f}x",
                      f"{chosen.test.ndcg / ndcg['user_knn']:.2f}x",
                      "yes" if chosen.test.ndcg >= interval.low else "NO", oracle(truth_rank), oracle(law))
        console.print(f"{name}: {time.perf_counter() - started:.0f} s; {report.choice.reason}")
        for warning in report.warnings:
            console.print(f"  warning: {warning}")
    console.print(table)


def ranker_fit(products: int, seed: int, save: str | None, against: str | None) -> None:
    from recommender.algorithms import ranker as ranker_module
    from recommender.evaluation import evaluate
    from recommender.uncertainty import PairedBootstrap

    shop = simulate(SimulationParams.for_scenario("general", seed=seed, end=END, products=products))
    events, catalogue = shop.events, shop.catalogue
    points, _ = temporal_points(events, test_days=None, validation_days=None)
    items = IdMap.of(catalogue.product_id, events.product_id)
    length = points.test_cutoff_us - points.validation_cutoff_us
    earlier_cut = points.validation_cutoff_us - length
    earlier = temporal_split("earlier", events.occurred_before(points.validation_cutoff_us), catalogue, WeightConfig(),
                             earlier_cut, points.validation_cutoff_us, items)
    validation = temporal_split("validation", events.occurred_before(points.test_cutoff_us), catalogue, WeightConfig(),
                                points.validation_cutoff_us, points.test_cutoff_us, items)
    test = temporal_split("test", events, catalogue, WeightConfig(), points.test_cutoff_us, points.end_us, items)
    console.print(f"general, {products:,} products: {len(events):,} events")
    table = Table(title="The ranker's weights: learned on one window, scored on the next", title_justify="left")
    for c in ("scored on", "users learned from", "fit_weights CPU s", "wall s", "NDCG@10 [95%]", "lead over --against"):
        table.add_column(c, justify="left" if c == "scored on" else "right")
    saved = dict(np.load(against)) if against else {}
    kept = {}
    for learn, score in ((earlier, validation), (validation, test)):
        model = ranker_module.Ranker().fit(learn.data)
        rows = learn.data.rows(learn.eval_rows)
        learned_from = len(ranker_module._learned_from(model, rows, learn.positives)[0])
        cpu, wall = time.process_time(), time.perf_counter()
        learned = ranker_module.fit_weights(model, rows, learn.positives)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        metrics = evaluate(score, ranker_module.Ranker(**learned).fit(score.data).score, k=10)
        per_user = kept[score.name] = metrics.per_user_ndcg
        bootstrap = PairedBootstrap(len(per_user), seed=0)
        lead = str(bootstrap.difference(per_user, saved[score.name])) if score.name in saved else ""
        table.add_row(score.name, f"{learned_from:,} of {len(learn.eval_rows):,}", f"{cpu:.1f}", f"{wall:.1f}",
                      str(bootstrap.mean(per_user)), lead)
    console.print(table)
    console.print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if save:
        np.savez(save, **kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit-one", nargs=3, metavar=("ALGORITHM", "NPZ", "PARAMS"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--scale-users", type=int, default=100_000)
    parser.add_argument("--scale-products", type=int, default=10_000)
    parser.add_argument("--scale-days", type=int, default=60, help="days of history (60: ~6.5M events at 100,000 users)")
    parser.add_argument("--scale-algorithms", nargs="+", choices=SCALE_ALGORITHMS, default=list(SCALE_ALGORITHMS),
                        metavar="ALGORITHM", help="the algorithms the scale run fits (default: all)")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), metavar="SCENARIO",
                        help=f"the per-scenario table instead of the runs above ({', '.join(SCENARIOS)})")
    parser.add_argument("--auto-scenarios", nargs="+", choices=list(SCENARIOS), metavar="SCENARIO",
                        help="what `shop train` serves on each scenario, against every algorithm")
    parser.add_argument("--ranker-fit", type=int, metavar="PRODUCTS",
                        help="the ranker's weights learned on a general shop of this many products, instead of the runs above")
    parser.add_argument("--save", help="with --ranker-fit: keep each window's per-user NDCG@10 in this .npz")
    parser.add_argument("--against", help="with --ranker-fit: the lead over the per-user NDCG@10 another run saved")
    args = parser.parse_args()
    if args.ranker_fit:
        ranker_fit(args.ranker_fit, args.seed, args.save, args.against)
        return
    if args.auto_scenarios:
        auto_per_scenario(args.auto_scenarios, args.seed)
        return
    if args.fit_one:
        fit_one(*args.fit_one)
        return
    if args.scenarios:
        scenarios(args.scenarios, args.seed)
        return
    # The scale run fits each algorithm with the parameters tuned on the default shop's validation split.
    tuned = {} if args.skip_quality else quality(args.seed)
    if not args.skip_scale:
        scale(args.scale_users, args.scale_products, args.scale_days, args.seed, tuned, tuple(args.scale_algorithms))


if __name__ == "__main__":
    main()
