"""DVC's entry point: every stage runs on exactly the params DVC tracked in params.yaml.

    python -m weightreg.stage data moons_case_study --out data/moons_case_study.npz
    python -m weightreg.stage imdb_archive --out data/aclImdb_v1.tar.gz
    python -m weightreg.stage imdb_reviews --archive data/aclImdb_v1.tar.gz --out data/imdb_reviews.npz
    python -m weightreg.stage data imdb_mlp --reviews data/imdb_reviews.npz --out data/imdb_mlp.npz
    python -m weightreg.stage train moons_case_study --data data/moons_case_study.npz --out results/moons_case_study
    python -m weightreg.stage aggregate moons_case_study --results results/moons_case_study --metrics metrics/moons_case_study.json
    python -m weightreg.stage report --results results --out reports
    python -m weightreg.stage environment --out reports/environment.txt

Why not `python -m weightreg.train` with Hydra here: a script that re-composes conf/ itself would
ignore `dvc exp run -S` and could run settings other than the tracked ones (treeverse/dvc #10186).
Paths come from dvc.yaml's command lines, so each is written once. Each stage returns the summary line
printed on stderr when it ends (what it wrote, and how long it took).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from weightreg.config import resolve_study
from weightreg.errors import ConfigError, exit_on_error


def load_params(path: str | Path) -> DictConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; expected params.yaml composed from conf/ (make params)")
    return OmegaConf.load(path)


def data_stage(args) -> str:
    from weightreg.data import make_dataset, save_draws

    cfg = resolve_study(load_params(args.params), args.study)
    if args.reviews is not None:
        check_pipeline_source(cfg)
    save_draws(make_dataset(cfg, args.reviews), args.out)
    return f"data {args.study}: wrote {args.out}"


def check_pipeline_source(cfg) -> None:
    """In the pipeline every IMDB study reads the archive the imdb_archive stage fetched: a study's own
    source settings would be ignored, so they are refused."""
    from weightreg.config import DataConfig

    default = DataConfig()
    for key in ("source", "archive", "url"):
        if cfg.data[key] != getattr(default, key):
            raise ConfigError(f"studies.{cfg.study}.data.{key}={cfg.data[key]!r}: the pipeline reads the archive that the "
                              f"imdb_archive stage fetches; set imdb_archive.path or imdb_archive.url in conf/pipeline.yaml")


def imdb_archive_stage(args) -> str:
    from weightreg.imdb import fetch_archive

    source = load_params(args.params).get("imdb_archive")
    if source is None:
        raise ConfigError(f"{args.params}: no imdb_archive entry; expected {{path: ..., url: ...}} (conf/pipeline.yaml)")
    fetch_archive(source, Path(args.out))
    return f"imdb_archive: wrote {args.out}"


def imdb_reviews_stage(args) -> str:
    from weightreg.data import save_draws
    from weightreg.imdb import tokenized_reviews

    reviews = tokenized_reviews(Path(args.archive))
    save_draws(reviews, args.out)
    return f"imdb_reviews: wrote {args.out} ({len(reviews['y_train'])} + {len(reviews['y_test'])} reviews, {len(reviews['vocabulary'])} words)"


def train_stage(args) -> str:
    from weightreg.refine import apply_refinement
    from weightreg.data import load_draws
    from weightreg.train import checkpoint_dir, train, write_study

    cfg = apply_refinement(resolve_study(load_params(args.params), args.study))
    checkpoints = checkpoint_dir(Path("."), cfg)  # resumed from if an earlier run of this config was stopped
    start = time.perf_counter()
    tables = train(cfg, load_draws(args.data, cfg), checkpoints)
    write_study(tables, cfg, args.out, time.perf_counter() - start)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return f"train {args.study}: wrote {args.out} ({len(tables['runs'])} runs)"


def aggregate_stage(args) -> str:
    from weightreg.aggregate import aggregate_study

    cfg = resolve_study(load_params(args.params), args.study)
    aggregate_study(args.results, args.metrics, cfg.margin)
    return f"aggregate {args.study}: wrote summary, comparisons and curves in {args.results}, metrics {args.metrics}"


def report_stage(args) -> str:
    from weightreg.report import build_report

    build_report(args.results, args.out, order=list(load_params(args.params).studies))
    return f"report: wrote {args.out}/report.md, {args.out}/report.html and {args.out}/figures"


def environment_stage(args) -> str:
    """A pip-freeze-style record of every installed distribution, kept as a DVC output."""
    from importlib import metadata

    from weightreg.artifacts import atomic_path

    lines = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]}, key=str.lower)
    with atomic_path(args.out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return f"environment: wrote {args.out} ({len(lines)} distributions)"


# Each stage's function and arguments: a bare name is positional, `--name` required, `--name?` optional.
STAGES = {
    "data": (data_stage, ("study", "--out", "--reviews?")),
    "imdb_archive": (imdb_archive_stage, ("--out",)),
    "imdb_reviews": (imdb_reviews_stage, ("--archive", "--out")),
    "train": (train_stage, ("study", "--data", "--out")),
    "aggregate": (aggregate_stage, ("study", "--results", "--metrics")),
    "report": (report_stage, ("--results", "--out")),
    "environment": (environment_stage, ("--out",)),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m weightreg.stage", description=__doc__.split("\n\n")[0])
    top.add_argument("--params", default="params.yaml")
    stages = top.add_subparsers(dest="stage", required=True)
    for name, (run, arguments) in STAGES.items():
        stage = stages.add_parser(name)
        for argument in arguments:
            optional = argument.endswith("?")
            stage.add_argument(argument.rstrip("?"), **({} if not argument.startswith("--") else {"required": not optional}))
        stage.set_defaults(run=run)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    start = time.perf_counter()
    with exit_on_error():
        done = args.run(args)
    print(f"{done} in {time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
