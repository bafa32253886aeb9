"""Statistics over seeds as small pure functions.

Arrays are 1-D over seeds: `values` has shape (n_seeds,); paired arrays `a`, `b` have equal shape
(n_seeds,) and element i of both comes from the same seed (same initialization, same data draw).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_MIN_N = 10
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 0


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval for the mean: mean +- t_{n-1} * sd / sqrt(n). NaN if n < 2."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean, sd = values.mean(), values.std(ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return float(mean - half), float(mean + half)


def bca_interval(values: np.ndarray, confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """BCa bootstrap interval of the mean (scipy.stats.bootstrap, fixed seed); NaN if n < 10.

    All-equal values give the degenerate interval (v, v): nothing varies to resample.
    """
    values = np.asarray(values, dtype=float)
    if len(values) < BOOTSTRAP_MIN_N:
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (values,), np.mean, confidence_level=confidence, method="BCa",
            n_resamples=BOOTSTRAP_RESAMPLES, rng=np.random.default_rng(seed),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def summarize(values: np.ndarray) -> dict[str, float]:
    """mean, sample sd (ddof=1), n, 95% t-interval and BCa interval of one cell's seeds."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:  # every run of the cell diverged
        return {"mean": math.nan, "sd": math.nan, "n": 0, "ci_low": math.nan, "ci_high": math.nan,
                "bca_low": math.nan, "bca_high": math.nan}
    t_low, t_high = t_interval(values)
    b_low, b_high = bca_interval(values)
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        "n": int(len(values)),
        "ci_low": t_low,
        "ci_high": t_high,
        "bca_low": b_low,
        "bca_high": b_high,
    }


def prediction_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Where one new run is expected to fall: mean +- t_{n-1} * sd * sqrt(1 + 1/n)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) * math.sqrt(1 + 1 / n)
    return float(values.mean() - half), float(values.mean() + half)


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion, e.g. one run's accuracy on `trials` test points."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return centre - half, centre + half


def paired_comparison(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """A against B seed by seed: mean difference a - b with its t-interval, Wilcoxon signed-rank
    p-value (two-sided; 1.0 when every difference is zero) and P(A > B), ties counting one half."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a - b
    low, high = t_interval(diff)
    if np.all(diff == 0):
        p_value = 1.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_value = float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    return {
        "diff_mean": float(diff.mean()),
        "diff_ci_low": low,
        "diff_ci_high": high,
        "p_wilcoxon": p_value,
        "p_improvement": float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0)),
        "n": int(len(diff)),
    }


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
