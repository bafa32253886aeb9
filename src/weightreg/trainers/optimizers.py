"""The one optimizer factory of the built-in trainers: the configured Adam or RMSprop, AdamW where a condition asks
for decoupled weight decay, and which weights that decay reaches (the same weights an L2 penalty there would)."""

from __future__ import annotations

from omegaconf import DictConfig

from weightreg.config import Placement
from weightreg.penalties import weight_placement

OPTIMIZERS = {"adam": "Adam", "rmsprop": "RMSprop"}  # train.optimizer -> its keras.optimizers class


def make_optimizer(train: DictConfig, reg: DictConfig | None = None, model=None):
    """The configured optimizer (train.optimizer at train.learning_rate); AdamW where the condition asks for decoupled
    weight decay, decaying only the weights its placement names. A stack's members decay by their own rates, applied
    by the stack itself (weightreg.trainers.text_stack), so a stack asks without `reg`."""
    import keras

    decay = reg.get("weight_decay", 0.0) if reg is not None else 0.0
    if decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate=train.learning_rate, weight_decay=decay)
        decayed = {id(w) for w in decayed_weights(model, reg)}
        optimizer.exclude_from_weight_decay(var_list=[w for w in model.trainable_weights if id(w) not in decayed])
        return optimizer
    return getattr(keras.optimizers, OPTIMIZERS[train.optimizer])(learning_rate=train.learning_rate)


def decay_rate(reg: DictConfig, variable: str, output: bool) -> float:
    """The decoupled weight-decay rate `reg` gives a built-in model's weight variable (kernel, recurrent_kernel, bias)
    in its output layer or a hidden one: reg.weight_decay where its placement names the variable, else 0."""
    placed = {Placement(p) for p in reg.placement}
    placement = weight_placement(variable, output)
    return float(reg.get("weight_decay", 0.0)) if placement is not None and Placement(placement) in placed else 0.0


def decayed_weights(model, reg: DictConfig) -> list:
    """The weights that `reg.placement` names in a built text model: hidden kernels (Dense, Conv1D, the
    LSTM's input kernel), the output kernel, recurrent kernels, biases of the hidden layers."""
    placed = {Placement(p) for p in reg.placement}
    return [w for layer in model.layers for w in layer.trainable_weights
            if (placement := weight_placement(w.name, layer.name == "output")) is not None and Placement(placement) in placed]
