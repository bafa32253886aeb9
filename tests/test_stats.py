"""Statistics against values computed by hand (or from closed forms)."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from weightreg.stats import (bca_interval, eps_min, holm, lattice_sign_flip_p, minimum_detectable_effect, paired_comparison,
                             prediction_interval, probability_of_improvement, seeds_needed, sign_flip_p, smallest_p,
                             summarize, t_interval, fixed_test_set_comparison, tost_p, verdict, violation_ratio, wilson_interval)


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


def test_tost_against_statsmodels_and_by_hand():
    from statsmodels.stats.weightstats import ttost_paired

    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.01, 20), rng.normal(0.9, 0.01, 20)
    assert tost_p(a - b, 0.01) == pytest.approx(ttost_paired(a, b, -0.01, 0.01)[0], rel=1e-12)
    d = a - b  # by hand: the larger of the two one-sided t-tests against -margin and +margin
    se = d.std(ddof=1) / np.sqrt(len(d))
    by_hand = max(scipy_stats.t.sf((d.mean() + 0.01) / se, len(d) - 1), scipy_stats.t.cdf((d.mean() - 0.01) / se, len(d) - 1))
    assert tost_p(d, 0.01) == pytest.approx(by_hand, rel=1e-9)
    # no spread: the t-test is certain, the floor 2^-n is not; three identical zeros establish nothing
    assert tost_p(np.zeros(3), 0.01) == 0.125
    assert tost_p(np.full(30, 0.02), 0.01) == 1.0


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
    # Cohen's d = 0.5, two-sided alpha 0.05, power 0.80: a paired t-test needs 34 pairs (G*Power: 34)
    assert minimum_detectable_effect(1.0, 34) <= 0.5 < minimum_detectable_effect(1.0, 33)
    assert seeds_needed(sd=1.0, margin=0.5, comparisons=1) == 34
    # no spread: only reachability counts; m 2^(1-n) < 0.05 needs n = 6 for m = 1 and n = 8 for m = 4
    assert seeds_needed(0.0, 0.01, 1) == 6 and seeds_needed(0.0, 0.01, 4) == 8


def test_eps_min_matches_deepsig():
    from deepsig import aso
    from deepsig.aso import compute_violation_ratio

    rng = np.random.default_rng(1)
    a, b = rng.normal(0.91, 0.03, 30), rng.normal(0.90, 0.03, 30)
    assert violation_ratio(a, b) == pytest.approx(compute_violation_ratio(a, b, dt=0.005), rel=1e-9)
    # the bound's bootstrap draws differ from deepsig's: agreement within bootstrap noise
    assert eps_min(a, b) == pytest.approx(aso(a, b, seed=0, show_progress=False), abs=0.03)
    assert eps_min(a + 1, b) == 0.0  # A dominates B everywhere


def test_fixed_test_set_counts_test_points():
    # every seed of A gets the same 2 of 70 points right that B misses: per test point, 2 non-zero differences
    correct_b = np.zeros((30, 70), dtype=bool)
    correct_b[:, :60] = True
    correct_a = correct_b.copy()
    correct_a[:, 60:62] = True
    result = fixed_test_set_comparison(correct_a, correct_b, margin=1 / 70)
    assert result["p_value"] == pytest.approx(0.5, rel=1e-12) and result["min_p"] == 0.5
    assert result["diff_ci_low"] >= 0 and result["diff_ci_high"] > 2 / 70
    seeds = paired_comparison(correct_a.mean(axis=1), correct_b.mean(axis=1), 1 / 70, resolution=1 / 70)
    assert seeds["diff_ci_low"] == seeds["diff_ci_high"] == pytest.approx(2 / 70)  # the zero-width t-interval


def test_verdicts():
    base = {"diff_mean": 0.02, "diff_ci_low": 0.01, "diff_ci_high": 0.03, "p_holm": 0.01, "p_tost_holm": 0.5}
    assert verdict(base) == "better"
    assert verdict(base, higher_is_better=False) == "worse"
    assert verdict({**base, "p_holm": 0.2}) == "inconclusive"
    assert verdict({**base, "p_holm": 0.2, "p_tost_holm": 0.01}) == "equivalent"
    assert verdict({**base, "diff_ci_low": -0.01}) == "inconclusive"  # p and interval disagree: no claim
