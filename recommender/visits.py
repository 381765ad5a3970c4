"""How many visits each user spent in each category, from the pair rows' first and last times.

A visit dwells on one or two interests and may look at a dozen products of one category; a
view count weighs such a visit a dozen times, so a user's category shares read from views (or
from per-pair strength) follow a few long visits. Counting visits instead, once per category
each, measures how often the user comes for the category: a much steadier estimate of taste.

The pair rows (``marts.user_item_interactions``) carry no visit ids, but their first and last
interaction times do: a user's touches (each pair's first time, and its last time when that is
in another visit) closer than ``VISIT_GAP_US`` to the previous one belong to the same visit.
Each (visit, category) counts 1, shared among the touches of that category in the visit, so

    visits[u, i] = the share of item i in the visits of user u, by category,
    sum of visits[u, i] over the items of category c = the visits of u that touched c.

A pair seen in several visits in between its first and last is counted in two: an
approximation that costs little, since repeated pairs are the popular items anyway.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

VISIT_GAP_US = 30 * 60 * 1_000_000  # 30 minutes of quiet end a visit (the usual web-analytics rule)


def category_visits(
    row: np.ndarray, col: np.ndarray, first_us: np.ndarray, last_us: np.ndarray,
    item_category: np.ndarray, shape: tuple[int, int],
) -> sp.csr_matrix:
    """Users x items visit shares (see the module docstring) of pairs (``row``, ``col``)."""
    second = (last_us - first_us) > VISIT_GAP_US
    user = np.concatenate((row, row[second])).astype(np.int64)
    item = np.concatenate((col, col[second])).astype(np.int64)
    at = np.concatenate((first_us, last_us[second]))
    # Touches by user, then time: one argsort of a combined key (seconds are fine enough for
    # a 30-minute gap) is faster than a lexsort at millions of pairs.
    seconds = (at - at.min(initial=0)) // 1_000_000
    span = int(seconds.max(initial=0)) + 1
    if int(user.max(initial=0)) < (1 << 62) // span:
        order = np.argsort(user * span + seconds)
    else:
        order = np.lexsort((at, user))
    user, item, at = user[order], item[order], at[order]
    starts = np.ones(len(user), dtype=bool)
    starts[1:] = (user[1:] != user[:-1]) | (np.diff(at) > VISIT_GAP_US)
    n_groups = int(item_category.max(initial=-1)) + 2  # the last group: items of unknown category
    group = np.where(item_category[item] >= 0, item_category[item], n_groups - 1)
    unit_key = (np.cumsum(starts) - 1) * n_groups + group
    # Touches of one (visit, category): the keys are already in visit order, so a stable
    # sort (timsort) only has to merge short runs.
    by_unit = np.argsort(unit_key, kind="stable")
    sorted_key = unit_key[by_unit]
    new_unit = np.ones(len(sorted_key), dtype=bool)
    new_unit[1:] = sorted_key[1:] != sorted_key[:-1]
    unit = np.cumsum(new_unit) - 1
    share = np.empty(len(unit), dtype=np.float32)
    share[by_unit] = 1.0 / np.bincount(unit)[unit]
    out = sp.csr_matrix((share, (user, item)), shape=shape, dtype=np.float32)
    out.sum_duplicates()
    out.sort_indices()
    return out


def fresh_visit(items: np.ndarray, item_category: np.ndarray, n_items: int) -> np.ndarray:
    """Dense visit shares of one new visit that touched ``items`` (fresh events carry no times:
    the events since the model's watermark count as one visit)."""
    out = np.zeros(n_items, dtype=np.float32)
    items = np.unique(np.asarray(items, dtype=np.int64))
    if len(items) == 0:
        return out
    group = np.where(item_category[items] >= 0, item_category[items], -1)
    _, unit, touches = np.unique(group, return_inverse=True, return_counts=True)
    out[items] = 1.0 / touches[unit]
    return out
