"""What a study predicts: binary, multiclass or regression, stated in the config or inferred from the labels.

A task decides the check on the model's output, the loss, the metrics, and which test metric the paired
comparisons and the equivalence margin are stated in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weightreg.errors import ConfigError, DataError


@dataclass(frozen=True)
class Task:
    name: str
    loss: str  # a keras.losses name, computed on the model's output (probabilities or values)
    metric: str  # the task's metric beside the loss, e.g. `accuracy` -> train/accuracy, val/accuracy, test/accuracy
    higher_is_better: bool  # of `metric`
    output: str  # what the model must return, for the error message


TASKS = {
    "binary": Task("binary", "binary_crossentropy", "accuracy", True, "one probability per example (sigmoid), shape (n, 1)"),
    "multiclass": Task("multiclass", "sparse_categorical_crossentropy", "accuracy", True,
                       "one probability per class (softmax), shape (n, n_classes), rows summing to 1"),
    "regression": Task("regression", "mean_squared_error", "mae", False, "one value per example, shape (n, 1)"),
}


def infer_task(y: np.ndarray) -> str:
    """binary for labels in {0, 1}; multiclass for other integer labels (0..C-1); regression for other floats.
    Where that guess is wrong (float class labels 0.0, 1.0, 2.0; integer counts to regress on), state `task`."""
    y = np.asarray(y)
    if set(np.unique(y).tolist()) <= {0, 1}:
        return "binary"
    return "multiclass" if y.dtype.kind in "iub" else "regression"


def resolve_task(stated: str | None, y_train: np.ndarray) -> Task:
    if stated is None:
        return TASKS[infer_task(y_train)]
    if stated not in TASKS:
        raise ConfigError(f"task={stated!r}: expected one of {list(TASKS)} or null (inferred from y_train)")
    return TASKS[stated]


def n_outputs(task: Task, arrays: dict[str, np.ndarray]) -> int:
    if task.name == "multiclass":
        return int(max(np.max(arrays[f"y_{split}"]) for split in ("train", "val", "test"))) + 1
    return 1


def check_labels(task: Task, arrays: dict[str, np.ndarray], key: str = "data") -> None:
    """Labels that fit the task: 0/1 for binary, integers 0..C-1 for multiclass, finite numbers for regression."""
    for split in ("train", "val", "test"):
        y = np.asarray(arrays[f"y_{split}"])
        if task.name == "regression":
            ok, expected = y.dtype.kind in "fiu" and np.all(np.isfinite(y)), "finite numbers"
        elif task.name == "binary":
            ok, expected = set(np.unique(y).tolist()) <= {0, 1}, "labels 0 and 1"
        else:
            ok = y.dtype.kind in "fiu" and np.all(y == np.round(y)) and y.min() >= 0
            expected = "integer class labels 0..C-1"
        if not ok:
            shown = np.unique(y)[:8].tolist() if y.dtype.kind in "fiuUSOb" else y.dtype
            raise DataError(f"{key}: y_{split} holds {shown}, which does not fit task={task.name!r}; expected {expected}")


def check_output(task: Task, outputs: np.ndarray, n_classes: int, key: str = "model") -> None:
    """The model's output on a few training examples has the shape and range the task's loss reads."""
    outputs = np.asarray(outputs)
    n = len(outputs)
    if task.name == "multiclass":
        ok = outputs.shape == (n, n_classes) and np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1, atol=1e-4)
    else:
        ok = outputs.shape in ((n,), (n, 1))
        if ok and task.name == "binary":
            ok = bool(np.all((outputs >= 0) & (outputs <= 1)))
    if not ok:
        raise ConfigError(f"{key}: the model returns shape {outputs.shape} with values in [{outputs.min():.3g}, "
                          f"{outputs.max():.3g}] for task={task.name!r}; expected {task.output}")


def scores(task: Task, y: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """The loss (no penalty) and the task's metrics of one model's outputs on one split."""
    import keras

    y = np.asarray(y)
    outputs = np.asarray(outputs, dtype=np.float32)
    target = y if task.name == "multiclass" else y.reshape(-1, 1).astype("float32")
    values = outputs if task.name == "multiclass" else outputs.reshape(-1, 1)
    loss = float(np.mean(keras.ops.convert_to_numpy(keras.losses.get(task.loss)(target, values))))
    if task.name == "regression":
        error = outputs.reshape(len(y)) - y
        return {"loss": loss, "mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}
    return {"loss": loss, "accuracy": float(np.mean(predictions(task, outputs) == y))}


def predictions(task: Task, outputs: np.ndarray) -> np.ndarray:
    """Predicted classes (probability > 0.5 for binary, the most probable class otherwise)."""
    outputs = np.asarray(outputs)
    if task.name == "binary":
        return (outputs.reshape(len(outputs)) > 0.5).astype(int)
    return outputs.argmax(axis=1)
