"""How sure a score is: bootstrap intervals over the samples a score was computed from.

A score from 500 samples is itself a sample: drawn again, it comes out a little different. The
percentile bootstrap redraws the samples (with replacement, each group on its own: generated and
real images separately) and recomputes the score; the middle ``LEVEL`` of those recomputed
scores is the interval. Two models whose intervals overlap are not shown to differ.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

LEVEL = 0.9  # the middle 90% of the bootstrap scores
DRAWS = 200  # for cheap statistics (means, shares)
COSTLY_DRAWS = 30  # for statistics with a matrix square root (Fréchet distance)


def bootstrap_interval(statistic: Callable[..., float], groups: Sequence[np.ndarray], draws: int = DRAWS,
                       seed: int = 0, level: float = LEVEL) -> tuple[float, float]:
    """(low, high): the central ``level`` of ``statistic`` over ``draws`` resamplings of ``groups``.

    Each group is an array whose first axis is the samples; each is resampled on its own, with
    replacement and at its own size. Non-finite recomputed values are left out.
    """
    generator = np.random.default_rng(seed)
    arrays = [np.asarray(group) for group in groups]
    values = []
    for _ in range(int(draws)):
        picks = [array[generator.integers(0, len(array), len(array))] for array in arrays]
        value = float(statistic(*picks))
        if np.isfinite(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(values, seed: int = 0) -> tuple[float, float]:
    """The interval of a mean of per-sample values."""
    return bootstrap_interval(np.mean, [np.asarray(values, dtype=np.float64).reshape(-1)], seed=seed)


def ratio_interval(numerators, denominators, seed: int = 0) -> tuple[float, float]:
    """The interval of mean(numerators) / mean(denominators), each group resampled on its own."""
    def ratio(top, bottom):
        below = float(np.mean(bottom))
        return float(np.mean(top)) / below if below > 0 else float("nan")
    return bootstrap_interval(ratio, [np.asarray(numerators, dtype=np.float64).reshape(-1),
                                      np.asarray(denominators, dtype=np.float64).reshape(-1)], seed=seed)


def differ(first: tuple[float, float] | None, second: tuple[float, float] | None) -> bool:
    """Whether two intervals do not overlap (so the scores differ by more than their uncertainty).
    Without an interval for either, nothing is known: True, as before intervals existed."""
    if not first or not second or any(not np.isfinite(value) for value in (*first, *second)):
        return True
    return first[1] < second[0] or second[1] < first[0]
