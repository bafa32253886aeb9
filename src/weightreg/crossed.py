"""Accuracy on one fixed test set, with seeds and test points both random: a crossed random-effects analysis.

    python benchmarks/calibrate.py --quick      # its false-claim rates under simulated nulls of our own designs

The differences D (n_seeds, n_points), D[i, j] = correct_A[i, j] - correct_B[i, j], follow
D = mu + s_i + p_j + e_ij: a seed moves all of its test points at once (s), a test point is helped or hurt by
the penalty whichever seed trained (p), and the rest is the interaction (e). Claims are about new seeds *and*
new test points, so the variance of the mean counts both: from the two-way layout's mean squares,

    Var(mean) = s2_seeds / n_seeds + s2_points / n_points + s2_residual / (n_seeds n_points),

with Satterthwaite's degrees of freedom (Clark 1973's quasi-F, F'; a component estimated below zero is set to
zero, which leaves the one-way test of the other source). The p-value, the 95% and 90% intervals and the TOST
all read this one t-distribution, so p < 0.05 exactly when the 95% interval excludes 0, and "equivalent" at
5% exactly when the 90% interval lies inside the margin. On fewer than SMALL_TEST_SET test points no
equivalence is tested (see there).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from weightreg.stats import ALPHA, CONFIDENCE, POWER, decision_z, t_power_size

# Below this many test points the TOST's false-equivalence rate exceeded its level in the calibration (7-9% at a
# nominal 5% on 30 x 70 moons points: the spread shrinks with the difference, as discordant points get fewer), so
# a fixed test set that small gets no equivalence test; its differences are tested (their rate stays under 5%).
SMALL_TEST_SET = 1000


def variance_components(diff: np.ndarray) -> dict[str, float]:
    """Mean squares of the two-way layout without replication and the variance components they estimate."""
    n_seeds, n_points = diff.shape
    diff = diff.astype(np.float64)
    mean = diff.mean()
    by_seed, by_point = diff.mean(axis=1), diff.mean(axis=0)
    ms_seeds = n_points * np.sum((by_seed - mean) ** 2) / (n_seeds - 1)
    ms_points = n_seeds * np.sum((by_point - mean) ** 2) / (n_points - 1)
    total = np.sum((diff - mean) ** 2)
    residual = total - (n_seeds - 1) * ms_seeds - (n_points - 1) * ms_points
    ms_residual = max(residual, 0.0) / ((n_seeds - 1) * (n_points - 1))
    return {
        "mean": float(mean), "n_seeds": n_seeds, "n_points": n_points,
        "ms_seeds": float(ms_seeds), "ms_points": float(ms_points), "ms_residual": float(ms_residual),
        "var_seeds": max(0.0, float(ms_seeds - ms_residual) / n_points),
        "var_points": max(0.0, float(ms_points - ms_residual) / n_seeds),
        "var_residual": float(ms_residual),
    }


def standard_error(c: dict) -> tuple[float, float]:
    """(se, df) of the mean: the variance components' estimate and its Satterthwaite degrees of freedom."""
    se, df = standard_errors(c["n_seeds"], c["n_points"], *(np.array([c[k]]) for k in ("ms_seeds", "ms_points", "ms_residual")))
    return float(se[0]), float(df[0])


