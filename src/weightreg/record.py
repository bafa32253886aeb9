"""A study's results folder: its tables, each written atomically, then run.json, the record of how they were made."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from weightreg.params import config_hash
from weightreg.trainers.study import trainer_name


def trained_settings(cfg: DictConfig) -> DictConfig:
    """A study's settings without `report:`: only the report stage reads that block, so the record (and the config
    hash) of what trained stays the same when a question is reworded, and the training stages do not track it."""
    return OmegaConf.masked_copy(cfg, [key for key in cfg if key != "report"])


def write_study(tables: dict[str, pd.DataFrame], cfg: DictConfig, out_dir: str | Path, wall_seconds: float,
                trainer: str | None = None, record: dict | None = None) -> None:
    """Write a study's tables, each atomically, then its run record (resolved config but its report block, seeds,
    versions, and any further `record` fields)."""
    from weightreg.artifacts import CORRECT_FILE, atomic_path, library_versions, machine, save_correct, write_json

    out_dir = Path(out_dir)
    for name, filename in (("runs", "runs.csv"), ("histories", "histories.csv.gz"), ("surfaces", "surfaces.csv.gz")):
        text = tables[name].to_csv(index=False).encode()
        with atomic_path(out_dir / filename) as tmp:
            # gzip.compress stores no file name (pandas would store the random temporary one) and mtime 0: an identical
            # rerun writes identical bytes, so DVC reruns nothing downstream
            tmp.write_bytes(gzip.compress(text, mtime=0) if filename.endswith(".gz") else text)
    save_correct(tables["correct"], out_dir / CORRECT_FILE)
    cfg = trained_settings(cfg)
    write_json(
        {
            "study": cfg.study,
            "trainer": trainer or trainer_name(cfg),
            "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
            "config_hash": config_hash(cfg),
            "seeds": list(range(cfg.seed, cfg.seed + cfg.n_seeds)),
            "versions": library_versions(),
            "machine": machine(),
            # PYTHONHASHSEED as this interpreter started with it (nothing here writes the variable; None: randomized)
            "determinism": {"op_determinism": True, "threads": cfg.train.threads, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED")},
            "wall_seconds": wall_seconds,
            # seconds of training per run, in runs.csv's row order: the clock lives here, so that an identical
            # rerun leaves runs.csv bitwise equal and nothing downstream reruns
            "fit_seconds": [round(float(s), 3) for s in tables["fit_seconds"]],
            **(record or {}),
        },
        out_dir / "run.json",
    )
