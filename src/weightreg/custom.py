"""A study of your own Keras model and data, by configuration alone: the same seeds, tables and statistics.

    PYTHONPATH=. python -m weightreg.custom --config-dir my_conf custom_study=my_study
    PYTHONPATH=. python -m weightreg.custom -m --config-dir my_conf custom_study=my_study regularizer.strength=1e-4,1e-3

`model` and `data` are Hydra `_target_`s: the model callable returns an uncompiled `keras.Model` and
receives the keywords it declares among input_shape, n_outputs, seed and task; the data callable returns
x_train, y_train, x_test, y_test (x_val, y_val optional) and receives `seed` if it declares it. Penalties are
placed on the model by layer glob, type and weight (weightreg.placement); `optimizer` is a `_partial_`
target. A study the built-in stacked trainers know (weightreg.families: moons or IMDB with the built-in
models) trains on them; any other trains each (condition, variation, seed) with `model.fit`, one epoch at a
time in a minibatch order drawn from (seed, epoch), checkpointed every train.checkpoint_seconds. The
results have the built-in studies' columns, so aggregate and the report treat a custom study like any other.
The command line returns the study's objective, a validation metric (never test), for Hydra sweepers
such as Optuna (conf/custom_config.yaml shows one).
"""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from weightreg.config import BASELINE, Condition
from weightreg.custom_schema import from_mapping
from weightreg.errors import ConfigError, DataError, UserError
from weightreg.members import Member
from weightreg.tasks import Task

MODEL_ARGUMENTS = ("input_shape", "n_outputs", "seed", "task")
TERM_KEYS = ("placement", "extra")  # a penalty term's keys that are not the penalty's own
SHORT_FORM_KEYS = ("kind", "strength", "l1", "l2")  # not passed to a `_target_` regularizer (the defaults carry them)


# --- targets ---------------------------------------------------------------------------------------


def target(spec: DictConfig, key: str) -> Callable:
    from hydra.utils import get_object

    path = spec["_target_"]
    hydra_log = logging.getLogger("hydra.utils")  # it logs the failure at length before raising it: one line here instead
    disabled, hydra_log.disabled = hydra_log.disabled, True
    try:
        found = get_object(path)
    except Exception:  # ImportError, AttributeError, ... : Hydra wraps them
        raise ConfigError(f"{key}._target_={path!r}: cannot be imported ({import_failure(str(path))}); expected a dotted "
                          "path to a callable on PYTHONPATH") from None
    finally:
        hydra_log.disabled = disabled
    if not callable(found):
        raise ConfigError(f"{key}._target_={path!r}: not callable; expected a function or class")
    return found


def import_failure(path: str) -> str:
    """Why a dotted path does not import, in a few words: the longest importable module and the missing name after it,
    or the error the module raised while importing."""
    import importlib

    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is not None and (module == error.name or module.startswith(f"{error.name}.")):
                continue  # this prefix is not a module: try a shorter one
            return f"importing {module} failed: ModuleNotFoundError: {error}"
        except Exception as error:  # the module exists but fails to import
            return f"importing {module} failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        for name in parts[end:]:
            if not hasattr(found, name):
                return f"{'.'.join(parts[:parts.index(name, end)]) or module} has no attribute {name!r}"
            found = getattr(found, name)
        return "Hydra could not resolve it"
    return f"no module named {parts[0]!r}"


def declared(function: Callable, offered: dict) -> dict:
    """The keywords among `offered` that the callable declares (all of them if it takes **kwargs)."""
    parameters = inspect.signature(function).parameters
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return offered
    return {k: v for k, v in offered.items() if k in parameters}


