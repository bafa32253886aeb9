"""Statistics over seeds as small pure functions.

Arrays are 1-D over seeds: `values` has shape (n_seeds,); paired arrays `a`, `b` have equal shape
(n_seeds,) and element i of both comes from the same seed (same initialization, same data draw).
Correctness matrices (fixed test set) have shape (n_seeds, n_test_points), 1 where a run classified
that test point correctly.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import signal, stats

from weightreg.dominance import BOOTSTRAP_SEED, CONFIDENCE, eps_min, probability_of_improvement, probability_of_improvement_interval

BOOTSTRAP_MIN_N = 10
BOOTSTRAP_RESAMPLES = 9999


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


# --- Paired comparisons: exact tests, effect sizes, equivalence, power, verdicts -------------------

ALPHA = 0.05
POWER = 0.80
MONTE_CARLO_PATTERNS = 2**16  # sign patterns drawn when no lattice is known (exact up to 16 non-zero differences)
VERDICTS = ("better", "worse", "equivalent", "inconclusive")


def lattice_sign_flip_p(steps: np.ndarray) -> float:
    """Exact two-sided sign-flip p-value of integer differences k_i: P(|sum e_i k_i| >= |sum k_i|),
    e uniform over the 2^n sign patterns. The m differences of one size k add k (2B - m), B ~ Bin(m, 1/2),
    so the null distribution is one binomial kernel per distinct size, convolved."""
    steps = np.asarray(steps, dtype=np.int64)
    observed = abs(int(steps.sum()))
    sizes, counts = np.unique(np.abs(steps[steps != 0]), return_counts=True)
    probability = np.ones(1)  # index i stands for the sum i - (len - 1) / 2
    for k, m in zip(sizes, counts):
        kernel = np.zeros(2 * k * m + 1)
        kernel[:: 2 * k] = stats.binom.pmf(np.arange(m + 1), m, 0.5)
        probability = signal.fftconvolve(probability, kernel) if len(kernel) * len(probability) > 10**6 else np.convolve(probability, kernel)
    total = (len(probability) - 1) // 2
    sums = np.arange(-total, total + 1)
    return float(min(1.0, np.clip(probability, 0, None)[np.abs(sums) >= observed].sum()))


def lattice_steps(diff: np.ndarray, resolution: float | None) -> np.ndarray | None:
    """diff as whole multiples of `resolution` (accuracy differences on N points: steps of 1/N), or None
    where resolution is None or some difference is not within 5% of a multiple."""
    if resolution is None:
        return None
    steps = np.rint(diff / resolution)
    return steps if np.all(np.abs(steps * resolution - diff) <= 0.05 * resolution) else None


def sign_flip_p(diff: np.ndarray, resolution: float | None = None) -> tuple[float, str]:
    """Two-sided paired permutation (sign-flip) test of a zero mean difference; returns (p, method).

    Zero differences flip to themselves and tied magnitudes need no correction, so the p-value is
    exact with ties and zeros. Differences that are multiples of `resolution` (accuracy on N test
    points: 1/N) get the exact distribution by convolution; others every sign pattern up to 16
    non-zero differences, else 65,536 random patterns (seeded).
    """
    diff = np.asarray(diff, dtype=float)
    nonzero = diff[diff != 0]
    if len(nonzero) == 0:
        return 1.0, "exact"
    steps = lattice_steps(nonzero, resolution)
    if steps is not None:
        return lattice_sign_flip_p(steps), "exact"
    signs, method, extra = sign_patterns(len(nonzero))
    sums = np.abs(signs @ nonzero)
    slack = 1e-9 * np.abs(nonzero).sum()  # equal sums added in another order may differ in the last bits
    hits = np.sum(sums >= abs(nonzero.sum()) - slack)
    return float(min(1.0, (hits + extra) / (len(signs) + extra))), method


def smallest_p(n_nonzero: int) -> float:
    """The smallest two-sided sign-flip p-value n non-zero differences can give: 2 / 2^n."""
    return min(1.0, 2.0 ** (1 - n_nonzero)) if n_nonzero > 0 else 1.0


@functools.lru_cache(maxsize=8)
def sign_patterns(n: int) -> tuple[np.ndarray, str, int]:
    """The sign patterns of a sign-flip test of n differences: all 2^n up to 16, else 65,536 drawn (seeded);
    returns (patterns (P, n), method, extra), extra = 1 where drawn ((hits + 1) / (draws + 1) keeps p valid)."""
    if 2**n <= MONTE_CARLO_PATTERNS:
        patterns, method, extra = 1.0 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1), "exact", 0
    else:
        patterns = np.random.default_rng(BOOTSTRAP_SEED).choice([-1.0, 1.0], size=(MONTE_CARLO_PATTERNS, n))
        method, extra = f"monte carlo ({MONTE_CARLO_PATTERNS} sign patterns)", 1
    patterns.flags.writeable = False  # shared by every caller (cached)
    return patterns, method, extra


class ShiftedSignFlip:
    """Sign-flip tests of "mean difference = delta" for any delta, over one set of sign patterns: the
    null sums of d - delta are S - delta T (S = patterns @ d, T = patterns @ 1), so every delta costs O(P).
    Inverting them gives the interval that goes with the test; shifting by +-margin gives its TOST."""

    def __init__(self, diff: np.ndarray):
        self.diff = np.asarray(diff, dtype=float)
        self.patterns, self.method, self.extra = sign_patterns(len(self.diff))
        self.sums, self.signs = self.patterns @ self.diff, self.patterns.sum(axis=1)
        self.slack = 1e-9 * (np.abs(self.diff).sum() + 1e-12)  # sums added in another order differ in the last bits

    def p(self, delta: float, alternative: str = "two-sided") -> float:
        null = self.sums - delta * self.signs
        observed = self.diff.sum() - delta * len(self.diff)
        if alternative == "greater":  # H1: mean > delta
            hits = np.sum(null >= observed - self.slack)
        elif alternative == "less":
            hits = np.sum(null <= observed + self.slack)
        else:
            hits = np.sum(np.abs(null) >= abs(observed) - self.slack)
        return float(min(1.0, (hits + self.extra) / (len(null) + self.extra)))

    def interval(self, confidence: float) -> tuple[float, float]:
        """Every delta the two-sided test at 1 - confidence does not reject; infinite where no delta is rejected
        (too few seeds: n differences give p >= 2 / 2^n)."""
        alpha = 1 - confidence
        if smallest_p(len(self.diff)) > alpha:
            return -math.inf, math.inf
        centre = float(self.diff.mean())
        spread = float(np.ptp(self.diff)) + 1e-12
        return (self.crossing(centre - spread, centre, alpha), self.crossing(centre + spread, centre, alpha))

    def crossing(self, rejected: float, kept: float, alpha: float, steps: int = 60) -> float:
        """Bisection between a delta the test rejects and one it keeps, to the boundary of the kept set."""
        for _ in range(steps):
            middle = (rejected + kept) / 2
            rejected, kept = (middle, kept) if self.p(middle) <= alpha else (rejected, middle)
        return float(kept)

    def tost(self, margin: float) -> float:
        """Two one-sided sign-flip tests of |mean| < margin: the larger of P(mean <= -margin) and P(mean >= margin)."""
        if not np.isfinite(margin):
            return math.nan
        return max(self.p(-margin, "greater"), self.p(margin, "less"))


def t_power_size(sd: float, margin: float, alpha: float, power: float = POWER, limit: int = 100_000) -> float:
    """Seeds for a paired t-test at `alpha` to detect one margin with `power` and to show a zero difference
    equivalent within it (the larger); NaN where the spread is unknown or zero."""
    if not (np.isfinite(sd) and np.isfinite(margin)) or sd <= 0:
        return math.nan
    for n in range(2, limit):
        se = sd / math.sqrt(n)
        if margin / se >= decision_z(alpha, power, n - 1):
            return float(n)
    return math.inf


def decision_z(alpha: float, power: float, df: float = math.inf) -> float:
    """Standard errors a margin must span for a decision: a difference of one margin found with `power` at
    two-sided `alpha`, and a zero difference shown equivalent (TOST) with the same power (the larger)."""
    q = (lambda p: stats.t.ppf(p, df)) if np.isfinite(df) else stats.norm.ppf
    return float(max(q(1 - alpha / 2) + q(power), q(1 - alpha) + q(1 - (1 - power) / 2)))


def paired_comparison(a: np.ndarray, b: np.ndarray, margin: float, higher_is_better: bool = True,
                      resolution: float | None = None) -> dict[str, float]:
    """A against B seed by seed (element i of both from the same seed and the same data draw): the seeds are
    the only source of variation, so one sign-flip analysis gives the exact p-value (on the 1/N lattice for
    accuracies), the 95% and 90% intervals (its inversion) and the TOST against `margin`; P(A > B) and eps_min
    are over seeds too."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a - b
    a_steps, b_steps = lattice_steps(a, resolution), lattice_steps(b, resolution)
    if a_steps is not None and b_steps is not None:  # counts over N points: how float32 rounded each accuracy
        a, b, diff = a_steps * resolution, b_steps * resolution, (a_steps - b_steps) * resolution  # makes no tie
    p_value, method = sign_flip_p(diff, resolution)
    shifted = ShiftedSignFlip(diff)
    low, high = shifted.interval(CONFIDENCE)
    low90, high90 = shifted.interval(1 - 2 * ALPHA)
    sign = 1.0 if higher_is_better else -1.0
    prob_low, prob_high = probability_of_improvement_interval(sign * a, sign * b)
    sd = float(diff.std(ddof=1)) if len(diff) > 1 else math.nan
    return {
        "n": int(len(diff)),
        "unit": "seeds",
        "diff_mean": float(diff.mean()),
        "diff_sd": sd,
        "diff_ci_low": low,
        "diff_ci_high": high,
        "diff_ci90_low": low90,
        "diff_ci90_high": high90,
        "p_value": p_value,
        "p_method": f"sign-flip over seeds ({method})",
        "min_p": smallest_p(int(np.count_nonzero(diff))) if len(diff) else 1.0,
        "prob_improvement": probability_of_improvement(sign * a, sign * b),
        "prob_improvement_low": prob_low,
        "prob_improvement_high": prob_high,
        "eps_min": eps_min(sign * a, sign * b),
        "prob_unit": "seeds",
        "margin": float(margin),
        "p_tost": shifted.tost(margin) if len(diff) > 1 else math.nan,
        "se": sd / math.sqrt(len(diff)) if len(diff) > 1 else math.nan,
        "var_seeds": sd**2 if len(diff) > 1 else math.nan,
        "var_points": 0.0,
        "var_residual": 0.0,
        "test_points": 0,
    }


def verdict(row: dict, higher_is_better: bool = True, alpha: float = ALPHA) -> str:
    """better / worse / equivalent (within the margin) / inconclusive, from the Holm-adjusted p-values
    and the interval: a difference needs p_holm < alpha and an interval that excludes zero."""
    if row["p_holm"] < alpha and (row["diff_ci_low"] > 0 or row["diff_ci_high"] < 0):
        improved = (row["diff_mean"] > 0) == higher_is_better
        return "better" if improved else "worse"
    if row["p_tost_holm"] < alpha:
        return "equivalent"
    return "inconclusive"
