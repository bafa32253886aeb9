"""From per-run rows to per-condition statistics: summary, paired comparisons, metrics, mean curves.

    python -m weightreg.aggregate sweeps/moons_case_study     # any folder of runs.csv files, e.g. a multirun
    python -m weightreg.aggregate results/moons_case_study --metrics metrics/moons_case_study.json   # the DVC stage

The DVC stage aggregates one study's folder; its margin is the one the study's run.json records.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from weightreg.artifacts import CORRECT_FILE, atomic_path, write_json
from weightreg.artifacts import load_correct as read_correct
from weightreg.crossed import crossed_comparison
from weightreg.errors import DataError, exit_on_error
from weightreg.params import BASELINE
from weightreg.stats import paired_comparison, summarize
from weightreg.verdicts import (COMPARED, EQUIVALENCE_METRIC, EQUIVALENCE_METRICS, HIGHER_IS_BETTER, VERDICTS, decide, headline,
                                primary_metric, verdict_table)

METRICS = ("train/accuracy", "val/accuracy", "test/accuracy", "train/loss", "val/loss", "test/loss", "weights/l2/all_kernels",
           "train/mae", "val/mae", "test/mae", "test/rmse")  # a study has the metrics of its task (regression: mae)
FIXED_TEST_SET = "model"  # a variation whose runs all score one test set (the tutorial's draw; IMDB's split)
REQUIRED = ("study", "condition", "regularizer", "strength", "placement", "seed", "data_seed", "variation",
            "train/loss", "test/loss", "weights/l2/all_kernels")
NEWLINE = b"\n"
CONDITION_COLUMNS = ("condition", "regularizer", "strength", "l1", "l2", "weight_decay", "placement", "schedule")


def read_runs(*paths: str | Path) -> pd.DataFrame:
    frames = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: runs table not found")
        text = path.read_bytes()
        if not text.endswith(NEWLINE):  # every writer ends its last row with a newline: a file cut short does not
            raise DataError(f"{path}: line {text.count(NEWLINE) + 1} ends without a newline (the file is truncated); "
                            "expected a complete table (rerun the study's training or `dvc checkout`)")
        try:
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a readable CSV table ({str(error).strip().splitlines()[-1]}); "
                            "expected the runs.csv a study writes") from None
        missing = [c for c in REQUIRED if c not in frame.columns]
        if not any(m in frame.columns for m in EQUIVALENCE_METRICS):
            missing.append(" or ".join(EQUIVALENCE_METRICS))
        if missing:
            raise DataError(f"{path}: columns {missing} missing; expected the columns every study writes")
        for column in [c for c in (*METRICS, "strength", "seed", "data_seed", "test/n") if c in frame.columns]:
            numbers = pd.to_numeric(frame[column], errors="coerce")
            bad = numbers.isna() & frame[column].notna()
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(f"{path}: column {column!r}, line {row + 2} (run {frame.condition.iloc[row]}, "
                                f"{frame.variation.iloc[row]}, seed {frame.seed.iloc[row]}): {frame[column].iloc[row]!r} is "
                                "not a number; expected a number (empty only for a diverged run)")
            frame[column] = numbers
        frames.append(frame)
    runs = pd.concat(frames, ignore_index=True)
    runs["placement"] = runs["placement"].fillna("")
    return runs


def load_correct(path: Path, runs: pd.DataFrame) -> np.ndarray | None:
    """The study's correct.npz (None when it has none), checked against its runs.csv: a row per run, a column per test
    point (`test/n`)."""
    import zipfile

    try:
        correct = read_correct(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable correct.npz ({type(error).__name__}: {error}); expected the packed "
                        "test-point bits a study writes") from None
    if correct is None:
        return None
    if correct.shape[0] != len(runs):
        raise DataError(f"{path}: {correct.shape[0]} rows for {len(runs)} runs in runs.csv; expected one row per run, in "
                        "runs.csv's order (rerun the study's training)")
    sizes = set(runs["test/n"].dropna().astype(int)) if "test/n" in runs else set()
    if sizes and sizes != {correct.shape[1]}:
        raise DataError(f"{path}: {correct.shape[1]} test points per run, but runs.csv's test/n is {sorted(sizes)}; expected "
                        "the same test set (rerun the study's training)")
    return correct


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
        for metric in [m for m in METRICS if m in runs.columns]:
            cell = summarize(done[metric].to_numpy())
            if metric.endswith("accuracy"):  # a proportion: its intervals end at 0 and 1
                cell.update({k: float(np.clip(cell[k], 0, 1)) for k in ("ci_low", "ci_high", "bca_low", "bca_high")})
            rows.append({
                **{c: meta.loc[condition, c] for c in CONDITION_COLUMNS[1:] if c in meta.columns},
                "condition": condition, "variation": variation, "metric": metric,
                **cell, "n_diverged": int(diverged(group).sum()),
            })
    return pd.DataFrame(rows)


def comparison_table(runs: pd.DataFrame, margin: float, correct: np.ndarray | None = None,
                     one_test_set: tuple[str, ...] = (FIXED_TEST_SET,)) -> pd.DataFrame:
    """Every condition against the baseline, paired by seed within a variation; Holm across the study.

    runs: one row per run, in the order of `correct` (n_runs, n_test) when that is given. A diverged run
    scores the worst outcome (see scored), so a divergence never helps its condition. Where the runs of a
    variation share one test set (the variations in `one_test_set`), accuracy is analysed over seeds x test
    points (weightreg.crossed), so its test and intervals count test-set sampling as well as seeds.
    """
    runs = runs.assign(row=np.arange(len(runs)))
    correct = None if correct is None else scored_correct(runs, correct)
    rows = []
    for variation, runs_v in runs.groupby("variation", sort=False):
        runs_v = scored(runs_v)
        baseline = runs_v[runs_v.condition == BASELINE].set_index("seed")
        if baseline.empty:
            continue
        for condition, group in runs_v[runs_v.condition != BASELINE].groupby("condition", sort=False):
            paired = group.set_index("seed").join(baseline.add_suffix("_baseline"), how="inner")
            if len(paired) < 2:
                raise DataError(f"{condition} has {len(paired)} seed paired with the baseline in variation {variation}; "
                                "intervals and tests need at least 2 (n_seeds >= 2)")
            n_diverged = int(paired["diverged"].sum() + paired["diverged_baseline"].sum())
            for metric in [m for m in COMPARED if m in runs.columns]:
                row = {"condition": condition, "variation": variation, "metric": metric,
                       **seed_comparison(paired, metric, margin), "n_diverged": n_diverged}
                if correct is not None and variation in one_test_set and metric == EQUIVALENCE_METRIC:
                    row.update(crossed_comparison(correct[paired["row"]], correct[paired["row_baseline"]], margin))
                rows.append(row)
    table = pd.DataFrame(rows)
    return decide(table) if len(table) else table


WORST_ACCURACY = 0.0  # a diverged run classifies no test point


def scored(runs: pd.DataFrame) -> pd.DataFrame:
    """One variation's runs with every diverged run scored the worst outcome: accuracy 0, and for a loss or
    an error the worst value any finished run of the variation reached (NaN where none finished)."""
    runs = runs.assign(diverged=diverged(runs))
    done = runs[~runs.diverged]
    for metric in [m for m in COMPARED if m in runs.columns]:
        worst = WORST_ACCURACY if metric.endswith("accuracy") else done[metric].max()
        runs.loc[runs.diverged, metric] = worst
    return runs


def scored_correct(runs: pd.DataFrame, correct: np.ndarray) -> np.ndarray:
    """The test points each run classified correctly, none for a diverged run; refuses a matrix whose rows are
    not the runs'."""
    if correct.shape[0] != len(runs):
        raise DataError(f"{CORRECT_FILE}: {correct.shape[0]} rows for {len(runs)} runs in runs.csv; expected one row per "
                        "run, in runs.csv's order (rerun the study's training)")
    return np.where(diverged(runs).to_numpy()[:, None], False, correct)


