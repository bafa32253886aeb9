"""What a study trains on and with, from its `_target_`s: the data target's arrays for one draw (checked, with a
validation split carved from training when it gives none) and the model target's uncompiled keras.Model."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from weightreg.errors import ConfigError, DataError
from weightreg.targets import call_target
from weightreg.tasks import Task


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


def outputs(model, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """The model's outputs in inference mode, called eagerly in batches (model.predict would trace once per
    split's shape, and TensorFlow warns about retracing)."""
    import keras

    return np.concatenate([keras.ops.convert_to_numpy(model(x[i : i + batch], training=False)) for i in range(0, len(x), batch)])
