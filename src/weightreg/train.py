"""Train every condition x variation x seed of a study; write one tidy row per run. One entry for every study, built-in or
of your own model:

    python -m weightreg.train experiment=moons_case_study seed=3 n_seeds=1
    python -m weightreg.train -m experiment=moons_case_study regularizer=l1,l2             # Hydra multirun
    PYTHONPATH=. python -m weightreg.train --config-dir my_conf experiment=my_study        # your own model
    python -m weightreg.train stage moons_case_study --out results/moons_case_study

The last form is the DVC stage: it runs on exactly the params DVC tracked in params.yaml, never on a
re-composition of conf/ (which would ignore `dvc exp run -S`, treeverse/dvc #10186). Both forms call
`run_study`: `train.trainer` picks the stacked trainers (weightreg.stacked_spec, weightreg.cluster) or model.fit run by
run (weightreg.fit_runs); the results folder is weightreg.record's. The command line returns the study's objective, a
validation metric (never test), to Hydra sweepers such as Optuna.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig

from weightreg.params import config_hash

FIT_TRAINER = "fit: one keras.Model per run, one model.fit over its epochs (weightreg.fit_runs)"


def run_study(cfg: DictConfig, out: str | Path, checkpoints: Path | None = None, data_file: Path | None = None,
              validation_only: bool = False) -> pd.DataFrame:
    """Train with the trainer `train.trainer` picks, then write every table into `out` at once (a folder that appears
    complete or not at all); resumes from `checkpoints` if an earlier run was stopped. data_file: a stacked study's
    data (the data stage's file), else made from its settings. validation_only (a search): the trainers never get the
    test arrays and the tables have no test scores."""
    from weightreg.artifacts import atomic_dir
    from weightreg.refine import apply_refinement
    from weightreg.stacked_spec import stacked_study, trains_stacked
    from weightreg.study_inputs import validation_in_test_slots, without_test

    start = time.perf_counter()
    if trains_stacked(cfg):
        from weightreg.cluster import train_study
        from weightreg.data import load_draws, make_dataset

        study, crossed = stacked_study(cfg)
        draws = make_dataset(study) if data_file is None else load_draws(data_file, study)
        tables, trainer = train_study(study, crossed, validation_in_test_slots(draws) if validation_only else draws, checkpoints), None
    else:
        from weightreg.fit_runs import train_study

        study = apply_refinement(cfg)
        tables, trainer = train_study(study, checkpoints, validation_only), FIT_TRAINER
    if validation_only:
        tables = without_test(tables)
    with atomic_dir(out) as tmp:
        write_study(tables, cfg, tmp, time.perf_counter() - start, study, trainer)
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return tables["runs"]


def write_study(tables: dict, cfg: DictConfig, out: Path, wall_seconds: float, study: DictConfig, trainer: str | None) -> None:
    """The tables, and run.json recording the study's config (`study_config`), the spec that trained (the stacked
    trainers' where they trained it), the trainer (the stacked one's name where None) and where SLURM ran the stacks."""
    from weightreg.conditions import plain
    from weightreg.record import trained_settings, write_study as write_tables

    tables = {"surfaces": pd.DataFrame(columns=["condition", "variation", "x", "y", "probability"]), **tables}
    record = {"study_config": plain(trained_settings(cfg)), **({"launcher": tables["launcher"]} if "launcher" in tables else {})}
    write_tables(tables, study, out, wall_seconds, trainer, record)


def checkpoint_dir(root: Path, cfg: DictConfig) -> Path:
    """Where a study's checkpoints wait until its result is written (keyed by its config)."""
    return root / ".checkpoints" / f"{cfg.study}-{config_hash(cfg)}"


def stage_main(argv: list[str]) -> None:
    """The DVC stage: `studies.<study>` of params.yaml; a study the stacked trainers train reads the data stage's file."""
    import argparse

    from weightreg.params import load_params
    from weightreg.errors import run_stage
    from weightreg.schema import resolve_study

    parser = argparse.ArgumentParser(prog="python -m weightreg.train stage", description="The train stage of one study.")
    parser.add_argument("study")
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default="data", help="the data stages' folder (<study>.npz of a moons or IMDB study)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    def stage() -> str:
        cfg = resolve_study(load_params(args.params), args.study)
        runs = run_study(cfg, args.out, checkpoint_dir(Path("."), cfg), Path(args.data_dir) / f"{args.study}.npz")
        return f"train {args.study}: wrote {args.out} ({len(runs)} runs)"

    run_stage(stage)


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(composed: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    from weightreg.fit_runs import objective
    from weightreg.errors import exit_on_error
    from weightreg.schema import from_mapping

    with exit_on_error():
        cfg = from_mapping(composed)
        out = Path(HydraConfig.get().runtime.output_dir) / f"result-{config_hash(cfg)}"
        runs = run_study(cfg, out, checkpoint_dir(out.parent, cfg))
        metric = [c for c in ("test/accuracy", "test/mae") if c in runs.columns][0]
        print(runs.groupby(["condition", "variation"])[[cfg.objective, metric]].mean().to_string())
        print(f"wrote {out}")
        return objective(cfg, runs)


if __name__ == "__main__":
    if sys.argv[1:2] == ["stage"]:  # the DVC stage; anything else is Hydra's command line
        stage_main(sys.argv[2:])
    else:
        from weightreg.hints import unknown_keys

        for line in unknown_keys(sys.argv[1:]):  # before Hydra's own message about the same override
            print(f"error: {line}", file=sys.stderr)
        main()