def seed_comparison(paired: pd.DataFrame, metric: str, margin: float) -> dict:
    """paired_comparison of one metric; accuracy moves in steps of 1/test/n, which makes its test exact."""
    accuracy = metric.endswith("accuracy") and "test/n" in paired.columns
    result = paired_comparison(paired[metric].to_numpy(), paired[f"{metric}_baseline"].to_numpy(),
                               margin if metric in EQUIVALENCE_METRICS else np.nan, HIGHER_IS_BETTER[metric],
                               1 / paired["test/n"].iloc[0] if accuracy else None)
    if metric not in EQUIVALENCE_METRICS:
        result["p_tost"] = np.nan
    return result


def metrics_document(summary: pd.DataFrame, comparisons: pd.DataFrame) -> dict:
    """What `dvc metrics show` lists, one short row per study, the same keys for every study: the study's metric
    without penalty, its headline comparison (condition, effect, 95% interval, Holm p, verdict) and how many of its
    comparisons on that metric got each verdict. Every other number is in summary.csv and comparisons.csv."""
    metric = primary_metric(summary)
    row = headline(comparisons)
    variation = row["variation"] if row is not None else summary.variation.iloc[0]
    base = summary[(summary.metric == metric) & (summary.condition == BASELINE) & (summary.variation == variation)]
    document = {"metric": metric, "no_penalty": float(base["mean"].iloc[0]) if len(base) else None}
    if row is not None:
        finite = {k: (None if not np.isfinite(row[k]) else float(row[k])) for k in ("diff_mean", "diff_ci_low", "diff_ci_high", "p_holm")}
        document |= {"headline": f"{row['condition']} ({variation})", "effect": finite["diff_mean"], "low": finite["diff_ci_low"],
                     "high": finite["diff_ci_high"], "p_holm": finite["p_holm"], "verdict": row["verdict"]}
        counts = comparisons[comparisons.metric == metric].verdict.value_counts()
        document |= {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS}
    return document


