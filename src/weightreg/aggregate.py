"""From per-run rows to per-condition statistics: summary, paired comparisons, metrics, mean curves.

    python -m weightreg.aggregate sweeps/moons_case_study     # any folder of runs.csv files, e.g. a multirun

The DVC pipeline calls `aggregate_study` once per study (python -m weightreg.stage aggregate ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from weightreg.artifacts import atomic_path, write_json
from weightreg.errors import DataError, exit_on_error
from weightreg.stats import holm, paired_comparison, summarize

METRICS = ("train/accuracy", "test/accuracy", "train/loss", "test/loss", "weights/l2/all_kernels")
COMPARED = ("test/accuracy", "test/loss")
REQUIRED = ("study", "condition", "regularizer", "strength", "placement", "seed", "data_seed", "variation", *METRICS)
CONDITION_COLUMNS = ("condition", "regularizer", "strength", "l1", "l2", "placement", "schedule")
BASELINE = "none"


def read_runs(*paths: str | Path) -> pd.DataFrame:
    frames = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: runs table not found")
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: columns {missing} missing; expected the columns every study writes")
        frames.append(frame)
    runs = pd.concat(frames, ignore_index=True)
    runs["placement"] = runs["placement"].fillna("")
    return runs


def diverged(runs: pd.DataFrame) -> pd.Series:
    """Which runs diverged (tables written before the column existed have none)."""
    return runs["diverged"].fillna(False).astype(bool) if "diverged" in runs else pd.Series(False, index=runs.index)


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that ended with finite numbers; diverged runs are counted, never averaged."""
    return runs[~diverged(runs)]


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (condition, variation, metric): mean, sd, n, t-interval, BCa interval, over the
    runs that finished; n_diverged counts the others."""
    rows = []
    meta = runs.drop_duplicates("condition").set_index("condition")
    for (condition, variation), group in runs.groupby(["condition", "variation"], sort=False):
        done = finished(group)
        for metric in METRICS:
            rows.append({
                **{c: meta.loc[condition, c] for c in CONDITION_COLUMNS[1:] if c in meta.columns},
                "condition": condition, "variation": variation, "metric": metric,
                **summarize(done[metric].to_numpy()), "n_diverged": int(diverged(group).sum()),
            })
    return pd.DataFrame(rows)


def comparison_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every condition against the baseline, seed by seed within a variation; Holm across the study."""
    rows = []
    for variation, runs_v in finished(runs).groupby("variation", sort=False):
        baseline = runs_v[runs_v.condition == BASELINE].set_index("seed")
        if baseline.empty:
            continue
        for condition, group in runs_v[runs_v.condition != BASELINE].groupby("condition", sort=False):
            paired = group.set_index("seed").join(baseline, rsuffix="_baseline", how="inner")
            for metric in COMPARED:
                rows.append({
                    "condition": condition, "variation": variation, "metric": metric,
                    **paired_comparison(paired[metric].to_numpy(), paired[f"{metric}_baseline"].to_numpy()),
                })
    table = pd.DataFrame(rows)
    if not table.empty:
        table["p_holm"] = np.nan
        for metric in COMPARED:
            rows_m = table.metric == metric
            table.loc[rows_m, "p_holm"] = holm(table.loc[rows_m, "p_wilcoxon"].to_numpy())
    return table


def metrics_document(summary: pd.DataFrame) -> dict:
    """Nested {condition: {variation: {metric: {mean, sd, n, ci_low, ci_high}}}} for `dvc metrics show`."""
    document: dict = {}
    for row in summary.itertuples(index=False):
        cell = {k: (None if pd.isna(v) else v) for k, v in
                {"mean": row.mean, "sd": row.sd, "n": row.n, "ci_low": row.ci_low, "ci_high": row.ci_high}.items()}
        document.setdefault(row.condition, {}).setdefault(row.variation, {})[row.metric] = cell
    return document


def mean_curves(histories: pd.DataFrame) -> pd.DataFrame:
    """Wide learning curves for `dvc plots`: epoch, then `<metric>|<condition>|<variation>` means over seeds."""
    means = histories.groupby(["metric", "condition", "variation", "epoch"], sort=False)["value"].mean().reset_index()
    means["series"] = means.metric + "|" + means.condition + "|" + means.variation
    return means.pivot(index="epoch", columns="series", values="value").reset_index()


def aggregate_study(results_dir: str | Path, metrics_path: str | Path) -> pd.DataFrame:
    results_dir = Path(results_dir)
    runs = read_runs(results_dir / "runs.csv")
    summary = summary_table(runs)
    tables = {"summary.csv": summary, "comparisons.csv": comparison_table(runs)}
    histories_path = results_dir / "histories.csv.gz"
    if histories_path.is_file():
        tables["curves.csv"] = mean_curves(pd.read_csv(histories_path))
    for name, table in tables.items():
        with atomic_path(results_dir / name) as tmp:
            table.to_csv(tmp, index=False)
    write_json(metrics_document(summary), metrics_path)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weightreg.aggregate", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a folder holding runs.csv files at any depth (e.g. a Hydra multirun)")
    parser.add_argument("--out", help="where to write summary.csv and comparisons.csv (default: the folder)")
    args = parser.parse_args(argv)
    with exit_on_error():
        paths = sorted(Path(args.folder).rglob("runs.csv"))
        if not paths:
            raise DataError(f"{args.folder}: no runs.csv found below it")
        # Jobs of one multirun each train the baseline on the same seeds: keep one copy of each run.
        runs = read_runs(*paths).drop_duplicates(["condition", "variation", "seed", "data_seed"])
        out = Path(args.out or args.folder)
        for name, table in {"runs.csv": runs, "summary.csv": summary_table(runs), "comparisons.csv": comparison_table(runs)}.items():
            with atomic_path(out / ("all_" + name)) as tmp:
                table.to_csv(tmp, index=False)
        table = summary_table(runs).query("metric == 'test/accuracy'")[["condition", "variation", "mean", "sd", "n", "ci_low", "ci_high"]]
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
