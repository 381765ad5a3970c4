"""Sorted distinct values of an integer array: what ``np.unique(values)`` returns.

numpy 2's ``np.unique`` without indices asks ``numpy.ma`` whether the array is masked, and its
first call in a process imports ``numpy.ma`` (tens of milliseconds of CPU, paid by every
simulator process for nothing). A sort and a comparison with the neighbour give the same values.
"""

from __future__ import annotations

import numpy as np


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D integer array, ascending (as ``np.unique``)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