def call_target(spec: DictConfig, key: str, offered: dict):
    from hydra.utils import instantiate

    function = target(spec, key)
    try:
        return instantiate(spec, **declared(function, offered), _convert_="all")
    except UserError:  # a built-in target's own one-line error (e.g. csv_file's), already naming what is wrong
        raise
    except Exception as error:
        if isinstance(error.__cause__, UserError):  # Hydra wraps what the target raised
            raise error.__cause__ from None
        # the user's code failed: say where, keep its message
        cause = error.__cause__ or error
        raise ConfigError(f"{key}._target_={spec['_target_']!r} failed: {type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}") from None


ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(cfg: DictConfig, data_seed: int, validation_only: bool = False) -> dict[str, np.ndarray]:
    """The data target's arrays for one draw, with a validation split carved from training when it gives none.
    validation_only (a search, weightreg.answer): the test arrays are dropped as the target returns them, before any
    check reads them, and the validation split takes their place (see validation_in_test_slots)."""
    from weightreg.datasets import split_rows

    returned = call_target(cfg.data, "data", {"seed": data_seed})
    if not isinstance(returned, dict) or not set(ARRAY_KEYS) <= set(returned):
        shown = sorted(returned) if isinstance(returned, dict) else type(returned).__name__
        raise DataError(f"data._target_={cfg.data['_target_']!r} returned {shown}; expected a mapping with {list(ARRAY_KEYS)} "
                        "(and optionally x_val, y_val)")
    kept = ("x_train", "y_train", "x_val", "y_val") if validation_only else (*ARRAY_KEYS, "x_val", "y_val")
    arrays = {k: np.asarray(v) for k, v in returned.items() if k in kept}
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise DataError(f"data._target_={cfg.data['_target_']!r} returned only one of x_val, y_val; expected both or neither")
    for split in ("train", "val", "test"):
        if f"x_{split}" in arrays and len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataError(f"data._target_={cfg.data['_target_']!r}: x_{split} has {len(arrays[f'x_{split}'])} rows but "
                            f"y_{split} has {len(arrays[f'y_{split}'])}; expected one label per row")
    check_arrays(arrays, f"data._target_={cfg.data['_target_']!r}")
    if "x_val" not in arrays:
        train, val = split_rows(arrays["y_train"], cfg.train.validation_size, data_seed, "train.validation")
        arrays.update({"x_val": arrays["x_train"][val], "y_val": arrays["y_train"][val],
                       "x_train": arrays["x_train"][train], "y_train": arrays["y_train"][train]})
    return validation_in_test_slots(arrays) if validation_only else arrays


def validation_in_test_slots(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A search's data: every `<name>_test` array replaced by its `<name>_val` (the trainers score a test split after
    training; here that score is the validation score again, and without_test drops it). The real test arrays are
    not in the mapping, so nothing trained on it can read them."""
    kept = {k: v for k, v in arrays.items() if not k.endswith("_test")}
    return {**kept, **{k[: -len("_val")] + "_test": v for k, v in kept.items() if k.endswith("_val")}}


def without_test(tables: dict) -> dict:
    """A search's tables with the scores of its test slots (the validation split again) dropped."""
    runs = tables["runs"]
    return {**tables, "runs": runs.drop(columns=[c for c in runs.columns if c.startswith("test/")]),
            "correct": np.zeros((len(runs), 0), dtype=bool)}


def check_arrays(arrays: dict[str, np.ndarray], where: str) -> None:
    """Features of one shape in every split, numbers and finite; labels finite (a NaN among 0/1 labels would make the
    task regression, a NaN feature every run diverged): a DataError naming the array, the value and what is expected."""
    splits = [split for split in ("train", "val", "test") if f"x_{split}" in arrays]
    for split in splits:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.shape[1:] != arrays["x_train"].shape[1:]:
            raise DataError(f"{where}: x_{split} has feature shape {x.shape[1:]} but x_train has {arrays['x_train'].shape[1:]}; "
                            "expected the same shape in every split")
        for name, values, what in ((f"x_{split}", x, "features"), (f"y_{split}", y, "labels")):
            if values.dtype.kind in "USV":
                raise DataError(f"{where}: {name} has dtype {values.dtype}; expected numeric {what}")
            if values.dtype.kind == "f":
                bad = ~np.isfinite(values.reshape(len(values), -1))
                if bad.any():
                    rows = np.flatnonzero(bad.any(axis=1))
                    shown = sorted({str(v) for v in values.reshape(len(values), -1)[bad][:100].tolist()})
                    raise DataError(f"{where}: {name} holds {int(bad.sum())} non-finite value(s) ({', '.join(shown)}) in "
                                    f"{len(rows)} row(s), first rows {rows[:5].tolist()}; expected finite {what}")


def build_model(cfg: DictConfig, task: Task, arrays: dict[str, np.ndarray], seed: int):
    """The user's model for this seed: built with Keras's generators seeded, then checked on a few examples."""
    import keras

    from weightreg.tasks import check_output, n_outputs

    keras.utils.set_random_seed(seed)
    offered = {"input_shape": tuple(arrays["x_train"].shape[1:]), "n_outputs": n_outputs(task, arrays), "seed": seed, "task": task.name}
    model = call_target(cfg.model, "model", offered)
    if not isinstance(model, keras.Model):
        raise ConfigError(f"model._target_={cfg.model['_target_']!r} returned {type(model).__name__}; expected an uncompiled keras.Model")
    check_output(task, outputs(model, arrays["x_train"][:8]), offered["n_outputs"], f"model._target_={cfg.model['_target_']!r}")
    return model


