"""The one optimizer factory: a study's optimizer from its `_target_` spec (a `_partial_` keras optimizer), AdamW where
a condition asks for decoupled weight decay, and which weights that decay reaches (the same weights an L2 penalty
there would)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from weightreg.config import Placement
from weightreg.errors import ConfigError
from weightreg.penalties import placement_of, weight_placement
from weightreg.targets import call_target

OPTIMIZERS = {"adam": "Adam", "rmsprop": "RMSprop"}  # a built-in study's train.optimizer -> its keras.optimizers class


def optimizer_spec(train: DictConfig) -> dict:
    """A built-in study's optimizer (train.optimizer at train.learning_rate) as the `_target_` spec every study has."""
    return {"_target_": f"keras.optimizers.{OPTIMIZERS[train.optimizer]}", "_partial_": True, "learning_rate": train.learning_rate}


def make_optimizer(spec: DictConfig | dict, reg: dict | None = None, model=None):
    """The optimizer `spec` names; with `reg.weight_decay` > 0, keras.optimizers.AdamW at the spec's learning rate instead,
    decaying only the weights the condition's placement names in `model`. A stack's members decay by their own rates,
    applied by the stack itself (weightreg.trainers.text_stack), so a stack asks without `reg`."""
    import keras

    spec = OmegaConf.create(spec) if isinstance(spec, dict) else spec
    decay = reg.get("weight_decay", 0.0) if reg is not None else 0.0
    if decay > 0:
        spec = OmegaConf.merge(spec, {"_target_": "keras.optimizers.AdamW", "weight_decay": decay})
    made = call_target(spec, "optimizer", {})
    try:
        optimizer = made() if callable(made) and not isinstance(made, keras.optimizers.Optimizer) else made
    except Exception as error:  # e.g. a class that needs arguments the config does not give
        raise ConfigError(f"optimizer._target_={spec['_target_']!r} failed when called: {type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}; expected a keras optimizer (with _partial_: true)") from None
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ConfigError(f"optimizer._target_={spec['_target_']!r} gives {type(optimizer).__name__}; expected a keras optimizer "
                          "(with _partial_: true)")
    if decay > 0:
        decayed = {id(w) for w in decayed_weights(model, reg)}
        optimizer.exclude_from_weight_decay(var_list=[w for w in model.trainable_weights if id(w) not in decayed])
    return optimizer


def decay_rate(reg: dict, variable: str, output: bool) -> float:
    """The decoupled weight-decay rate `reg` gives a built-in model's weight variable (kernel, recurrent_kernel, bias)
    in its output layer or a hidden one: reg.weight_decay where its placement names the variable, else 0."""
    placed = {Placement(p) for p in placement_of(reg)}
    placement = weight_placement(variable, output)
    return float(reg.get("weight_decay", 0.0)) if placement is not None and Placement(placement) in placed else 0.0


def decayed_weights(model, reg: dict) -> list:
    """The weights that `reg.placement` names in a built text model: hidden kernels (Dense, Conv1D, the
    LSTM's input kernel), the output kernel, recurrent kernels, biases of the hidden layers."""
    placed = {Placement(p) for p in placement_of(reg)}
    return [w for layer in model.layers for w in layer.trainable_weights
            if (placement := weight_placement(w.name, layer.name == "output")) is not None and Placement(placement) in placed]