def mean_curves(histories: pd.DataFrame) -> pd.DataFrame:
    """Wide learning curves for `dvc plots`: epoch, then `<metric>|<condition>|<variation>` means over seeds."""
    means = histories.groupby(["metric", "condition", "variation", "epoch"], sort=False)["value"].mean().reset_index()
    means["series"] = means.metric + "|" + means.condition + "|" + means.variation
    return means.pivot(index="epoch", columns="series", values="value").reset_index()


def aggregate_study(results_dir: str | Path, metrics_path: str | Path, margin: float) -> pd.DataFrame:
    results_dir = Path(results_dir)
    runs = read_runs(results_dir / "runs.csv")
    summary = summary_table(runs)
    comparisons = comparison_table(runs, margin, load_correct(results_dir / CORRECT_FILE, runs), one_test_set(results_dir))
    tables = {"summary.csv": summary, "comparisons.csv": comparisons}
    histories_path = results_dir / "histories.csv.gz"
    if histories_path.is_file():
        tables["curves.csv"] = mean_curves(pd.read_csv(histories_path))
    for name, table in tables.items():
        with atomic_path(results_dir / name) as tmp:
            table.to_csv(tmp, index=False)
    write_json(metrics_document(summary, comparisons), metrics_path)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weightreg.aggregate", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a folder holding runs.csv files at any depth (e.g. a Hydra multirun)")
    parser.add_argument("--out", help="where to write summary.csv and comparisons.csv (default: the folder)")
    parser.add_argument("--margin", type=float, help="equivalence margin, in the task's metric (default: the one the runs' run.json declares)")
    parser.add_argument("--metrics", help="one study's folder (a DVC stage): write its summary, comparisons and curves "
                                          "beside its runs.csv, and its metrics to this JSON file")
    args = parser.parse_args(argv)
    with exit_on_error():
        paths = [Path(args.folder) / "runs.csv"] if args.metrics else sorted(Path(args.folder).rglob("runs.csv"))
        if not paths or not paths[0].is_file():
            raise DataError(f"{args.folder}: no runs.csv found {'in' if args.metrics else 'below'} it")
        margin = args.margin if args.margin is not None else declared_margin(paths)
        if args.metrics:
            aggregate_study(args.folder, args.metrics, margin)
            return
        if len(paths) == 1:  # one study: its test-point data (if any) lines up with its rows
            runs = read_runs(*paths)
            correct, shared = load_correct(paths[0].parent / CORRECT_FILE, runs), one_test_set(paths[0].parent)
        else:  # jobs of one multirun each train the baseline on the same seeds: keep one copy of each run
            runs, correct, shared = one_copy_of_each_run(read_runs(*paths), args.folder), None, ()
        out = Path(args.out or args.folder)
        comparisons = comparison_table(runs, margin, correct, shared)
        written = []
        for name, table in {"runs.csv": runs, "summary.csv": summary_table(runs), "comparisons.csv": comparisons}.items():
            with atomic_path(out / ("all_" + name)) as tmp:
                table.to_csv(tmp, index=False)
            written.append(str(out / ("all_" + name)))
        print(verdict_table(comparisons, primary_metric(runs)))
        print("wrote " + ", ".join(written))