def make_optimizer(spec: DictConfig):
    import keras

    made = call_target(spec, "optimizer", {})
    try:
        optimizer = made() if callable(made) and not isinstance(made, keras.optimizers.Optimizer) else made
    except Exception as error:  # e.g. a class that needs arguments the config does not give
        raise ConfigError(f"optimizer._target_={spec['_target_']!r} failed when called: {type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}; expected a keras optimizer (with _partial_: true)") from None
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ConfigError(f"optimizer._target_={spec['_target_']!r} gives {type(optimizer).__name__}; expected a keras optimizer "
                          "(with _partial_: true)")
    return optimizer


# --- conditions ------------------------------------------------------------------------------------


def conditions(cfg: DictConfig) -> list[Condition]:
    """The baseline (no penalty, the study's optimizer), then the regularizer and optimizer crossed with every sweep axis."""
    base_regularizer, base_optimizer = plain(cfg.regularizer), plain(cfg.optimizer)
    found = [Condition(BASELINE, {"kind": "none", "placement": []}, base_optimizer)] if cfg.baseline else []
    axes = list(cfg.sweep.items())
    for values in itertools.product(*[list(v) for _, v in axes]):
        spec = OmegaConf.create({"regularizer": base_regularizer, "optimizer": base_optimizer})
        for (axis, _), value in zip(axes, values):
            OmegaConf.update(spec, str(axis), value, merge=True)
        regularizer, optimizer = plain(spec.regularizer), plain(spec.optimizer)
        name = condition_name(regularizer, optimizer, base_optimizer)
        if name not in [c.name for c in found]:
            found.append(Condition(name, regularizer, optimizer))
    return found


def plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def term_name(term: dict) -> str:
    from weightreg.placement import placement_text

    if "_target_" in term:
        arguments = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(term.items())
                             if k not in (*TERM_KEYS, *SHORT_FORM_KEYS, "_target_"))
        name = f"{term['_target_'].rsplit('.', 1)[-1]}({arguments})"
    else:
        l1, l2 = penalty_pair(term)
        name = {"l1": f"l1_{l1:g}", "l2": f"l2_{l2:g}", "l1_l2": f"l1_l2_{l1:g}+{l2:g}"}.get(term.get("kind", "none"), "none")
    placement = placement_text(term.get("placement", ["kernel"]))
    return name if placement == "kernel" and not term.get("extra") else f"{name}@{placement}"


def condition_name(regularizer: dict, optimizer: dict, base_optimizer: dict) -> str:
    """E.g. `l2_0.001`, `l2_0.001@hidden*:kernel+bias`, `L1L2(l1=0.01,l2=0)@output`, `none+AdamW(weight_decay=0.0004)`."""
    terms = [t for t in penalty_terms(regularizer)]
    name = "&".join(term_name(t) for t in terms) if terms else BASELINE
    if optimizer != base_optimizer:
        changed = {k: v for k, v in optimizer.items() if base_optimizer.get(k) != v and k not in ("_target_", "_partial_")}
        arguments = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(changed.items()))
        name += f"+{optimizer['_target_'].rsplit('.', 1)[-1]}({arguments})"
    return name


def penalty_terms(regularizer: dict) -> list[dict]:
    """The main penalty (unless kind none), then each extra term with its own placement."""
    main = [] if "_target_" not in regularizer and regularizer.get("kind", "none") == "none" else [regularizer]
    return main + list(regularizer.get("extra", []))


def short_form(term: dict, key: str) -> DictConfig:
    """A short-form term (kind, strength, l1, l2) as the built-in studies' penalty spec, checked as theirs is."""
    from omegaconf.errors import OmegaConfBaseException

    from weightreg.config import RegularizerConfig, omegaconf_message
    from weightreg.validation import validate_regularizer

    try:
        spec = OmegaConf.merge(OmegaConf.structured(RegularizerConfig), {k: term[k] for k in SHORT_FORM_KEYS if k in term})
    except OmegaConfBaseException as error:
        raise ConfigError(f"{key}.{omegaconf_message(error)}") from None
    validate_regularizer(spec, key)
    return spec


def penalty_pair(term: dict) -> tuple[float, float]:
    from weightreg.conditions import penalty_pair as builtin_pair

    return builtin_pair(short_form(term, "regularizer")) if "_target_" not in term else (0.0, 0.0)


