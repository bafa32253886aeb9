"""The data stage: moons drawn exactly as the tutorial draws them, or IMDB reviews (weightreg.imdb).

    python -m weightreg.data moons_case_study --out data/moons_case_study.npz
    python -m weightreg.data imdb_mlp --reviews data/imdb_reviews.npz --out data/imdb_mlp.npz

`make_moons(n_samples=100, noise=0.2, random_state=1)`, first 30 rows train and the other 70 test.
Studies that also vary the data draw again with `random_state=seed` for each seed.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from weightreg.artifacts import save_arrays
from weightreg.config import Dataset, Variation
from weightreg.errors import ConfigError, DataError
from weightreg.moons import moons_split

ARRAYS = ("data_seed", "x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
IMDB_ARRAYS = ("multi_hot_train", "multi_hot_val", "multi_hot_test", "sequences_train", "sequences_val", "sequences_test",
               "y_train", "y_val", "y_test", "vocabulary")
IMDB_REDRAW_ARRAYS = ("multi_hot_pool", "sequences_pool", "y_pool", "draw_seed", "train_rows", "val_rows")


def data_seed(cfg: DictConfig, variation: Variation, seed: int) -> int:
    return cfg.data.random_state if Variation(variation) == Variation.model else seed


def redrawn_seeds(cfg: DictConfig) -> list[int]:
    """The data seeds of variation data+model (empty when the study has none)."""
    if Variation.data_model.value not in cfg.variations:
        return []
    return [data_seed(cfg, Variation.data_model, s) for s in range(cfg.seed, cfg.seed + cfg.n_seeds)]


def data_seeds(cfg: DictConfig) -> list[int]:
    seeds = range(cfg.seed, cfg.seed + cfg.n_seeds)
    return sorted({data_seed(cfg, v, s) for v in cfg.variations for s in seeds})


def make_draws(cfg: DictConfig) -> dict[str, np.ndarray]:
    """Arrays with a leading draw axis: data_seed (D,), x_train (D, n_train, 2), y_train (D, n_train), ..."""
    seeds = data_seeds(cfg)
    splits = [moons_split(cfg.data, s) for s in seeds]
    draws = {"data_seed": np.asarray(seeds, dtype=np.int64)}
    for name in ARRAYS[1:]:
        dtype = np.float32 if name.startswith("x") else np.int64
        draws[name] = np.stack([getattr(split, name) for split in splits]).astype(dtype)
    return draws


def make_dataset(cfg: DictConfig, reviews: str | Path | None = None) -> dict[str, np.ndarray]:
    """A study's data; for IMDB from the pipeline's tokenized reviews when given, else from the source."""
    if cfg.data.name == Dataset.imdb:
        from weightreg.imdb import REVIEW_ARRAYS, encode_reviews, make_imdb

        if reviews is None:
            return make_imdb(cfg.data, redrawn_seeds(cfg))
        return encode_reviews(load_arrays(reviews, cfg, REVIEW_ARRAYS), cfg.data, redrawn_seeds(cfg))
    if reviews is not None:
        raise ConfigError(f"studies.{cfg.study}.data: {cfg.data.name.value} data; --reviews is for IMDB studies only")
    return make_draws(cfg)


def load_arrays(path: str | Path, cfg: DictConfig, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found; expected the output of `python -m weightreg.data {cfg.study}`")
    try:
        with np.load(path) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise DataError(f"{path}: arrays {missing} missing; expected {list(names)}")
            return {name: archive[name] for name in names}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz data file ({error})") from None


def load_draws(path: str | Path, cfg: DictConfig) -> dict[str, np.ndarray]:
    """Read a data file, checking (for moons) that it holds every seed and the sizes `cfg` asks for."""
    if cfg.data.name == Dataset.imdb:
        redrawn = redrawn_seeds(cfg)
        arrays = load_arrays(path, cfg, IMDB_ARRAYS + (IMDB_REDRAW_ARRAYS if redrawn else ()))
        absent = sorted(set(redrawn) - set(arrays.get("draw_seed", np.array([])).tolist()))
        if absent:
            raise DataError(f"{path}: no training/validation split for data seeds {absent}; rerun the data stage")
        return arrays
    draws = load_arrays(path, cfg, ARRAYS)
    n_test = cfg.data.n_samples - cfg.data.n_train
    expected = {"x_train": (cfg.data.n_train, 2), "x_val": (cfg.data.n_val, 2), "x_test": (n_test, 2)}
    for name, shape in expected.items():
        if draws[name].shape[1:] != shape:
            raise DataError(f"{path}: {name} has shape {draws[name].shape[1:]} per draw; config expects {shape}")
    absent = sorted(set(data_seeds(cfg)) - set(draws["data_seed"].tolist()))
    if absent:
        raise DataError(f"{path}: no draw for data seeds {absent}; rerun the data stage")
    return draws


def check_pipeline_source(cfg: DictConfig) -> None:
    """In the pipeline every IMDB study reads the archive the imdb_archive stage fetched: a study's own
    source settings would be ignored, so they are refused."""
    from weightreg.config import DataConfig

    default = DataConfig()
    for key in ("source", "archive", "url"):
        if cfg.data[key] != getattr(default, key):
            raise ConfigError(f"studies.{cfg.study}.data.{key}={cfg.data[key]!r}: the pipeline reads the archive that the "
                              f"imdb_archive stage fetches; set imdb_archive.path or imdb_archive.url in conf/pipeline.yaml")


def main(argv: list[str] | None = None) -> None:
    from weightreg.params import load_params
    from weightreg.data_rules import check_data, study_config
    from weightreg.errors import run_stage

    parser = argparse.ArgumentParser(prog="python -m weightreg.data", description=__doc__.split("\n\n")[0])
    parser.add_argument("study")
    parser.add_argument("--out", required=True)
    parser.add_argument("--reviews", help="IMDB: the tokenized reviews (the imdb_reviews stage's output)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    def stage() -> str:
        cfg = check_data(study_config(load_params(args.params), args.study))  # what this stage reads (train checks the rest)
        if args.reviews is not None:
            check_pipeline_source(cfg)
        save_arrays(make_dataset(cfg, args.reviews), args.out)
        return f"data {args.study}: wrote {args.out}"

    run_stage(stage)


if __name__ == "__main__":
    main()
