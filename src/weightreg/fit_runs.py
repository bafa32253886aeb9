"""The fit trainer: every (condition, variation, seed) of a study trained with `model.fit`, for any Keras model and data.

`model` and `data` are Hydra `_target_`s: the model callable returns an uncompiled `keras.Model` and
receives the keywords it declares among input_shape, n_outputs, seed and task; the data callable returns
x_train, y_train, x_test, y_test (x_val, y_val optional) and receives `seed` if it declares it. Penalties are
placed on the model by layer glob, type and weight (weightreg.placement); `optimizer` is a `_partial_`
target. Each run is one model.fit over its epochs, each epoch's minibatch order drawn from (seed, epoch), checkpointed
every train.checkpoint_seconds (weightreg.trainers.fit); `train.callbacks` act on the whole run. The results have the
stacked trainers' columns, so aggregate and the report treat every study alike. weightreg.train picks this trainer or
the stacked ones (`train.trainer`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from weightreg.conditions import conditions, penalty_terms
from weightreg.config import Condition
from weightreg.errors import ConfigError
from weightreg.fit_conditions import penalty_pair, placed_terms
from weightreg.members import Member
from weightreg.params import BASELINE
from weightreg.study_inputs import build_model, load_data, outputs
from weightreg.targets import call_target
from weightreg.tasks import Task
from weightreg.trainers.optimizers import make_optimizer



# --- training --------------------------------------------------------------------------------------


def study_runs(cfg: DictConfig) -> list[Member]:
    """Every (condition, variation, seed) of the study: its members, as the built-in studies have them."""
    return [Member(c, v, s, cfg.data_seed if v == "model" else s) for c in conditions(cfg) for v in cfg.variations
            for s in range(cfg.seed, cfg.seed + cfg.n_seeds)]


def prepared_model(cfg: DictConfig, task: Task, arrays: dict, run: Member, check: list[Condition] = ()):
    """The user's model for the run's seed with the condition's penalties placed, compiled with its optimizer. The
    penalties and optimizers of the conditions in `check` are tried on the same model first (nothing is built for
    them): the first run checks every condition, so a bad one stops the study before any training."""
    from weightreg.placement import assignments, with_penalties

    model = build_model(cfg, task, arrays, run.seed)
    for condition in check:
        assignments(model, placed_terms(condition.regularizer))
        call_target(OmegaConf.create(condition.optimizer), "optimizer", {})
    model = with_penalties(model, placed_terms(run.condition.regularizer))
    model.compile(optimizer=make_optimizer(OmegaConf.create(run.condition.optimizer)), loss=task.loss, metrics=[task.metric])
    return model


def final_scores(model, arrays: dict, task: Task) -> tuple[dict[str, float], np.ndarray]:
    """Each split's loss (no penalty) and metrics, the test split's only use; which test rows it gets right."""
    import keras

    from weightreg.tasks import predictions, scores

    final = {}
    for split in ("train", "val", "test"):
        predicted = outputs(model, arrays[f"x_{split}"])
        final.update({f"{split}/{k}": v for k, v in scores(task, arrays[f"y_{split}"], predicted).items()})
    correct = predictions(task, predicted) == arrays["y_test"] if task.name != "regression" else np.zeros(0, bool)
    kernels = {}
    for layer in model.layers:
        for w in layer.trainable_weights:
            values = keras.ops.convert_to_numpy(w).astype(np.float64)
            final[f"weights/l1/{layer.name}.{w.name}"] = float(np.abs(values).sum())
            final[f"weights/l2/{layer.name}.{w.name}"] = float(np.sqrt((values**2).sum()))
            if w.name in ("kernel", "recurrent_kernel"):
                kernels[f"{layer.name}.{w.name}"] = values
    final["weights/l2/all_kernels"] = float(np.sqrt(sum((v**2).sum() for v in kernels.values())))
    return final, correct


def check_fit_trainer(cfg: DictConfig) -> None:
    """Settings that only the stacked trainers (weightreg.stacked_spec) have: each stops the fit trainer here, naming the key."""
    if not cfg.train.bce_from_logits:
        raise ConfigError("train.bce_from_logits=false: the 2018 clipped loss exists in the stacked trainers only; expected true "
                          "when runs train with model.fit")
    instead = {"schedule": "a constant strength (a schedule is the stacked moons trainer's)",
               "weight_decay": "0, with decoupled decay as the optimizer's: optimizer._target_=keras.optimizers.AdamW, weight_decay=..."}
    for condition in conditions(cfg):
        for key, expected in instead.items():
            if condition.regularizer.get(key):
                raise ConfigError(f"regularizer.{key}={condition.regularizer[key]!r} (condition {condition.name}): model.fit "
                                  f"cannot apply it; expected {expected}")


def train_study(cfg: DictConfig, checkpoints: Path | None = None, validation_only: bool = False) -> dict[str, Any]:
    """Every run of the study; returns its tables (runs, histories) and per-run correct test rows and seconds.
    validation_only: the data's test arrays are never loaded (load_data)."""
    from weightreg.members import seed_everything, training_progress

    check_fit_trainer(cfg)
    seed_everything(cfg.seed, cfg.train.threads)
    runs = study_runs(cfg)
    draws: dict[int, dict] = {}
    rows, histories, corrects, seconds = [], [], [], []
    bar = training_progress(runs, cfg.train.epochs, f"{cfg.study}: runs one by one (model.fit)")
    try:  # an error ends the bar's line first, so that it is a line of its own
        for run in runs:
            if run.data_seed not in draws:
                draws[run.data_seed] = load_data(cfg, run.data_seed, validation_only)
            checkpoint = checkpoints / f"{run.condition.name}__{run.variation}__{run.seed}".replace("/", "_") if checkpoints else None
            row, history, correct, elapsed = trained_run(cfg, draws[run.data_seed], run, conditions(cfg) if run is runs[0] else [],
                                                         checkpoint, bar.update)
            rows.append(row)
            histories.append(history)
            corrects.append(correct)
            seconds.append(elapsed)
    finally:
        bar.close()
    return {"runs": pd.DataFrame(rows), "histories": pd.concat(histories, ignore_index=True),
            "correct": np.stack(corrects), "fit_seconds": seconds}


