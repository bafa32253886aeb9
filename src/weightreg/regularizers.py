"""Weight penalties from a regularizer spec: Keras's own classes for one model, a per-member version for stacks.

A spec says which penalty (none, l1, l2, l1_l2) and where it goes (`placement`: hidden kernels by
default; output kernel, hidden biases, hidden activities, recurrent kernels on request). Biases are
never penalized unless `bias` is placed.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
from keras import ops

from weightreg.conditions import penalty_pair, penalty_terms
from weightreg.config import Penalty, Placement
from weightreg.errors import ConfigError
from weightreg.penalties import layer_arguments as placed_arguments, placement_of


def keras_regularizer(term: Mapping) -> keras.regularizers.Regularizer | None:
    """keras.regularizers.L1 / L2 / L1L2 for a constant-strength penalty; None for `none`."""
    if len(term.get("schedule", [])):
        raise ConfigError("regularizer.schedule: a schedule needs train.ensemble=true (the stacked trainer)")
    kind = Penalty(term.get("kind", "none"))
    l1, l2 = penalty_pair(term)
    if kind == Penalty.none:
        return None
    if kind == Penalty.l1:
        return keras.regularizers.L1(l1)
    if kind == Penalty.l2:
        return keras.regularizers.L2(l2)
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def layer_arguments(reg: Mapping, role: str) -> dict[str, keras.regularizers.Regularizer]:
    """Keyword arguments for one layer. role: `hidden` (Dense, Conv1D), `recurrent` (LSTM) or `output`."""
    placed = {}
    for term in penalty_terms(reg):
        regularizer = keras_regularizer(term)
        placed.update({Placement(p).value: regularizer for p in placement_of(term)})
    return placed_arguments(placed, role)


def stack_arguments(penalties: dict[str, MemberwiseL1L2], role: str) -> dict[str, MemberwiseL1L2]:
    """Keyword arguments for one layer of a stack, from {short placement: per-member penalty}: a stacked layer takes
    its activity penalty as `member_activity_regularizer` (weightreg.trainers.stacked_models.add_activity_penalty says why)."""
    return {("member_activity_regularizer" if argument == "activity_regularizer" else argument): penalty
            for argument, penalty in placed_arguments(penalties, role).items()}


@keras.saving.register_keras_serializable(package="weightreg")
class MemberwiseL1L2(keras.regularizers.Regularizer):
    """L1L2 with one (l1, l2) pair per member of a stack of models (the tensor's leading axis).

    Calling it gives each member's penalty, (K,): l1[k] * sum|x[k]| + l2[k] * sum x[k]^2, so a stack's
    `model.losses` add up to one penalty per member and the gradient each member receives is exactly what
    keras.regularizers.L1L2(l1[k], l2[k]) would give that member alone. The coefficients are variables
    so that a schedule can change them between epochs.
    """

    def __init__(self, l1, l2):
        self.l1 = keras.Variable(np.asarray(l1, dtype="float32"), trainable=False, name="l1")
        self.l2 = keras.Variable(np.asarray(l2, dtype="float32"), trainable=False, name="l2")

    def per_member(self, x):
        axes = tuple(range(1, len(x.shape)))
        return self.l1 * ops.sum(ops.abs(x), axis=axes) + self.l2 * ops.sum(ops.square(x), axis=axes)

    def __call__(self, x):
        return self.per_member(x)

    def get_config(self):
        return {"l1": ops.convert_to_numpy(self.l1).tolist(), "l2": ops.convert_to_numpy(self.l2).tolist()}


def strength_at(reg: Mapping, epoch: int) -> float | None:
    """The scheduled strength at `epoch` (0 before the first step); None when there is no schedule."""
    schedule = reg.get("schedule") or []
    if not len(schedule):
        return None
    active = [step["strength"] for step in schedule if step["epoch"] <= epoch]
    return float(active[-1]) if active else 0.0


def member_phases(regs: list[Mapping]) -> np.ndarray:
    """Epochs at which any member's scheduled strength changes (always starts with 0)."""
    return np.asarray(sorted({0} | {int(step["epoch"]) for reg in regs for step in reg.get("schedule") or []}), dtype=np.int64)


def coefficient_tables(regs: list[Mapping], placement: Placement, phases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(l1, l2), each of shape (n_phases, n_members): the coefficients of `placement` for every member."""
    l1 = np.zeros((len(phases), len(regs)), dtype=np.float32)
    l2 = np.zeros_like(l1)
    for k, reg in enumerate(regs):
        for term in penalty_terms(reg):
            if placement not in {Placement(p) for p in placement_of(term)}:
                continue
            for i, epoch in enumerate(phases):
                strength = strength_at(term, int(epoch))
                scheduled = term if strength is None else _with_strength(term, strength)
                l1[i, k], l2[i, k] = penalty_pair(scheduled)
    return l1, l2


def _with_strength(term: Mapping, strength: float) -> dict:
    return {**term, "schedule": [], "strength": strength}
