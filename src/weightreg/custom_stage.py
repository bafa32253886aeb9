"""DVC stage of a study of your own model: `custom_studies.<name>` of params.yaml, exactly as DVC tracked it.

    PYTHONPATH=own python -m weightreg.custom_stage digits_mlp --out results/digits_mlp

A study is one file in conf/custom_study/ and one line in conf/pipeline.yaml; its code lives in own/ (on
PYTHONPATH in the stage's command, and a dependency of every custom study's stage).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from weightreg.errors import ConfigError, exit_on_error


def resolve_custom_study(params, study: str):
    from weightreg.custom_schema import from_mapping

    studies = params.get("custom_studies") or {}
    if study not in studies:
        raise ConfigError(f"custom_studies.{study}: no such study; expected one of {sorted(studies)}")
    cfg = from_mapping(studies[study], key=f"custom_studies.{study}.")
    cfg.study = study
    return cfg


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weightreg.custom_stage", description=__doc__.split("\n\n")[0])
    parser.add_argument("study")
    parser.add_argument("--out", required=True)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with exit_on_error():
        from weightreg.config import config_hash
        from weightreg.custom import run_study
        from weightreg.config import load_params

        cfg = resolve_custom_study(load_params(args.params), args.study)
        runs = run_study(cfg, args.out, Path(".checkpoints") / f"{args.study}-{config_hash(cfg)}")
    print(f"custom {args.study}: wrote {args.out} ({len(runs)} runs) in {time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