def standard_errors(n_s: int, n_p: int, ms_s: np.ndarray, ms_p: np.ndarray, ms_e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """standard_error over arrays of mean squares. n_s n_p Var(mean) is a combination of mean squares: seeds'
    and points' where their component is positive, the residual's for the rest (coefficient 1 - k_s - k_p)."""
    k_s, k_p = (ms_s > ms_e).astype(float), (ms_p > ms_e).astype(float)
    k_e = 1.0 - k_s - k_p
    combined = k_s * ms_s + k_p * ms_p + k_e * ms_e
    spread = (k_s * ms_s) ** 2 / max(n_s - 1, 1) + (k_p * ms_p) ** 2 / max(n_p - 1, 1) + (k_e * ms_e) ** 2 / max((n_s - 1) * (n_p - 1), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(spread > 0, combined**2 / spread, np.inf)
    return np.sqrt(np.maximum(combined, 0) / (n_s * n_p)), df


def crossed_comparison(correct_a: np.ndarray, correct_b: np.ndarray, margin: float) -> dict:
    """A against B on one fixed test set: correct_a, correct_b (n_seeds, n_points), paired by seed."""
    diff = correct_a.astype(np.int8) - correct_b.astype(np.int8)
    c = variance_components(diff)
    se, df = standard_error(c)
    mean = c["mean"]
    low, high = interval(mean, se, df, CONFIDENCE)
    low90, high90 = interval(mean, se, df, 1 - 2 * ALPHA)
    return {
        "unit": "seeds x test points",
        "test_points": c["n_points"],
        "diff_ci_low": low, "diff_ci_high": high, "diff_ci90_low": low90, "diff_ci90_high": high90,
        "p_value": two_sided_p(mean, se, df),
        "p_method": "crossed random effects of seeds and test points (Satterthwaite t, "
                    + ("df inf" if not np.isfinite(df) else f"df {df:.1f}") + ")",
        "min_p": 0.0,
        # too few test points: the TOST claims equivalence above its level (calibration), so none is claimed
        "p_tost": tost_p(mean, se, df, margin) if c["n_points"] >= SMALL_TEST_SET else math.nan,
        "se": se, "df": df,
        "var_seeds": c["var_seeds"], "var_points": c["var_points"], "var_residual": c["var_residual"],
    }


def interval(mean: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    half = stats.t.ppf(0.5 + confidence / 2, df) * se if se > 0 else 0.0
    return float(mean - half), float(mean + half)


def two_sided_p(mean: float, se: float, df: float) -> float:
    if se == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * stats.t.sf(abs(mean) / se, df))


def tost_p(mean: float, se: float, df: float, margin: float) -> float:
    """The larger of the one-sided tests of mean <= -margin and mean >= margin."""
    if not np.isfinite(margin):
        return math.nan
    if se == 0:
        return 0.0 if -margin < mean < margin else 1.0
    return float(max(stats.t.sf((mean + margin) / se, df), stats.t.cdf((mean - margin) / se, df)))


def minimum_detectable_effect(se: float, comparisons: int, power: float = POWER) -> float:
    """The difference found with `power` at Holm's first step (two-sided alpha / comparisons), given the standard
    error of the comparison (normal approximation)."""
    alpha = ALPHA / max(1, comparisons)
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se) if np.isfinite(se) else math.nan


def decision_size(row: dict, comparisons: int, power: float = POWER) -> tuple[float, float]:
    """(seeds, test points) per condition at which a comparison decides: a difference of one margin found, and
    a zero difference shown equivalent, each with `power` at Holm's first step (alpha / comparisons).

    Seeds only (redrawn data): a paired t-test's size for the seed-level sd. Fixed test set: the seeds at the
    study's test points, inf where the test-point component alone keeps the standard error above what the
    margin needs (no number of seeds decides); then the test points needed at the study's seeds (inf where
    that is out of reach too). NaN where no margin or no spread is known."""
    margin, alpha = row["margin"], ALPHA / max(1, comparisons)
    if not np.isfinite(margin):
        return math.nan, math.nan
    if row["unit"] == "seeds":
        return t_power_size(math.sqrt(row["var_seeds"]), margin, alpha, power), math.nan
    target = (margin / decision_z(alpha, power)) ** 2  # the largest Var(mean) that decides
    n_s, n_p = row["n"], row["test_points"]
    v_s, v_p, v_e = row["var_seeds"], row["var_points"], row["var_residual"]
    room_for_seeds = target - v_p / n_p
    seeds = math.ceil((v_s + v_e / n_p) / room_for_seeds) if room_for_seeds > 0 else math.inf
    room_for_points = target - v_s / n_s
    points = math.ceil((v_p + v_e / n_s) / room_for_points) if room_for_points > 0 else math.inf
    return float(max(seeds, 2)), float(max(points, 2))

