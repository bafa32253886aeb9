"""What types cannot check: ranges and cross-field rules of a study, each refused as one ConfigError naming the key.

    cfg = from_mapping(mapping)    # the stacked trainers' spec of a study (weightreg.stacked_spec.stacked_config)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.conditions import conditions, penalty_terms, plain
from weightreg.config import Architecture, Config, Dataset, Penalty, Placement, Variation
from weightreg.data_rules import check_variations, dataset_rules, refuse, seed_rules, variation_rule
from weightreg.errors import ConfigError
from weightreg.params import omegaconf_message
from weightreg.penalties import placement_of


def validate(cfg: DictConfig) -> DictConfig:
    """Check what types cannot: ranges and cross-field rules. Returns cfg, raises ConfigError."""
    rules = [
        *seed_rules(cfg),
        *dataset_rules(cfg),
        (cfg.train.epochs >= 1, "train.epochs", cfg.train.epochs, "an integer >= 1"),
        (cfg.train.batch_size >= 1, "train.batch_size", cfg.train.batch_size, "an integer >= 1"),
        (0 < cfg.train.learning_rate < math.inf, "train.learning_rate", cfg.train.learning_rate, "a finite number > 0"),
        (cfg.train.history_every >= 1, "train.history_every", cfg.train.history_every, "an integer >= 1"),
        (cfg.train.max_stack >= 1, "train.max_stack", cfg.train.max_stack, "an integer >= 1"),
        (cfg.train.parallel_stacks >= 1, "train.parallel_stacks", cfg.train.parallel_stacks, "an integer >= 1"),
        (cfg.train.compiled in COMPILED, "train.compiled", cfg.train.compiled, f"one of {COMPILED}"),
        (cfg.train.optimizer in OPTIMIZERS, "train.optimizer", cfg.train.optimizer, f"one of {OPTIMIZERS}"),
        (len(cfg.model.hidden_units) >= 1 or cfg.model.name != Architecture.mlp, "model.hidden_units",
         list(cfg.model.hidden_units), "a non-empty list for an mlp"),
        (min([cfg.model.embedding_dim, cfg.model.filters, cfg.model.kernel_size, cfg.model.recurrent_units]) >= 1,
         "model", "embedding_dim/filters/kernel_size/recurrent_units", "each an integer >= 1"),
        (all(u >= 1 for u in cfg.model.hidden_units), "model.hidden_units", list(cfg.model.hidden_units), "positive integers"),
        variation_rule(cfg),
    ]
    refuse(rules)
    check_variations(cfg)
    if cfg.data.name == Dataset.moons and cfg.model.name != Architecture.mlp:
        raise ConfigError(f"model.name={cfg.model.name.value!r}: moons points are 2-D vectors; expected mlp")
    for key in cfg.sweep:
        if not str(key).startswith("regularizer.") and key != "regularizer":
            raise ConfigError(f"sweep.{key}: expected a key under regularizer. (e.g. regularizer.strength)")
    validate_trainer(cfg)
    if not 0 < cfg.margin < 1:
        raise ConfigError(f"margin={cfg.margin!r}: expected a number in (0, 1), the equivalence margin in accuracy")
    if cfg.refine is not None:
        validate_refine(cfg.refine)
    validate_regularizer(cfg.regularizer, "regularizer")  # even when `none` makes its numbers unused
    crossed = conditions(cfg, typed=True)
    names = [c.name for c in crossed]
    unknown = sorted(set(cfg.sources) - set(names))
    if unknown:
        raise ConfigError(f"sources: {unknown} name no condition of study {cfg.study!r}; expected some of {names}")
    for condition in crossed:
        validate_regularizer(condition.regularizer, "regularizer")
        placed = {Placement(p) for term in penalty_terms(condition.regularizer) for p in placement_of(term)}
        validate_weight_decay(cfg, condition.regularizer)
        if Placement.recurrent in placed and cfg.model.name != Architecture.lstm:
            raise ConfigError(f"regularizer.placement: recurrent needs a recurrent layer; model.name={cfg.model.name.value!r} has none (expected lstm)")
    validate_activation(cfg)  # last: the only rule that imports Keras (seconds), so every other error comes at once
    return cfg


OPTIMIZERS = ["adam", "rmsprop"]
COMPILED = ["epoch", "step"]  # train.compiled: what one XLA function runs in minibatch mode


def validate_trainer(cfg: DictConfig) -> None:
    """Settings a trainer would otherwise accept and ignore: each stops here, naming the key."""
    if cfg.data.name == Dataset.moons and cfg.train.optimizer != "adam":
        raise ConfigError(f"optimizer._target_ ({cfg.train.optimizer}): the stacked moons trainer trains with Adam; expected "
                          "keras.optimizers.Adam (or train.trainer=fit: model.fit takes any optimizer)")
    expected_mode = "minibatch" if cfg.data.name == Dataset.imdb else "full_batch"
    if cfg.train.mode != expected_mode:
        raise ConfigError(f"train.mode={cfg.train.mode!r}: data={Dataset(cfg.data.name).value} trains in "
                          f"{expected_mode.replace('_', ' ')}es; expected train={expected_mode}"
                          + (" (the moons full-batch defaults would run 4000 epochs)" if expected_mode == "minibatch" else ""))
    reg = cfg.regularizer
    strength_set = reg.strength != 0 or "regularizer.strength" in cfg.sweep
    if Penalty(reg.kind) == Penalty.l1_l2 and strength_set and reg.l1 is not None and reg.l2 is not None:
        shown = reg.strength if reg.strength != 0 else list(cfg.sweep["regularizer.strength"])
        raise ConfigError(f"regularizer.strength={shown}: l1_l2 takes regularizer.l1={reg.l1:g} and regularizer.l2={reg.l2:g}, "
                          "so the strength would be ignored; expected regularizer.l1=... and regularizer.l2=... "
                          "(or null l1 and l2 to use the strength)")


def validate_activation(cfg: DictConfig) -> None:
    activations = keras_activations()
    if cfg.model.activation not in activations:
        raise ConfigError(f"model.activation={cfg.model.activation!r}: not a Keras activation; expected one of {activations}")


def keras_activations() -> list[str]:
    """Names keras.activations.get accepts (the public functions of keras.activations)."""
    import keras

    return sorted(n for n in dir(keras.activations) if not n.startswith("_") and n not in ("get", "serialize", "deserialize"))


def validate_weight_decay(cfg: DictConfig, reg: Mapping) -> None:
    """Decoupled weight decay replaces the penalty (kind none), needs AdamW's base Adam and the per-seed
    `fit` trainer, and decays weights, not activities."""
    decay = reg.get("weight_decay", 0.0)
    if decay == 0:
        return
    problems = [
        (0 < decay < math.inf, "regularizer.weight_decay", decay, "a finite number >= 0"),
        (Penalty(reg.get("kind", "none")) == Penalty.none, "regularizer.kind", Penalty(reg.get("kind", "none")).value,
         "none beside weight_decay (one treatment per condition)"),
        (cfg.train.optimizer == "adam", "train.optimizer", cfg.train.optimizer, "adam with weight_decay (keras.optimizers.AdamW)"),
        (cfg.data.name == Dataset.imdb, "regularizer.weight_decay", decay, "0 on moons (the stacked trainer has no AdamW)"),
        (Placement.activity not in {Placement(p) for p in placement_of(reg)}, "regularizer.placement", "activity", "weights only with weight_decay"),
    ]
    for ok, key, value, allowed in problems:
        if not ok:
            raise ConfigError(f"{key}={value!r}: expected {allowed}")


def validate_refine(rule: DictConfig) -> None:
    if str(rule.metric).startswith("test/"):
        raise ConfigError(f"refine.metric={rule.metric!r}: a selection must not read test data; expected a val/ metric (e.g. val/accuracy)")
    if not str(rule.axis).startswith("regularizer."):
        raise ConfigError(f"refine.axis={rule.axis!r}: expected a key under regularizer. (e.g. regularizer.strength)")
    if rule.variation not in [v.value for v in Variation]:
        raise ConfigError(f"refine.variation={rule.variation!r}: expected one of {[v.value for v in Variation]}")
    if not rule.study:
        raise ConfigError("refine.study='': expected the name of the study whose summary the rule reads")
    if len(rule.multipliers) == 0 or not all(m > 0 for m in rule.multipliers):
        raise ConfigError(f"refine.multipliers={list(rule.multipliers)!r}: expected a non-empty list of numbers > 0")


def validate_regularizer(reg: Mapping, key: str) -> None:
    for name in ("strength", "l1", "l2"):
        value = reg.get(name)
        if value is not None and not 0 <= value < math.inf:  # `not` also rejects NaN
            raise ConfigError(f"{key}.{name}={value!r}: expected a finite number >= 0")
    for i, step in enumerate(reg.get("schedule") or []):
        if not 0 <= step["strength"] < math.inf or step["epoch"] < 0:
            raise ConfigError(f"{key}.schedule[{i}]={plain(step)}: expected epoch >= 0, strength >= 0")
    if len(placement_of(reg)) == 0 and Penalty(reg.get("kind", "none")) != Penalty.none:
        raise ConfigError(f"{key}.placement=[]: expected at least one of {[p.value for p in Placement]}")
    placed = [Placement(p) for term in penalty_terms(reg) for p in placement_of(term)]
    if len(placed) != len(set(placed)):
        raise ConfigError(f"{key}.extra: placements {[p.value for p in placed]} repeat; expected each placement in one term")
    for i, term in enumerate(reg.get("extra") or []):
        validate_regularizer(term, f"{key}.extra[{i}]")


def from_mapping(mapping: Any) -> DictConfig:
    """Validate a plain mapping (e.g. one composed by Hydra or read from YAML) against the schema."""
    try:
        return validate(OmegaConf.merge(OmegaConf.structured(Config), mapping))
    except OmegaConfBaseException as error:
        raise ConfigError(omegaconf_message(error)) from None