def trained_run(cfg: DictConfig, arrays: dict, run: Member, check: list[Condition] = (), checkpoint: Path | None = None,
                advance: Callable[[int], object] = lambda epochs: None) -> tuple[dict, pd.DataFrame, np.ndarray, float]:
    """One run trained with model.fit (weightreg.trainers.fit.fit_epochs): its runs.csv row, its learning curves, which
    test rows it gets right, and its training seconds."""
    from hydra.utils import instantiate

    from weightreg.tasks import check_labels, resolve_task
    from weightreg.trainers.fit import fit_epochs

    task = resolve_task(cfg.task, arrays["y_train"])
    check_labels(task, arrays)
    model = prepared_model(cfg, task, arrays, run, check)
    start = time.perf_counter()
    model, history, diverged = fit_epochs(model, arrays["x_train"], arrays["y_train"], (arrays["x_val"], arrays["y_val"]),
                                          epochs=cfg.train.epochs, batch_size=cfg.train.batch_size, seed=run.seed,
                                          names=("loss", task.metric, "val_loss", f"val_{task.metric}"),
                                          callbacks=tuple(instantiate(c) for c in cfg.train.callbacks), checkpoint=checkpoint,
                                          checkpoint_seconds=cfg.train.checkpoint_seconds, advance=advance)
    elapsed = time.perf_counter() - start
    final, correct = final_scores(model, arrays, task)
    diverged = diverged or not np.isfinite(list(final.values())).all()  # NaN after an early stop is no divergence
    row = run_row(cfg, run, task, len(arrays["y_test"]), diverged, final)
    return row, history_frame(run, task, history, cfg.train.history_every or 1), correct, elapsed


def run_row(cfg: DictConfig, run: Member, task: Task, n_test: int, diverged: bool, final: dict) -> dict:
    from weightreg.placement import placement_text

    terms = penalty_terms(run.condition.regularizer)
    main = terms[0] if terms else {}
    l1, l2 = penalty_pair(main)
    kind = main["_target_"].rsplit(".", 1)[-1] if "_target_" in main else main.get("kind", "none")
    return {
        "study": cfg.study, "condition": run.condition.name, "model": cfg.model["_target_"], "task": task.name,
        "regularizer": kind, "strength": l1 if kind == "l1" else l2, "l1": l1, "l2": l2,
        "weight_decay": float(run.condition.optimizer.get("weight_decay", 0.0) or 0.0),
        "optimizer": run.condition.optimizer["_target_"].rsplit(".", 1)[-1],
        "placement": "&".join(placement_text(t.get("placement", ["kernel"])) for t in terms),
        "schedule": False, "seed": run.seed, "data_seed": run.data_seed, "variation": run.variation,
        "epochs": cfg.train.epochs, "test/n": n_test, "diverged": diverged,
        **{k: (np.nan if diverged else v) for k, v in final.items()},
    }


def history_frame(run: Member, task: Task, history: np.ndarray, every: int = 1) -> pd.DataFrame:
    """The run's learning curves after epochs 1, 1 + every, 1 + 2 every, ..."""
    columns = ("train/loss", f"train/{task.metric}", "val/loss", f"val/{task.metric}")
    epochs = np.arange(1, len(history) + 1)[::every]
    history = history[::every]
    return pd.DataFrame({"condition": run.condition.name, "variation": run.variation, "seed": run.seed,
                         "epoch": np.repeat(epochs, len(columns)), "metric": np.tile(columns, len(history)),
                         "value": history.reshape(-1)})


def objective(cfg: DictConfig, runs: pd.DataFrame) -> float:
    """Mean of the objective (a validation metric) over the runs of the study's penalized conditions (the baseline's
    when it has no other), for a sweeper; NaN when a run diverged."""
    if cfg.objective not in runs.columns:
        metrics = [c for c in runs.columns if c.startswith("val/")]
        raise ConfigError(f"objective={cfg.objective!r}: not a metric of this study; expected one of {metrics}")
    chosen = runs[runs.condition != BASELINE] if (runs.condition != BASELINE).any() else runs
    return float(chosen[cfg.objective].mean())
