"""Train a whole study: which trainer its members train on, and in which ranges of members.

    tables = train(cfg, draws)     # runs, histories, correct, fit_seconds, surfaces

moons: the compiled full-batch stack (trainers.full_batch), or one keras.Sequential per member through the same
loop; IMDB: the minibatch text stacks (weightreg.trainers.text_stack), or one model.fit per member (trainers.fit), all in
this process (weightreg.cluster.train_study picks between here and SLURM jobs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from weightreg.config import Condition, Dataset
from weightreg.members import Member, Trained, chunk_bounds, member_arrays, seed_everything, study_members
from weightreg.tables import study_tables
from weightreg.trainers.fit import train_fit
from weightreg.trainers.full_batch import train_single, train_stacked_in_chunks


def train(cfg: DictConfig, crossed: list[Condition], draws: dict[str, np.ndarray], checkpoints: Path | None = None,
          wanted: Callable[[Member], bool] | None = None) -> dict[str, pd.DataFrame]:
    """Train a whole study, its conditions `crossed` (weightreg.conditions.conditions, typed) on its data draws; return
    its tables (runs, histories, surfaces).

    wanted: train only the members it accepts, each inside the stack it is trained in as part of the whole
    study (so its numbers are the study's own): verify's re-run of a sample.
    """
    seed_everything(cfg.seed, cfg.train.threads)
    members = study_members(cfg, crossed)
    if cfg.data.name == Dataset.imdb:
        from weightreg.trainers.text_stack import train_text_stacked

        text_trainer = train_text_stacked if cfg.train.ensemble else train_fit

        def trainer(a: int, b: int) -> Trained:
            return text_trainer(cfg, members[a:b], draws, checkpoints)
    else:
        arrays = member_arrays(draws, members)
        moons_trainer = train_stacked_in_chunks if cfg.train.ensemble else train_single

        def trainer(a: int, b: int) -> Trained:
            return moons_trainer(cfg, members[a:b], {name: value[a:b] for name, value in arrays.items()})
    parts = [(a, b, trainer(a, b)) for a, b in trained_parts(cfg, members, wanted)]
    return study_tables(cfg, members, parts, wanted, draws)


def trained_parts(cfg: DictConfig, members: list[Member], wanted: Callable[[Member], bool] | None) -> list[tuple[int, int]]:
    """Member ranges to train: the whole study at once; with `wanted`, each stack holding a wanted member (stacked
    trainers: the stacks of the whole study's split) or each wanted member alone (one model per member)."""
    if wanted is None:
        return [(0, len(members))]
    index = [i for i, m in enumerate(members) if wanted(m)]
    if not cfg.train.ensemble:
        return [(i, i + 1) for i in index]
    return [(a, b) for a, b in chunk_bounds(len(members), cfg.train.max_stack) if any(a <= i < b for i in index)]


TRAINERS = {
    ("moons", True): "stacked: the compiled full-batch stack (weightreg.trainers.full_batch)",
    ("moons", False): "single: one keras.Sequential per seed through the compiled full-batch loop (weightreg.trainers.full_batch)",
    ("imdb", True): "stacked: the minibatch text stacks (weightreg.trainers.text_stack)",
    ("imdb", False): "fit: one keras.Model per seed, one model.fit over its epochs (weightreg.trainers.fit)",
}


def trainer_name(cfg: DictConfig) -> str:
    """Which trainer a built-in study's members train on, as run.json records it."""
    return TRAINERS[(Dataset(cfg.data.name).value, bool(cfg.train.ensemble))]
