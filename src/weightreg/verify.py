"""Check every output against dvc.lock, then re-run a random sample of cached runs and compare metrics.

    python -m weightreg.verify                      # sample size, seed and tolerance from conf/verify.yaml
    python -m weightreg.verify --sample 5 --seed 1 --rtol 1e-4 --study moons_case_study

First every DVC output is compared with the hash dvc.lock records for it (DVC's own status): a file
edited by hand, deleted or missing from the cache is listed, wherever it is. Then a sample of runs is
retrained, which catches results that were produced by other code than the one committed. Every study of
params.yaml is checked, those of your own model (their code in own/) too.

On the machine that produced the results the recomputed metrics must match bitwise (rtol 0); on
another machine pass the tolerance you accept (float results differ in the last bits across CPUs and
library builds; 1e-4 relative is what a member alone and inside a stack agree to). A moons run is
recomputed by retraining the stack it was trained in; an IMDB run by retraining its model alone; a run of your own
model as its stage trained it (model.fit, or the stacked trainer of a study that is a built-in one).
Exits 1 if any output differs from dvc.lock or any sampled run does not match, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from weightreg.aggregate import read_runs
from weightreg.errors import ConfigError, DataError, exit_on_error

COMPARED = ("train/loss", "train/accuracy", "train/mae", "test/loss", "test/accuracy", "test/mae", "weights/l2/all_kernels")
OWN_CODE = "own"  # where the code of your own models lives (dvc.yaml's train stage: PYTHONPATH=own)
KEY = ["condition", "variation", "seed"]


def sample_runs(runs: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """A reproducible random sample of `size` runs (all of them if there are fewer)."""
    rows = np.random.default_rng(seed).choice(len(runs), size=min(size, len(runs)), replace=False)
    return runs.iloc[np.sort(rows)]


def recompute(cfg: DictConfig, crossed: list, data: dict, wanted: pd.DataFrame) -> pd.DataFrame:
    """Retrain exactly what produced the wanted runs (the training entry with a member filter: each sampled run
    inside the stack it was trained in); return their freshly computed rows."""
    from weightreg.trainers.study import train

    keys = set(map(tuple, wanted[KEY].astype(str).to_numpy()))
    fresh = train(cfg, crossed, data, wanted=lambda m: (m.condition.name, m.variation, str(m.seed)) in keys)["runs"]
    return fresh.astype({"seed": str}).merge(wanted[KEY].astype({"seed": str}), on=KEY)


def same(cached: float, fresh: float) -> bool:
    """Equal values, or both empty (NaN): a diverged run's metrics are NaN in runs.csv and again when retrained."""
    return cached == fresh or bool(np.isnan(cached) and np.isnan(fresh))


def difference(cached: float, fresh: float) -> float:
    """Relative difference; 0 for two NaNs, infinite for a NaN beside a number (a run diverged in one only)."""
    if same(cached, fresh):
        return 0.0
    if np.isnan(cached) or np.isnan(fresh):
        return float("inf")
    return abs(cached - fresh) / max(abs(cached), 1e-12)


def compare(cached: pd.DataFrame, fresh: pd.DataFrame, rtol: float) -> pd.DataFrame:
    """One row per run: the largest relative difference over the compared metrics, and the verdict."""
    merged = cached.astype({"seed": str}).merge(fresh, on=KEY, suffixes=("", "_fresh"))
    rows = []
    for row in merged.to_dict("records"):
        diffs = {m: difference(row[m], row[f"{m}_fresh"]) for m in COMPARED if m in row}
        worst = max(diffs, key=diffs.get)
        bitwise = all(same(row[m], row[f"{m}_fresh"]) for m in diffs)
        verdict = "bitwise" if bitwise else ("within rtol" if diffs[worst] <= rtol else "MISMATCH")
        rows.append({**{k: row[k] for k in KEY}, "verdict": verdict, "worst metric": worst, "relative difference": diffs[worst],
                     "cached": row[worst], "recomputed": row[f"{worst}_fresh"]})
    return pd.DataFrame(rows)


