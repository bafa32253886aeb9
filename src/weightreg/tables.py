"""A study's tables from its trained members: one row per run, learning curves in long form, and the moons
decision surfaces (mean predicted probability over seeds on a grid)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from weightreg.conditions import penalty_pair
from weightreg.config import Architecture, Dataset, Penalty, Placement
from weightreg.members import HISTORY_COLUMNS, Member, Trained
from weightreg.params import BASELINE
from weightreg.penalties import placement_of


def surface_probabilities(predict: Callable, k: int, grid: np.ndarray, chunk: int = 200) -> np.ndarray:
    """(k, G): each of k members' predicted probability on `grid` (G, 2), `chunk` points at a time."""
    return np.concatenate(
        [np.asarray(predict(np.broadcast_to(grid[i : i + chunk], (k, *grid[i : i + chunk].shape)).astype(np.float32)))
         for i in range(0, len(grid), chunk)],
        axis=1,
    )


def surface_table(probabilities: np.ndarray, members: list[Member], grid: np.ndarray) -> pd.DataFrame:
    """Mean of `probabilities` (K, G) over seeds, per condition and variation, in long form."""
    keys = pd.DataFrame([(m.condition.name, m.variation) for m in members], columns=["condition", "variation"])
    rows = []
    for (condition, variation), index in keys.groupby(["condition", "variation"], sort=False).groups.items():
        mean = probabilities[np.asarray(index)].mean(axis=0)
        rows.append(pd.DataFrame({"condition": condition, "variation": variation, "x": grid[:, 0], "y": grid[:, 1], "probability": mean}))
    return pd.concat(rows, ignore_index=True)


def surface_grid(draws: dict[str, np.ndarray], steps: int = 60) -> np.ndarray:
    points = np.concatenate([draws["x_train"].reshape(-1, 2), draws["x_test"].reshape(-1, 2)])
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], steps), np.linspace(low[1], high[1], steps))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def diverged_members(trained: Trained) -> np.ndarray:
    """(K,) True where a member's loss or weights stopped being finite at any recorded point."""
    finite_history = np.isfinite(trained.history).all(axis=(0, 1))
    finite_final = np.all([np.isfinite(values) for key, values in trained.final.items() if "accuracy" not in key], axis=0)
    return ~(finite_history & finite_final)


def run_table(cfg: DictConfig, members: list[Member], trained: Trained) -> pd.DataFrame:
    """One row per run, the columns every study shares."""
    rows = []
    diverged = diverged_members(trained)
    for k, member in enumerate(members):
        reg = member.condition.regularizer
        l1, l2 = penalty_pair(reg)
        decay = float(reg.get("weight_decay", 0.0))
        metrics = {key: np.nan if diverged[k] else float(values[k]) for key, values in trained.final.items()}
        rows.append(
            {
                "study": cfg.study,
                "condition": member.condition.name,
                "model": Architecture(cfg.model.name).value,
                "regularizer": "weight_decay" if decay > 0 else Penalty(reg.get("kind", "none")).value,
                # l1_l2: the l2 part, with l1 beside it; weight decay: its decay rate
                "strength": decay if decay > 0 else (l1 if reg.get("kind") == "l1" else l2),
                "l1": l1,
                "l2": l2,
                "weight_decay": decay,
                "placement": "+".join(Placement(p).value for p in placement_of(reg)) if member.condition.name != BASELINE else "",
                "schedule": bool(len(reg.get("schedule") or [])),
                "seed": member.seed,
                "data_seed": member.data_seed,
                "variation": member.variation,
                "epochs": cfg.train.epochs,
                "test/n": int(trained.correct.shape[1]),  # test points: accuracy moves in steps of 1/test/n
                "diverged": bool(diverged[k]),  # its metrics are left empty: nothing that could pass for a result
                **metrics,
            }
        )
    return pd.DataFrame(rows)


def history_table(members: list[Member], trained: Trained) -> pd.DataFrame:
    """Learning curves in long form: condition, variation, seed, epoch, metric, value."""
    n_records, n_metrics, k = trained.history.shape
    epochs = np.arange(n_records) * trained.every + 1
    frame = pd.DataFrame(
        {
            "condition": np.tile([m.condition.name for m in members], n_records * n_metrics),
            "variation": np.tile([m.variation for m in members], n_records * n_metrics),
            "seed": np.tile([m.seed for m in members], n_records * n_metrics),
            "epoch": np.repeat(epochs, n_metrics * k),
            "metric": np.tile(np.repeat(HISTORY_COLUMNS, k), n_records),
            "value": trained.history.reshape(-1),
        }
    )
    return frame


def study_tables(cfg: DictConfig, members: list[Member], parts: list[tuple[int, int, Trained]],
                 wanted: Callable[[Member], bool] | None, draws: dict[str, np.ndarray],
                 probabilities: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """A study's tables from its trained member ranges; `probabilities`: its moons surface probabilities where
    they were computed elsewhere (a SLURM job), else they come from the trained stack's `predict`."""
    tables = {"runs": pd.concat([run_table(cfg, members[a:b], trained) for a, b, trained in parts], ignore_index=True),
              "histories": pd.concat([history_table(members[a:b], trained) for a, b, trained in parts], ignore_index=True),
              "correct": np.concatenate([trained.correct for _, _, trained in parts]),
              "fit_seconds": np.concatenate([trained.fit_seconds for _, _, trained in parts])}
    if cfg.data.name == Dataset.imdb or wanted is not None:
        tables["surfaces"] = pd.DataFrame(columns=["condition", "variation", "x", "y", "probability"])
    else:
        [(_, _, trained)] = parts
        grid = surface_grid(draws)
        if probabilities is None:
            probabilities = surface_probabilities(trained.predict, len(members), grid)
        tables["surfaces"] = surface_table(probabilities, members, grid)
    return tables
