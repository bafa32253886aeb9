"""The verdicts of a study's comparisons: Holm within each metric's family, whether the design can reach
significance, what would decide an undecided comparison, one verdict and one note per comparison, and the
study's headline comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weightreg.crossed import SMALL_TEST_SET, decision_size, minimum_detectable_effect
from weightreg.stats import ALPHA, holm, verdict

COMPARED = ("test/accuracy", "test/loss", "test/mae")
HIGHER_IS_BETTER = {"test/accuracy": True, "test/loss": False, "test/mae": False}
# The margin is declared in the task's metric, accuracy (classification) or MAE (regression); loss rows have no
# equivalence test.
EQUIVALENCE_METRICS = ("test/accuracy", "test/mae")
EQUIVALENCE_METRIC = EQUIVALENCE_METRICS[0]


def primary_metric(table: pd.DataFrame) -> str:
    """The metric a study's margin and verdicts are stated in: accuracy, or MAE for a regression (runs or comparisons)."""
    present = set(table.metric) if "metric" in table.columns else set(table.columns)
    return next((m for m in EQUIVALENCE_METRICS if m in present), EQUIVALENCE_METRIC)


def holm_where_finite(p_values: np.ndarray) -> np.ndarray:
    """Holm over the comparisons that have a p-value; NaN stays NaN and does not shrink the family's others."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p_values), np.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        adjusted[finite] = holm(p_values[finite])
    return adjusted


def decide(table: pd.DataFrame) -> pd.DataFrame:
    """Holm within each metric (p-values and TOST p-values), whether the design can reach significance,
    the seeds (and test points) a decision would need, and one verdict per comparison."""
    table = table.copy()
    for column in ("p_holm", "p_tost_holm", "reachable", "family", "family_size", "seeds_needed", "points_needed", "verdict", "note"):
        table[column] = pd.Series([None] * len(table), dtype=object)
    for metric in COMPARED:
        rows = table.metric == metric
        m = int(rows.sum())
        if not m:
            continue
        table.loc[rows, "p_holm"] = holm_where_finite(table.loc[rows, "p_value"].to_numpy())
        table.loc[rows, "p_tost_holm"] = holm_where_finite(table.loc[rows, "p_tost"].to_numpy())
        table.loc[rows, "reachable"] = table.loc[rows, "min_p"] * m < ALPHA
        table.loc[rows, "family"] = f"Holm over the study's {m} comparisons of {metric}"
        table.loc[rows, "family_size"] = m
        for index in table.index[rows]:
            row = table.loc[index].to_dict()
            table.loc[index, ["seeds_needed", "points_needed"]] = decision_size(row, m)
            table.loc[index, "mde"] = minimum_detectable_effect(row["se"], m)
            row = table.loc[index].to_dict()
            table.at[index, "verdict"] = verdict(row, HIGHER_IS_BETTER[metric])
            table.at[index, "note"] = verdict_note(row, m)
    return table.astype({"p_holm": float, "p_tost_holm": float, "reachable": bool, "family_size": int, "seeds_needed": float,
                         "points_needed": float})


def verdict_note(row: dict, comparisons: int) -> str:
    diverged_runs = f"; {row['n_diverged']} diverged run(s) scored as the worst outcome" if row.get("n_diverged") else ""
    return decision_note(row, comparisons) + diverged_runs


def decision_note(row: dict, comparisons: int) -> str:
    if not row["reachable"]:
        return (f"cannot reach significance: the smallest p this design gives is {row['min_p']:.3g}, "
                f"x{comparisons} after Holm >= {ALPHA}")
    if verdict(row, True) == "inconclusive":
        if not np.isfinite(row["margin"]):  # no equivalence to show: only a difference, of unknown size, decides
            return "no declared margin for this metric, so only a difference can decide it; the spread gives no seed count"
        if not np.isfinite(row["p_tost"]):
            return (f"undecided; on a fixed test set of {row['test_points']} test points (under {SMALL_TEST_SET}) no "
                    "equivalence is tested (the calibration found that test above its level there), so only a difference "
                    "can decide it")
        return size_note(row, comparisons)
    if inside_margin(row):
        return (f"a difference, but inside the declared margin of +-{row['margin']:g} (Holm TOST p {row['p_tost_holm']:.3g}): "
                "smaller than the study counts as mattering")
    return ""


def size_note(row: dict, comparisons: int) -> str:
    """What would decide an inconclusive comparison, from its variance components at Holm's first step."""
    seeds, points = row["seeds_needed"], row["points_needed"]
    step = f"80% power at Holm's first step (0.05/{comparisons})"
    if not np.isfinite(seeds) and row["unit"] == "seeds":
        return "undecided; the seeds' spread gives no seed count"
    if np.isfinite(seeds) and seeds > row["n"]:
        return f"undecided: about {seeds:.0f} seeds per condition would decide ({step}, from the observed variance)"
    if np.isfinite(seeds):
        return (f"undecided at {row['n']} seeds, though the observed variance suggested about {seeds:.0f} would "
                f"({step}): the estimate is itself uncertain")
    where = (f"about {points:.0f} test points at {row['n']} seeds would" if np.isfinite(points)
             else "more seeds and more test points together would")
    return (f"undecided, and no number of seeds decides on these {row['test_points']} test points: the test-point part "
            f"of the variance alone is too large ({step}); {where}")


def inside_margin(row: dict) -> bool:
    """A better/worse verdict whose difference the equivalence test also bounds inside the study's margin."""
    return verdict(row, True) in ("better", "worse") and row["p_tost_holm"] < ALPHA


def headline(comparisons: pd.DataFrame) -> pd.Series | None:
    """A study's headline comparison on its metric: in redrawn data where it has them (claims beyond one draw),
    the largest improvement over no penalty (Holm keeps its verdict valid whichever row it is)."""
    if comparisons.empty:
        return None
    metric = primary_metric(comparisons)
    cell = comparisons[comparisons.metric == metric]
    variation = "data+model" if "data+model" in set(cell.variation) else cell.variation.iloc[0]
    cell = cell[cell.variation == variation]
    improvement = cell.diff_mean if metric.endswith("accuracy") else -cell.diff_mean
    return cell.loc[improvement.idxmax()]


VERDICTS = ("better", "worse", "equivalent", "inconclusive")


def verdict_table(comparisons: pd.DataFrame, metric: str) -> str:
    """The verdicts on the study's metric, one line per comparison: what `aggregate` prints."""
    if comparisons.empty:
        return "no comparison: no baseline (condition none) among the runs"
    cell = comparisons[comparisons.metric == metric]
    deciding = np.where(cell.verdict == "equivalent", "90%", "95%")
    low = np.where(cell.verdict == "equivalent", cell.diff_ci90_low, cell.diff_ci_low)
    high = np.where(cell.verdict == "equivalent", cell.diff_ci90_high, cell.diff_ci_high)
    shown = pd.DataFrame({"condition": cell.condition, "variation": cell.variation, "n": cell.n,
                          f"{metric} vs none": [f"{m:+.4f} [{d}: {lo:+.4f}, {hi:+.4f}]" for m, d, lo, hi in
                                                zip(cell.diff_mean, deciding, low, high)],
                          "p (Holm)": cell.p_holm.map(lambda p: f"{p:.3g}"), "verdict": cell.verdict})
    return shown.to_string(index=False)
