"""Statistics against values computed by hand (or from closed forms)."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from weightreg.crossed import crossed_comparison, decision_size, minimum_detectable_effect, variance_components
from weightreg.dominance import eps_min, probability_of_improvement, violation_ratio
from weightreg.stats import (ShiftedSignFlip, bca_interval, holm, lattice_sign_flip_p, paired_comparison, prediction_interval,
                             sign_flip_p, smallest_p, summarize, t_interval, t_power_size, verdict, wilson_interval)


def test_t_interval_by_hand():
    # values 1, 2, 3: mean 2, sd 1, n 3; t_{0.975, 2} = 4.302652729749462
    low, high = t_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302652729749462 / math.sqrt(3)
    assert low == pytest.approx(2 - half, abs=1e-12)
    assert high == pytest.approx(2 + half, abs=1e-12)


def test_summarize_uses_sample_sd_and_counts():
    cell = summarize(np.array([0.9, 0.8, 1.0, 0.9]))
    assert cell["mean"] == pytest.approx(0.9)
    assert cell["sd"] == pytest.approx(math.sqrt(0.02 / 3))
    assert cell["n"] == 4
    assert math.isnan(cell["bca_low"])  # n < 10: no bootstrap


def test_prediction_interval_by_hand():
    low, high = prediction_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302652729749462 * 1.0 * math.sqrt(1 + 1 / 3)
    assert (low, high) == pytest.approx((2 - half, 2 + half), abs=1e-12)


def test_wilson_interval_by_hand():
    # 8 of 10, z = 1.959963984540054
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.8 * 0.2 / 10 + z * z / 400) / (1 + z * z / 10)
    assert wilson_interval(8, 10) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert wilson_interval(8, 10) == pytest.approx((0.4901624, 0.9433178), abs=1e-6)


def test_holm_by_hand():
    # sorted p 0.01, 0.02, 0.04 times 3, 2, 1 -> 0.03, 0.04, 0.04 (monotone), back in input order
    assert holm(np.array([0.04, 0.01, 0.02])) == pytest.approx([0.04, 0.03, 0.04])
    assert holm(np.array([0.5, 0.6])) == pytest.approx([1.0, 1.0])


def test_bca_is_seeded_and_brackets_the_mean():
    values = np.linspace(0.8, 0.95, 12)
    first, second = bca_interval(values), bca_interval(values)
    assert first == second
    assert first[0] < values.mean() < first[1]
    assert bca_interval(np.full(12, 0.9)) == (0.9, 0.9)


# --- exact paired tests, by hand ---------------------------------------------------------------------


def test_sign_flip_with_zeros_is_exact_where_wilcoxon_is_not():
    # 25 zero differences and 5 of +1/70: only the 5 non-zero ones flip; |sum| >= 5 in 2 of 32 patterns
    diff = np.array([0.0] * 25 + [1 / 70] * 5)
    assert sign_flip_p(diff, resolution=1 / 70) == (pytest.approx(2 / 32, rel=1e-12), "exact")
    assert sign_flip_p(diff)[0] == pytest.approx(2 / 32, rel=1e-12)  # the enumeration gives the same
    assert scipy_stats.wilcoxon(diff, zero_method="wilcox").pvalue < 0.03  # scipy's approximation: 0.025


def test_sign_flip_with_tied_magnitudes_by_hand():
    # d = (1, 1, 2, -1) points: sum 3; S = +-1 +-1 +-2 +-1 reaches |S| >= 3 in 8 of 16 patterns
    assert lattice_sign_flip_p(np.array([1, 1, 2, -1])) == pytest.approx(0.5, rel=1e-12)
    assert sign_flip_p(np.array([1, 1, 2, -1]) / 70, resolution=1 / 70)[0] == pytest.approx(0.5, rel=1e-12)


def test_sign_flip_all_equal_and_n_5():
    assert sign_flip_p(np.zeros(10)) == (1.0, "exact")
    # n = 5 differences of one sign: the smallest p five seeds can give, 2 / 2^5, never below 0.05
    assert sign_flip_p(np.array([0.01, 0.02, 0.03, 0.04, 0.05]))[0] == pytest.approx(0.0625, rel=1e-12)
    assert smallest_p(5) == 0.0625 and smallest_p(0) == 1.0


def test_sign_flip_matches_brute_force_enumeration():
    rng = np.random.default_rng(3)
    for _ in range(100):
        steps = rng.integers(-4, 5, size=rng.integers(1, 12))
        signs = np.array(list(itertools.product([-1, 1], repeat=len(steps))))
        expected = np.mean(np.abs(signs @ steps) >= abs(steps.sum()))
        assert sign_flip_p(steps / 25, resolution=1 / 25)[0] == pytest.approx(expected, abs=1e-12)
        assert sign_flip_p(steps / 25 + 0.0)[0] == pytest.approx(expected, abs=1e-12)


def test_probability_of_improvement_counts_ties_as_half():
    assert probability_of_improvement(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == pytest.approx((0.5 + 1 + 1 + 1) / 4)


def test_sign_flip_tost_and_interval_by_enumeration():
    # 8 differences: every one of the 256 sign patterns, shifted by +-margin, counted by hand
    d = np.array([0.03, -0.01, 0.02, 0.0, 0.01, 0.02, -0.02, 0.01])
    signs = np.array(list(itertools.product([-1, 1], repeat=len(d))))
    margin = 0.03
    lower = np.mean(signs @ (d + margin) >= (d + margin).sum() - 1e-12)  # H0: mean <= -margin
    upper = np.mean(signs @ (d - margin) <= (d - margin).sum() + 1e-12)  # H0: mean >= margin
    shifted = ShiftedSignFlip(d)
    assert shifted.tost(margin) == pytest.approx(max(lower, upper), abs=1e-12)
    assert shifted.p(0.0) == pytest.approx(sign_flip_p(d)[0], abs=1e-12)
    # the interval is the set of shifts the test keeps: just inside p > alpha, just outside p <= alpha
    low, high = shifted.interval(0.95)
    assert low < d.mean() < high
    for edge, outward in ((low, -1), (high, 1)):
        assert shifted.p(edge - outward * 1e-9) > 0.05 and shifted.p(edge + outward * 1e-6) <= 0.05
    # no spread: three identical zeros establish nothing; differences of exactly the margin are not inside it
    assert ShiftedSignFlip(np.zeros(3)).tost(0.01) == 0.125  # one pattern of 8 reaches the sum
    assert ShiftedSignFlip(np.full(30, 0.02)).tost(0.01) == 1.0
    # five seeds cannot reach p < 0.05 anywhere: the interval is the whole line
    assert ShiftedSignFlip(np.array([0.1, 0.2, 0.3, 0.4, 0.5])).interval(0.95) == (-math.inf, math.inf)


def test_seed_rows_p_below_alpha_exactly_when_the_interval_excludes_zero():
    rng = np.random.default_rng(4)
    for _ in range(40):
        a, b = rng.normal(0.9, 0.02, 20), rng.normal(0.9 + rng.normal(0, 0.01), 0.02, 20)
        row = paired_comparison(a, b, margin=0.01)
        excludes = row["diff_ci_low"] > 0 or row["diff_ci_high"] < 0
        assert (row["p_value"] < 0.05) == excludes or abs(row["p_value"] - 0.05) < 0.003  # Monte Carlo patterns
        assert (row["p_tost"] < 0.05) == (-0.01 < row["diff_ci90_low"] and row["diff_ci90_high"] < 0.01) \
            or abs(row["p_tost"] - 0.05) < 0.003


def test_accuracies_rounded_two_ways_in_float32_give_the_same_comparison():
    """Accuracy is a count over N points, stored in float32: count / N and count * (1 / N) may differ in the last
    bit, and differences of such values are not exactly equal. On the 1/N lattice the comparison is the same
    either way; here every seed is one point better, a difference of exactly the margin (not inside it)."""
    n_points = 70
    base = np.arange(40, 70, dtype=np.float32)
    divided = [(base + 1) / np.float32(n_points), base / np.float32(n_points)]
    multiplied = [(base + 1) * np.float32(1 / n_points), base * np.float32(1 / n_points)]
    assert not np.array_equal(divided[0], multiplied[0])  # the two roundings do differ for some counts
    assert len(np.unique(divided[0].astype(float) - divided[1].astype(float))) > 1  # and their differences are not all equal
    first, second = (paired_comparison(*pair, margin=1 / n_points, resolution=1 / n_points) for pair in (divided, multiplied))
    assert first == second
    assert first["diff_sd"] == pytest.approx(0.0, abs=1e-15) and first["p_tost"] == 1.0


def test_power_against_the_textbook_example():
    # Cohen's d = 0.5, two-sided alpha 0.05, power 0.80: a paired t-test needs 34 pairs (G*Power: 34); showing
    # equivalence of a zero difference with 80% power needs (t_.95 + t_.90) standard errors per margin, more here
    two_sided = next(n for n in range(2, 100) if 0.5 * math.sqrt(n) >= scipy_stats.t.ppf(0.975, n - 1) + scipy_stats.t.ppf(0.8, n - 1))
    equivalence = next(n for n in range(2, 100) if 0.5 * math.sqrt(n) >= scipy_stats.t.ppf(0.95, n - 1) + scipy_stats.t.ppf(0.9, n - 1))
    assert two_sided == 34 and equivalence == 36
    assert t_power_size(sd=1.0, margin=0.5, alpha=0.05) == 36
    assert math.isnan(t_power_size(0.0, 0.01, 0.05))
    # the minimum detectable effect at Holm's first step of 5: z_(1 - 0.005) + z_0.8 standard errors
    assert minimum_detectable_effect(0.01, 5) == pytest.approx((2.5758293035489 + 0.8416212335729) * 0.01, rel=1e-9)


def test_eps_min_matches_deepsig():
    from deepsig import aso
    from deepsig.aso import compute_violation_ratio

    rng = np.random.default_rng(1)
    a, b = rng.normal(0.91, 0.03, 30), rng.normal(0.90, 0.03, 30)
    assert violation_ratio(a, b) == pytest.approx(compute_violation_ratio(a, b, dt=0.005), rel=1e-9)
    # the bound's bootstrap draws differ from deepsig's: agreement within bootstrap noise
    assert eps_min(a, b) == pytest.approx(aso(a, b, seed=0, show_progress=False), abs=0.03)
    assert eps_min(a + 1, b) == 0.0  # A dominates B everywhere


def test_fixed_test_set_with_no_seed_spread_is_the_t_test_over_test_points():
    # every seed of A gets the same 20 of 1,000 points right that B misses: nothing varies over seeds, so the crossed
    # analysis is the one-sample t-test of the 1,000 per-point differences (df 999)
    correct_b = np.zeros((30, 1000), dtype=bool)
    correct_b[:, :600] = True
    correct_a = correct_b.copy()
    correct_a[:, 600:620] = True
    result = crossed_comparison(correct_a, correct_b, margin=0.01)
    per_point = (correct_a.astype(int) - correct_b).mean(axis=0)
    expected = scipy_stats.ttest_1samp(per_point, 0.0)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-9) and result["df"] == pytest.approx(999)
    assert result["var_seeds"] == 0 and result["var_residual"] == pytest.approx(0, abs=1e-15) and "Satterthwaite" in result["p_method"]
    low, high = expected.confidence_interval(0.95)
    assert (result["diff_ci_low"], result["diff_ci_high"]) == pytest.approx((low, high), rel=1e-9)


def test_a_small_fixed_test_set_gets_no_equivalence_test():
    # 70 points, the tutorial's test set: the calibration found the TOST above its level there, so none is claimed
    rng = np.random.default_rng(6)
    base = rng.random((30, 70)) < 0.85
    same = np.where(rng.random((30, 70)) < 0.9, base, rng.random((30, 70)) < 0.85)
    small = crossed_comparison(same, base, 0.2)
    assert math.isnan(small["p_tost"]) and np.isfinite(small["p_value"])
    assert crossed_comparison(np.tile(same, 15), np.tile(base, 15), 0.2)["p_tost"] < 0.05  # 1,050 points: tested


def test_crossed_variance_components_match_statsmodels_reml():
    # balanced crossed design: REML's variance components equal the ANOVA estimates (all positive here), and
    # MixedLM's standard error of the intercept equals ours
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(2)
    n_s, n_p = 6, 9
    diff = 0.1 + rng.normal(0, 0.5, (n_s, 1)) + rng.normal(0, 0.7, (1, n_p)) + rng.normal(0, 0.3, (n_s, n_p))
    frame = pd.DataFrame({"d": diff.ravel(), "seed": np.repeat(np.arange(n_s), n_p), "point": np.tile(np.arange(n_p), n_s),
                          "one": 1})
    fit = smf.mixedlm("d ~ 1", frame, groups="one", re_formula="0",
                      vc_formula={"seed": "0 + C(seed)", "point": "0 + C(point)"}).fit(reml=True)
    ours = variance_components(diff)
    assert ours["var_seeds"] > 0 and ours["var_points"] > 0
    assert fit.vcomp == pytest.approx([ours["var_points"], ours["var_seeds"]], rel=1e-3)
    assert fit.scale == pytest.approx(ours["var_residual"], rel=1e-3)
    se = math.sqrt(ours["var_seeds"] / n_s + ours["var_points"] / n_p + ours["var_residual"] / (n_s * n_p))
    assert fit.bse["Intercept"] == pytest.approx(se, rel=1e-3)


def test_crossed_p_below_alpha_exactly_when_the_interval_excludes_zero():
    rng = np.random.default_rng(5)
    for _ in range(30):
        base = rng.random((20, 300)) < 0.8
        other = np.where(rng.random((20, 300)) < 0.7, base, rng.random((20, 300)) < 0.8 + rng.normal(0, 0.02))
        row = crossed_comparison(other, base, margin=0.01)  # 300 points: no equivalence test
        assert (row["p_value"] < 0.05) == (row["diff_ci_low"] > 0 or row["diff_ci_high"] < 0)
        large = crossed_comparison(np.tile(other, 4), np.tile(base, 4), margin=0.01)  # 1,200 points
        assert (large["p_value"] < 0.05) == (large["diff_ci_low"] > 0 or large["diff_ci_high"] < 0)
        assert (large["p_tost"] < 0.05) == (-0.01 < large["diff_ci90_low"] and large["diff_ci90_high"] < 0.01)


def test_decision_size_by_hand():
    # seeds only: the paired t-test's size at Holm's first step (alpha / 4)
    seeds_row = {"unit": "seeds", "margin": 0.01, "var_seeds": 0.01**2, "n": 30}
    assert decision_size(seeds_row, 4) == (t_power_size(0.01, 0.01, 0.05 / 4), pytest.approx(math.nan, nan_ok=True))
    # fixed test set: the target variance is (margin / z)^2 with z = max(z_(1-a/2) + z_.8, z_(1-a) + z_.9), a = 0.05 / 4
    z = max(scipy_stats.norm.ppf(1 - 0.0125 / 2) + scipy_stats.norm.ppf(0.8), scipy_stats.norm.ppf(1 - 0.0125) + scipy_stats.norm.ppf(0.9))
    target = (0.01 / z) ** 2
    row = {"unit": "seeds x test points", "margin": 0.01, "n": 20, "test_points": 5000,
           "var_seeds": 4e-5, "var_points": 0.02, "var_residual": 0.05}
    seeds = math.ceil((4e-5 + 0.05 / 5000) / (target - 0.02 / 5000))
    points = math.ceil((0.02 + 0.05 / 20) / (target - 4e-5 / 20))
    assert decision_size(row, 4) == (seeds, points)
    # a test-point component this large keeps the decision out of reach of any number of seeds
    assert decision_size({**row, "var_points": 0.2}, 4)[0] == math.inf


def test_verdicts():
    base = {"diff_mean": 0.02, "diff_ci_low": 0.01, "diff_ci_high": 0.03, "p_holm": 0.01, "p_tost_holm": 0.5}
    assert verdict(base) == "better"
    assert verdict(base, higher_is_better=False) == "worse"
    assert verdict({**base, "p_holm": 0.2}) == "inconclusive"
    assert verdict({**base, "p_holm": 0.2, "p_tost_holm": 0.01}) == "equivalent"
    assert verdict({**base, "diff_ci_low": -0.01}) == "inconclusive"  # p and interval disagree: no claim