RUN_KEY = ["condition", "variation", "seed", "data_seed"]


def one_copy_of_each_run(runs: pd.DataFrame, folder: str) -> pd.DataFrame:
    """Runs of one study gathered from several jobs, each run once. Refuses runs of several studies, and runs
    that share a key but not their numbers (a multirun over a setting other than the regularizer)."""
    studies = sorted(runs.study.unique())
    if len(studies) > 1:
        raise DataError(f"{folder}: runs of different studies {studies}; expected one study (aggregate each folder on its own)")
    metrics = [m for m in METRICS if m in runs.columns]
    repeated = runs[runs.duplicated(RUN_KEY, keep=False)]
    differing = repeated.groupby(RUN_KEY, sort=False)[metrics].nunique(dropna=False).gt(1).any(axis=1)
    if differing.any():
        condition, variation, seed, _ = differing[differing].index[0]
        raise DataError(f"{folder}: the runs of condition {condition}, variation {variation}, seed {seed} differ between "
                        "runs.csv files (a multirun over a setting other than the regularizer?); expected one setting: "
                        "aggregate each job's folder on its own")
    return runs.drop_duplicates(RUN_KEY)


def one_test_set(folder: Path) -> tuple[str, ...]:
    """The variations whose runs all score one test set: `model`, and data+model where the study's data
    redraws only the training and validation split (IMDB: its test reviews are one set for every draw)."""
    import json

    run_json = folder / "run.json"
    data = json.loads(run_json.read_text())["config"].get("data", {}) if run_json.is_file() else {}
    return (FIXED_TEST_SET, "data+model") if data.get("name") == "imdb" else (FIXED_TEST_SET,)


def declared_margin(paths: list[Path]) -> float:
    """The equivalence margin the runs' configs declare (run.json beside each runs.csv); DataError where none does."""
    import json

    declared = {json.loads((p.parent / "run.json").read_text())["config"].get("margin") for p in paths
                if (p.parent / "run.json").is_file()} - {None}
    if len(declared) > 1:
        raise DataError(f"{paths[0].parent}: the runs declare different margins {sorted(declared)}; pass --margin")
    if not declared:
        raise DataError(f"{paths[0].parent}: no run.json beside the runs declares a margin; pass --margin "
                        "(the equivalence margin, in the task's metric)")
    return declared.pop()


if __name__ == "__main__":
    main()
