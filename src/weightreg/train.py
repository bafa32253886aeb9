"""Train every condition x variation x seed of a study; write one tidy row per run.

    python -m weightreg.train experiment=moons_case_study seed=3 n_seeds=1
    python -m weightreg.train -m seed=0,100 regularizer=l1,l2          # Hydra multirun
    python -m weightreg.train stage moons_case_study --data data/moons_case_study.npz --out results/moons_case_study

The last form is the DVC stage: it runs on exactly the params DVC tracked in params.yaml, never on a
re-composition of conf/ (which would ignore `dvc exp run -S`, treeverse/dvc #10186). Both forms call
`run_study`, the one training entry; the trainers are in weightreg.trainers, the tables in weightreg.tables,
the results folder in weightreg.record.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig

from weightreg.config import config_hash
from weightreg.record import write_study
from weightreg.cluster import train_study
from weightreg.validation import from_mapping


def checkpoint_dir(root: Path, cfg: DictConfig) -> Path:
    """Where a study's per-epoch checkpoints wait until its result is written (keyed by its config)."""
    return root / ".checkpoints" / f"{cfg.study}-{config_hash(cfg)}"


def run_study(cfg: DictConfig, draws: dict[str, np.ndarray], out_dir: str | Path, checkpoints: Path) -> pd.DataFrame:
    """The one training entry (DVC stage and command line): train, then write every table into `out_dir` at once
    (a folder that appears complete or not at all); resumes from `checkpoints` if an earlier run was stopped."""
    from weightreg.artifacts import atomic_dir

    start = time.perf_counter()
    tables = train_study(cfg, draws, checkpoints)
    with atomic_dir(out_dir) as tmp:
        write_study(tables, cfg, tmp, time.perf_counter() - start,
                    record={"launcher": tables["launcher"]} if "launcher" in tables else None)  # where SLURM ran the stacks
    shutil.rmtree(checkpoints, ignore_errors=True)
    return tables["runs"]


def stage_main(argv: list[str]) -> None:
    """The DVC stage: `studies.<study>` of params.yaml, on the data file the data stage wrote."""
    import argparse

    from weightreg.config import load_params
    from weightreg.data import load_draws
    from weightreg.errors import run_stage
    from weightreg.refine import apply_refinement
    from weightreg.validation import resolve_study

    parser = argparse.ArgumentParser(prog="python -m weightreg.train stage", description="The train stage of one study.")
    parser.add_argument("study")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    def stage() -> str:
        cfg = apply_refinement(resolve_study(load_params(args.params), args.study))
        runs = run_study(cfg, load_draws(args.data, cfg), args.out, checkpoint_dir(Path("."), cfg))
        return f"train {args.study}: wrote {args.out} ({len(runs)} runs)"

    run_stage(stage)


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(composed: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from weightreg.data import make_dataset
    from weightreg.errors import exit_on_error
    from weightreg.refine import apply_refinement

    with exit_on_error():
        cfg = apply_refinement(from_mapping(composed))
        out_dir = Path(HydraConfig.get().runtime.output_dir) / f"result-{config_hash(cfg)}"
        runs = run_study(cfg, make_dataset(cfg), out_dir, checkpoint_dir(out_dir.parent, cfg))
        print(runs.groupby(["condition", "variation"])[["train/accuracy", "test/accuracy"]].mean().to_string())
        print(f"wrote {out_dir}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["stage"]:  # the DVC stage; anything else is Hydra's command line
        stage_main(sys.argv[2:])
    else:
        from weightreg.hints import unknown_keys

        for line in unknown_keys(sys.argv[1:]):  # before Hydra's own message about the same override
            print(f"error: {line}", file=sys.stderr)
        main()