def recompute_fit(cfg: DictConfig, wanted: pd.DataFrame) -> pd.DataFrame:
    """The sampled runs of a study the fit trainer trained, each model.fit run exactly as weightreg.fit_runs.train_study
    trains it (every run seeds itself when its model is built)."""
    from weightreg.fit_runs import check_fit_trainer, study_runs, trained_run
    from weightreg.members import seed_everything
    from weightreg.refine import apply_refinement
    from weightreg.study_inputs import load_data

    study = apply_refinement(cfg)
    check_fit_trainer(study)
    seed_everything(study.seed, study.train.threads)  # as train_study: the thread counts are part of the bits
    keys = set(map(tuple, wanted[KEY].astype(str).to_numpy()))
    rows = []
    for run in study_runs(study):
        if (run.condition.name, run.variation, str(run.seed)) not in keys:
            continue
        rows.append(trained_run(study, load_data(study, run.data_seed), run)[0])
    return pd.DataFrame(rows).astype({"seed": str})


def verify_study(params: DictConfig, study: str, results: Path, data_dir: Path, size: int, seed: int, rtol: float) -> pd.DataFrame:
    """The sampled runs of one study retrained by the trainer its stage used: the stacked ones on the data stage's file,
    or model.fit."""
    from weightreg.schema import resolve_study
    from weightreg.stacked_spec import stacked_study, trains_stacked

    cached = read_runs(results / study / "runs.csv")
    wanted = sample_runs(cached, size, seed)
    cfg = resolve_study(params, study)
    if trains_stacked(cfg):
        from weightreg.data import load_draws

        spec, crossed = stacked_study(cfg)
        fresh = recompute(spec, crossed, load_draws(data_dir / f"{study}.npz", spec), wanted)
    else:
        if Path(OWN_CODE).is_dir() and OWN_CODE not in sys.path:
            sys.path.insert(0, OWN_CODE)
        fresh = recompute_fit(cfg, wanted)
    report = compare(wanted, fresh, rtol)
    if len(report) != len(wanted):
        raise DataError(f"{results / study / 'runs.csv'}: {len(wanted) - len(report)} sampled runs are not runs of this config")
    return report.assign(study=study)


def changed_outputs(root: Path) -> dict[str, str]:
    """Every pipeline output whose content differs from the hash in dvc.lock: path -> modified, deleted,
    not in cache (DVC's status of the outputs; changed code or params are not this check's business)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        status = repo.status()
    changed = {}
    for entries in status.values():
        for entry in entries:
            if isinstance(entry, dict):
                changed.update(entry.get("changed outs", {}))
    return changed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weightreg.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--data", default="data")
    parser.add_argument("--study", action="append", help="a study to check (default: every study in params.yaml)")
    parser.add_argument("--settings", default="conf/verify.yaml", help="sample, seed and rtol")
    parser.add_argument("--sample", type=int, help="runs per study (default: from --settings)")
    parser.add_argument("--seed", type=int, help="sampling seed (default: from --settings)")
    parser.add_argument("--rtol", type=float, help="accepted relative difference (default: from --settings)")
    args = parser.parse_args(argv)
    with exit_on_error():
        from weightreg.params import load_params

        params = load_params(args.params)
        settings = OmegaConf.load(args.settings) if Path(args.settings).is_file() else OmegaConf.create()
        size = args.sample if args.sample is not None else int(settings.get("sample", 3))
        seed = args.seed if args.seed is not None else int(settings.get("seed", 0))
        rtol = args.rtol if args.rtol is not None else float(settings.get("rtol", 0.0))
        known = list(params.get("studies") or {})
        studies = args.study or known
        unknown = [study for study in studies if study not in known]
        if unknown:
            raise ConfigError(f"--study {unknown[0]!r}: no such study in {args.params}; expected one of {sorted(known)}")
        changed = changed_outputs(Path("."))
        for path, state in sorted(changed.items()):
            print(f"{path}: {state} (differs from the hash dvc.lock records)")
        print(f"{len(changed)} outputs differ from dvc.lock")
        reports = []
        for study in studies:
            if not (Path(args.results) / study / "runs.csv").is_file():
                if changed:  # already reported as deleted
                    continue
                raise DataError(f"{Path(args.results) / study / 'runs.csv'}: not found; run `dvc pull` or `dvc repro` first")
            reports.append(verify_study(params, study, Path(args.results), Path(args.data), size, seed, rtol))
        report = pd.concat(reports, ignore_index=True)
        print(report[["study", *KEY, "verdict", "worst metric", "relative difference"]].to_string(index=False))
        bad = int((report.verdict == "MISMATCH").sum())
        print(f"{len(report) - bad} of {len(report)} sampled runs match (rtol {rtol:g}); {bad} mismatch")
        if bad or changed:
            sys.exit(1)


if __name__ == "__main__":
    main()
