"""Statistics over seeds as small pure functions.

Arrays are 1-D over seeds: `values` has shape (n_seeds,); paired arrays `a`, `b` have equal shape
(n_seeds,) and element i of both comes from the same seed (same initialization, same data draw).
Correctness matrices (fixed test set) have shape (n_seeds, n_test_points), 1 where a run classified
that test point correctly.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import signal, stats
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

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
RESAMPLES = 2000  # bootstrap resamples for P(A > B) and for the seeds x test points interval
MONTE_CARLO_PATTERNS = 2**16  # sign patterns drawn when no lattice is known (exact up to 16 non-zero differences)
ASO_ITERATIONS = 1000  # bootstrap iterations of the almost-stochastic-order bound (Dror et al. 2019)
ASO_DT = 0.005  # integration step of the violation ratio (deepsig's default)
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
    n = len(nonzero)
    if 2**n <= MONTE_CARLO_PATTERNS:  # every sign pattern
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        method, extra = "exact", 0
    else:  # random patterns; (hits + 1) / (draws + 1) keeps the p-value valid
        signs = np.random.default_rng(BOOTSTRAP_SEED).choice([-1.0, 1.0], size=(MONTE_CARLO_PATTERNS, n))
        method, extra = f"monte carlo ({MONTE_CARLO_PATTERNS} sign patterns)", 1
    sums = np.abs(signs @ nonzero)
    slack = 1e-9 * np.abs(nonzero).sum()  # equal sums added in another order may differ in the last bits
    hits = np.sum(sums >= abs(nonzero.sum()) - slack)
    return float(min(1.0, (hits + extra) / (len(signs) + extra))), method


def smallest_p(n_nonzero: int) -> float:
    """The smallest two-sided sign-flip p-value n non-zero differences can give: 2 / 2^n."""
    return min(1.0, 2.0 ** (1 - n_nonzero)) if n_nonzero > 0 else 1.0


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


def tost_p(diff: np.ndarray, margin: float) -> float:
    """Paired TOST (two one-sided t-tests, statsmodels) of |mean difference| < margin, floored at 2^-n:
    the smallest one-sided p an exact sign-flip test of the shifted differences can give, so that a few
    identical differences (zero spread, where the t-test is certain) never establish equivalence alone."""
    diff = np.asarray(diff, dtype=float)
    if len(diff) < 2 or not np.isfinite(margin):
        return math.nan
    if np.all(diff == diff[0]):
        p_value = 0.0 if -margin < diff[0] < margin else 1.0
    else:
        p_value = float(ttost_paired(diff, np.zeros_like(diff), -margin, margin)[0])
    return max(p_value, 0.5 ** len(diff))


def minimum_detectable_effect(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The mean paired difference a two-sided paired t-test at `alpha` detects with `power`, given the
    observed sd of the differences (statsmodels TTestPower); NaN below 2 seeds."""
    if n < 2 or not np.isfinite(sd):
        return math.nan
    effect = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return float(effect * sd)


def seeds_needed(sd: float, margin: float, comparisons: int, alpha: float = ALPHA, power: float = POWER) -> int:
    """Seeds per condition for a decision: enough for the sign-flip test to reach alpha after Holm over
    `comparisons` tests, and for a paired t-test to detect a difference of one margin with `power`."""
    reach = math.floor(1 + math.log2(max(1, comparisons) / alpha)) + 1  # smallest n with m 2^(1-n) < alpha
    if not (np.isfinite(sd) and np.isfinite(margin)) or sd == 0:  # no spread, or no margin to resolve
        return reach
    effect = margin / sd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the root finder warns where it fails (very large or small effects)
        n = TTestPower().solve_power(effect_size=effect, nobs=None, alpha=alpha, power=power, alternative="two-sided")
    if not np.isfinite(n):  # the normal approximation, plus the t-test's small-sample correction of about 2
        n = ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) / effect) ** 2 + 2
    return int(max(reach, math.ceil(n)))


def paired_comparison(a: np.ndarray, b: np.ndarray, margin: float, higher_is_better: bool = True,
                      resolution: float | None = None) -> dict[str, float]:
    """A against B seed by seed (element i of both from the same seed): difference a - b with its
    t-interval, exact sign-flip p, P(A > B) with its bootstrap interval, eps_min, paired TOST against
    `margin`, the minimum detectable effect at 80% power, and the smallest p the design can give."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a - b
    a_steps, b_steps = lattice_steps(a, resolution), lattice_steps(b, resolution)
    if a_steps is not None and b_steps is not None:  # counts over N points: how float32 rounded each accuracy
        a, b, diff = a_steps * resolution, b_steps * resolution, (a_steps - b_steps) * resolution  # makes no tie
    low, high = t_interval(diff)
    p_value, method = sign_flip_p(diff, resolution)
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
        "p_value": p_value,
        "p_method": method,
        "min_p": smallest_p(int(np.count_nonzero(diff))) if len(diff) else 1.0,
        "prob_improvement": probability_of_improvement(sign * a, sign * b),
        "prob_improvement_low": prob_low,
        "prob_improvement_high": prob_high,
        "eps_min": eps_min(sign * a, sign * b),
        "margin": float(margin),
        "p_tost": tost_p(diff, margin),
        "mde": minimum_detectable_effect(sd, len(diff)),
    }


def two_way_bootstrap(diff: np.ndarray, seed: int = BOOTSTRAP_SEED, resamples: int = RESAMPLES) -> np.ndarray:
    """Bootstrap means of a (n_seeds, n_points) difference matrix, resampling seeds and test points
    independently (seeds as multinomial weights, then points drawn with replacement)."""
    n_seeds, n_points = diff.shape
    rng = np.random.default_rng(seed)
    seed_weights = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=resamples).astype(np.float32)
    by_point = seed_weights @ diff.astype(np.float32)  # (resamples, n_points): resampled seeds' sum per point
    means = np.empty(resamples)
    for start in range(0, resamples, 200):  # 200 x n_points drawn points at a time
        stop = min(start + 200, resamples)
        points = rng.integers(0, n_points, size=(stop - start, n_points))
        means[start:stop] = np.take_along_axis(by_point[start:stop], points, axis=1).sum(axis=1, dtype=np.float64)
    return means / (n_seeds * n_points)


def fixed_test_set_comparison(correct_a: np.ndarray, correct_b: np.ndarray, margin: float) -> dict[str, float]:
    """Accuracy of A against B on one fixed test set, with test-point sampling counted.

    correct_a, correct_b: (n_seeds, n_points), paired by seed. The interval resamples seeds and test
    points (two-way bootstrap); the p-value is the exact sign-flip test over test points of the per-point
    difference averaged over seeds (a multiple of 1/n_seeds); TOST reads the bootstrap distribution.
    """
    diff = correct_a.astype(np.int8) - correct_b.astype(np.int8)
    per_point = diff.mean(axis=0)
    boot = two_way_bootstrap(diff)
    low, high = np.quantile(boot, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    p_value, method = sign_flip_p(per_point, resolution=1 / diff.shape[0])
    return {
        "test_points": int(diff.shape[1]),
        "diff_ci_low": float(low),
        "diff_ci_high": float(high),
        "p_value": p_value,
        "p_method": method,
        "min_p": smallest_p(int(np.count_nonzero(per_point))),
        "p_tost": float(max(np.mean(boot <= -margin), np.mean(boot >= margin))),
        "mde": minimum_detectable_effect(float(per_point.std(ddof=1)), len(per_point)),
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