def keras_penalty(term: dict, key: str):
    """A Keras regularizer: the l1, l2, l1_l2 short forms (as the built-in studies make them), or any regularizer
    class through `_target_`."""
    import keras
    from hydra.utils import instantiate

    from weightreg.regularizers import keras_regularizer

    if "_target_" in term:
        target(term, key)  # importable and callable, else one error naming the key
        try:
            regularizer = instantiate({k: v for k, v in term.items() if k not in (*TERM_KEYS, *SHORT_FORM_KEYS)})
        except Exception as error:  # e.g. an argument the class does not take
            cause = error.__cause__ or error
            raise ConfigError(f"{key}._target_={term['_target_']!r} failed: {type(cause).__name__}: "
                              f"{str(cause).splitlines()[0] if str(cause) else ''}") from None
        if not isinstance(regularizer, keras.regularizers.Regularizer):
            raise ConfigError(f"{key}._target_={term['_target_']!r} gives {type(regularizer).__name__}; expected a keras regularizer")
        return regularizer
    regularizer = keras_regularizer(short_form(term, key))
    if regularizer is None:
        raise ConfigError(f"{key}.kind={term.get('kind', 'none')!r}: a term placed on the model; expected l1, l2, l1_l2 or a _target_")
    return regularizer


def placed_terms(regularizer: dict) -> list:
    """(Keras regularizer, placement rules) of each penalty term; errors name the term's key."""
    from weightreg.placement import rules

    terms = penalty_terms(regularizer)
    extras = len(regularizer.get("extra", []))
    keys = ["regularizer"] * (len(terms) - extras) + [f"regularizer.extra[{i}]" for i in range(extras)]
    return [(keras_penalty(term, key), rules(term.get("placement", ["kernel"]), f"{key}.placement")) for term, key in zip(terms, keys)]


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


def fit_run(model, arrays: dict, task: Task, train: DictConfig, seed: int, checkpoint: Path | None, advance: Callable[[int], object]):
    """model.fit one epoch at a time in the order drawn from (seed, epoch); resumes from `checkpoint` (the model with its
    optimizer state and the logs so far, saved atomically after an epoch every train.checkpoint_seconds). Returns the model and (epochs, 4) logs;
    a run whose loss stops being finite ends there (Keras's TerminateOnNaN) and its logs are padded with NaN."""
    import keras
    from hydra.utils import instantiate

    from weightreg.artifacts import atomic_dir

    names = ("loss", task.metric, "val_loss", f"val_{task.metric}")
    logs: list = []
    if checkpoint is not None and (checkpoint / "model.keras").is_file():
        model = keras.models.load_model(checkpoint / "model.keras")
        logs = json.loads((checkpoint / "history.json").read_text())
        advance(len(logs))
    callbacks = [keras.callbacks.TerminateOnNaN(), *(instantiate(c) for c in train.callbacks)]
    x, y = arrays["x_train"], arrays["y_train"]
    saved = time.perf_counter()
    for epoch in range(len(logs), train.epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(y))
        fitted = model.fit(x[order], y[order], batch_size=train.batch_size, epochs=1, shuffle=False, verbose=0,
                           validation_data=(arrays["x_val"], arrays["y_val"]), callbacks=callbacks)
        logs.append([float(fitted.history.get(name, [np.nan])[0]) for name in names])
        last = epoch == train.epochs - 1 or model.stop_training or not np.isfinite(logs[-1][0])
        if checkpoint is not None and (last or time.perf_counter() - saved >= train.checkpoint_seconds):  # a finished run is never retrained
            with atomic_dir(checkpoint) as tmp:
                model.save(tmp / "model.keras")
                (tmp / "history.json").write_text(json.dumps(logs))
            saved = time.perf_counter()
        advance(1)
        if model.stop_training or not np.isfinite(logs[-1][0]):
            break
    padded = np.full((train.epochs, 4), np.nan, dtype=np.float32)
    padded[: len(logs)] = logs
    return model, padded


