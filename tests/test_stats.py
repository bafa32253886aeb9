"""Statistics against values computed by hand (or from closed forms)."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from weightreg.stats import bca_interval, holm, paired_comparison, prediction_interval, summarize, t_interval, wilson_interval


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


def test_paired_comparison_by_hand():
    a = np.array([0.9, 0.8, 0.95, 0.9])
    b = np.array([0.8, 0.8, 0.9, 0.85])
    result = paired_comparison(a, b)
    assert result["diff_mean"] == pytest.approx(0.05)
    assert result["p_improvement"] == pytest.approx(0.875)  # 3 wins, 1 tie
    assert result["p_wilcoxon"] == pytest.approx(scipy_stats.wilcoxon(a, b).pvalue)
    assert paired_comparison(a, a)["p_wilcoxon"] == 1.0


def test_bca_is_seeded_and_brackets_the_mean():
    values = np.linspace(0.8, 0.95, 12)
    first, second = bca_interval(values), bca_interval(values)
    assert first == second
    assert first[0] < values.mean() < first[1]
    assert bca_interval(np.full(12, 0.9)) == (0.9, 0.9)
