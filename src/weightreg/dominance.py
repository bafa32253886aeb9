"""How often one condition's runs beat another's, over seeds: the probability of improvement P(A > B) with its
bootstrap interval (rliable), and almost stochastic order's eps_min (Dror et al. 2019, deepsig's algorithm).
Paired arrays `a`, `b` have shape (n_seeds,)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0
RESAMPLES = 2000  # bootstrap resamples for P(A > B)
ASO_ITERATIONS = 1000  # bootstrap iterations of the almost-stochastic-order bound (Dror et al. 2019)
ASO_DT = 0.005  # integration step of the violation ratio (deepsig's default)


def probability_of_improvement(a: np.ndarray, b: np.ndarray) -> float:
    """P(A > B) over all pairs of runs, ties counting one half (rliable's probability of improvement)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.mean((a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])))


def probability_of_improvement_interval(a: np.ndarray, b: np.ndarray, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95% percentile bootstrap interval of P(A > B), resampling seeds (pairs kept together)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2:
        return math.nan, math.nan
    rows = np.random.default_rng(seed).integers(0, len(a), size=(RESAMPLES, len(a)))
    boot = [probability_of_improvement(a[r], b[r]) for r in rows]
    low, high = np.quantile(boot, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(low), float(high)


def violation_ratio(a: np.ndarray, b: np.ndarray, dt: float = ASO_DT) -> float:
    """del Barrio et al.'s violation ratio of "A is stochastically larger than B" (deepsig's definition):
    the share of the squared Wasserstein distance between the quantile functions where A's is below B's."""
    t = np.arange(dt, 1, dt)
    f, g = empirical_quantiles(np.asarray(a, dtype=float), t), empirical_quantiles(np.asarray(b, dtype=float), t)
    return float(violation_ratios(f[None], g[None], dt)[0])


def empirical_quantiles(values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """F^-1(t) of the empirical distribution: the ceil(n t)-th smallest value; values (..., n) -> (..., len(t))."""
    ordered = np.sort(values, axis=-1)
    n = ordered.shape[-1]
    return ordered[..., np.clip(np.ceil(n * t).astype(int) - 1, 0, n - 1)]


def violation_ratios(f: np.ndarray, g: np.ndarray, dt: float) -> np.ndarray:
    """Row-wise violation ratio of quantile rows f (A) and g (B); 0.5 where the distributions coincide."""
    diff = g - f
    distance = np.sum(diff**2 * dt, axis=-1)
    violated = np.where(f >= g, 0.0, diff)[..., 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sum(violated**2 * dt, axis=-1) / distance
    return np.where(distance == 0, 0.5, ratio)


def eps_min(a: np.ndarray, b: np.ndarray, seed: int = BOOTSTRAP_SEED, iterations: int = ASO_ITERATIONS) -> float:
    """Almost stochastic order (Dror et al. 2019), the algorithm of deepsig.aso vectorized: an upper
    confidence bound (95%) on the violation ratio of "A is better than B". Below 0.5: A is almost
    stochastically larger; near 0: A's scores dominate B's. deepsig itself takes seconds per call."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    t = np.arange(ASO_DT, 1, ASO_DT)
    ratio = violation_ratio(a, b)
    rng = np.random.default_rng(seed)
    f = empirical_quantiles(a, rng.uniform(0, 1, (iterations, len(a))))  # a bootstrap sample drawn via F^-1(U)
    g = empirical_quantiles(b, rng.uniform(0, 1, (iterations, len(b))))
    samples = violation_ratios(empirical_quantiles(f, t), empirical_quantiles(g, t), ASO_DT)
    const = math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    sigma = np.std(const * (samples - ratio))
    return float(np.clip(ratio - sigma / const * stats.norm.ppf(1 - CONFIDENCE), 0, 1))