def outputs(model, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """The model's outputs in inference mode, called eagerly in batches (model.predict would trace once per
    split's shape, and TensorFlow warns about retracing)."""
    import keras

    return np.concatenate([keras.ops.convert_to_numpy(model(x[i : i + batch], training=False)) for i in range(0, len(x), batch)])


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


def check_fit_lane(cfg: DictConfig) -> None:
    """Settings that only the stacked lane (weightreg.families) has: each stops the fit lane here, naming the key."""
    if not cfg.train.bce_from_logits:
        raise ConfigError("train.bce_from_logits=false: the 2018 clipped loss exists in the stacked lane only; expected true "
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
    from weightreg.tasks import check_labels, resolve_task

    check_fit_lane(cfg)
    seed_everything(cfg.seed, cfg.train.threads)
    runs = study_runs(cfg)
    draws: dict[int, dict] = {}
    rows, histories, corrects, seconds = [], [], [], []
    bar = training_progress(runs, cfg.train.epochs, f"{cfg.study}: runs one by one (model.fit)")
    try:  # an error ends the bar's line first, so that it is a line of its own
        for run in runs:
            if run.data_seed not in draws:
                draws[run.data_seed] = load_data(cfg, run.data_seed, validation_only)
            arrays = draws[run.data_seed]
            task = resolve_task(cfg.task, arrays["y_train"])
            check_labels(task, arrays)
            model = prepared_model(cfg, task, arrays, run, conditions(cfg) if run is runs[0] else [])
            checkpoint = checkpoints / f"{run.condition.name}__{run.variation}__{run.seed}".replace("/", "_") if checkpoints else None
            start = time.perf_counter()
            model, history = fit_run(model, arrays, task, cfg.train, run.seed, checkpoint, bar.update)
            seconds.append(time.perf_counter() - start)
            final, correct = final_scores(model, arrays, task)
            diverged = not (np.isfinite(history).all() and np.isfinite([v for k, v in final.items()]).all())
            rows.append(run_row(cfg, run, task, len(arrays["y_test"]), diverged, final))
            histories.append(history_frame(run, task, history, cfg.train.history_every or 1))
            corrects.append(correct)
    finally:
        bar.close()
    return {"runs": pd.DataFrame(rows), "histories": pd.concat(histories, ignore_index=True),
            "correct": np.stack(corrects), "fit_seconds": seconds}


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


FIT_LANE = "fit: one keras.Model per run, model.fit one epoch at a time (weightreg.custom)"


def write_study(tables: dict, cfg: DictConfig, out: Path, wall_seconds: float, study: DictConfig, trainer: str | None) -> None:
    """The tables, and run.json recording the config that trained (the built-in study's in the stacked lane), the
    trainer (the built-in one's name where None) and the open-path config it came from."""
    from weightreg.record import trained_settings, write_study as write_tables

    tables = {"surfaces": pd.DataFrame(columns=["condition", "variation", "x", "y", "probability"]), **tables}
    write_tables(tables, study, out, wall_seconds, trainer, {"open_config": plain(trained_settings(cfg))})


def run_study(cfg: DictConfig, out: str | Path, checkpoints: Path | None = None, validation_only: bool = False) -> pd.DataFrame:
    """Train in the lane `train.trainer` picks (weightreg.families), then write every table into `out` at once (a
    folder that appears complete or not at all). validation_only (a search): the trainers never get the test arrays
    and the tables have no test scores."""
    from weightreg.artifacts import atomic_dir
    from weightreg.families import trains_stacked
    from weightreg.refine import apply_refinement

    start = time.perf_counter()
    if trains_stacked(cfg):
        from weightreg.data import make_dataset
        from weightreg.families import builtin_form
        from weightreg.trainers.study import train

        study = apply_refinement(builtin_form(cfg))
        draws = make_dataset(study)
        tables, lane = train(study, validation_in_test_slots(draws) if validation_only else draws, checkpoints), None
    else:
        study = apply_refinement(cfg)
        tables, lane = train_study(study, checkpoints, validation_only), FIT_LANE
    if validation_only:
        tables = without_test(tables)
    with atomic_dir(out) as tmp:
        write_study(tables, cfg, tmp, time.perf_counter() - start, study, lane)
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return tables["runs"]


@hydra.main(version_base="1.3", config_path="../../conf", config_name="custom_config")
def main(composed: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig

    from weightreg.config import config_hash
    from weightreg.errors import exit_on_error

    with exit_on_error():
        cfg = from_mapping(composed)
        out = Path(HydraConfig.get().runtime.output_dir) / f"result-{config_hash(cfg)}"
        runs = run_study(cfg, out, out.parent / f".checkpoints-{config_hash(cfg)}")
        metric = [c for c in ("test/accuracy", "test/mae") if c in runs.columns][0]
        print(runs.groupby(["condition", "variation"])[[cfg.objective, metric]].mean().to_string())
        print(f"wrote {out}")
        return objective(cfg, runs)


if __name__ == "__main__":
    main()
