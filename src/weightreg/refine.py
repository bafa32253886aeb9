"""Sweep values chosen from another study's validation results by a rule in the config (`refine:`).

    refine: {study: moons_l2_grid, metric: val/accuracy, variation: data+model,
             axis: regularizer.strength, multipliers: [0.2, ..., 9]}   # both sides of the best on validation

The rule reads one metric of the other study's summary; config validation refuses a test metric, so a
selection never sees the test points that score its result.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from weightreg.errors import DataError
from weightreg.params import BASELINE


def refined_values(summary: pd.DataFrame, rule) -> list[float]:
    """The rule's new sweep values: the best regularized condition's value of `rule.axis`, times each multiplier.

    Best = highest mean of `rule.metric` (a validation metric) in `rule.variation`; the baseline is not a candidate.
    """
    column = str(rule.axis).rsplit(".", 1)[-1]
    cells = summary[(summary.metric == rule.metric) & (summary.variation == rule.variation) & (summary.condition != BASELINE)]
    if cells.empty or column not in cells.columns:
        raise DataError(
            f"refine: no regularized condition with metric {rule.metric!r}, variation {rule.variation!r} and column "
            f"{column!r} in study {rule.study!r}; expected its summary.csv to hold them"
        )
    best = cells.loc[cells["mean"].idxmax(), column]
    return [float(f"{best * m:.6g}") for m in rule.multipliers]


def apply_refinement(cfg):
    """cfg with its refine rule turned into a sweep axis read from results/<rule.study>/summary.csv."""
    if cfg.refine is None:
        return cfg
    path = Path(cfg.results_dir) / cfg.refine.study / "summary.csv"
    if not path.is_file():
        raise DataError(f"{path}: not found; study {cfg.study!r} refines {cfg.refine.study!r}, so that study must be aggregated first")
    refined = cfg.copy()
    refined.sweep[cfg.refine.axis] = refined_values(pd.read_csv(path, keep_default_na=False, na_values=[""]), cfg.refine)
    return refined
