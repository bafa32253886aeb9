"""Put penalties on a user's Keras model without touching its code: by layer-name glob, layer type and weight.

    placement: [kernel]                                       # the short forms: kernel, output, bias, activity, recurrent
    placement: [{layers: "dense*", weights: [kernel, bias]}, {type: LSTM, weights: [recurrent]}]

A placement rule names layers (a glob over `layer.name`, a glob over the class name, or both) and the
weights whose Keras argument receives the penalty (`kernel` -> kernel_regularizer, `activity` ->
activity_regularizer, ...). The model is rebuilt by `keras.models.clone_model` with those arguments
set, and given the original's initial weights, so every condition of a seed starts from the same weights.
Short forms (weightreg.penalties.SHORT) mean the same here as in the built-in models: `kernel`, `bias`, `activity`
are the hidden layers' (every layer taking the argument except the output layer, the last layer with a kernel),
`output` is the output layer's kernel, `recurrent` every recurrent kernel.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from weightreg.errors import ConfigError
from weightreg.penalties import ARGUMENTS, SHORT

RULE_KEYS = ("layers", "type", "weights")


@dataclass(frozen=True)
class Rule:
    layers: str | None  # glob over layer names
    type: str | None  # glob over layer class names
    weights: tuple[str, ...]
    role: str = "any"  # any, hidden (not the output layer) or output
    text: str = ""  # how condition names and messages show it
    key: str = field(default="", compare=False)  # where the config states it, for messages: regularizer.placement[0]


def rules(placement: Any, key: str = "regularizer.placement") -> list[Rule]:
    """Placement entries (short forms or {layers, type, weights} mappings) as rules; ConfigError names the entry."""
    found = []
    for i, entry in enumerate(placement):
        if isinstance(entry, str):
            if entry not in SHORT:
                raise ConfigError(f"{key}[{i}]={entry!r}: expected one of {list(SHORT)} or a mapping with {list(RULE_KEYS)}")
            role, weight = SHORT[entry]
            found.append(Rule(None, None, (weight,), role, entry, f"{key}[{i}]"))
            continue
        entry = OmegaConf.to_container(entry) if isinstance(entry, (DictConfig, ListConfig)) else dict(entry)
        unknown = sorted(set(entry) - set(RULE_KEYS))
        weights = entry.get("weights", ["kernel"])
        weights = [weights] if isinstance(weights, str) else list(weights)
        bad = [w for w in weights if w not in ARGUMENTS]
        if unknown or bad or not (entry.get("layers") or entry.get("type")) or not weights:
            raise ConfigError(f"{key}[{i}]={entry}: expected `layers` (a name glob) and/or `type` (a class name glob), "
                              f"and `weights`, a non-empty list of {list(ARGUMENTS)}")
        where = ":".join(part for part in (entry.get("layers"), entry.get("type") and f"type={entry['type']}") if part)
        found.append(Rule(entry.get("layers"), entry.get("type"), tuple(weights), "any", f"{where}:{'+'.join(weights)}", f"{key}[{i}]"))
    return found


def placement_text(placement: Any) -> str:
    return "+".join(rule.text for rule in rules(placement))


def output_layer_name(model) -> str | None:
    """The last layer with a kernel: the output layer of an MLP, CNN or LSTM classifier."""
    with_kernel = [layer.name for layer in model.layers if "kernel_regularizer" in layer.get_config()]
    return with_kernel[-1] if with_kernel else None


def takes(layer, weight: str) -> bool:
    """Whether the layer has the weight's argument; an activity penalty goes on any layer with weights of its own
    (Keras 3 accepts `activity_regularizer` on every layer but lists it in few configs)."""
    config = layer.get_config()
    if weight == "activity":
        return any(argument in config for argument in ARGUMENTS.values())
    return ARGUMENTS[weight] in config


def matches(rule: Rule, layer, weight: str, output: str | None) -> bool:
    if not takes(layer, weight):
        return False
    if rule.role == "output" and layer.name != output or rule.role == "hidden" and layer.name == output:
        return False
    if rule.layers is not None and not fnmatch.fnmatchcase(layer.name, rule.layers):
        return False
    return rule.type is None or fnmatch.fnmatchcase(type(layer).__name__, rule.type)


def layer_table(model) -> str:
    return ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in model.layers)


def assignments(model, terms: list[tuple[Any, list[Rule]]], key: str = "regularizer.placement") -> dict[str, dict[str, Any]]:
    """{layer name: {Keras argument: regularizer}} for (regularizer, rules) terms; a rule that matches no
    layer, or two terms on one weight, is a ConfigError naming the pattern and the model's layers."""
    output = output_layer_name(model)
    placed: dict[str, dict[str, Any]] = {}
    placed_by: dict[tuple[str, str], Rule] = {}
    for regularizer, term_rules in terms:
        for rule in term_rules:
            hits = 0
            for layer in model.layers:
                for weight in rule.weights:
                    if matches(rule, layer, weight, output):
                        argument = ARGUMENTS[weight]
                        if argument in placed.get(layer.name, {}):
                            first = placed_by[layer.name, argument]
                            raise ConfigError(f"{rule.key or key}={rule.text!r} places a second penalty on {layer.name}.{weight}, "
                                              f"already penalized by {first.key or key}={first.text!r}; expected each weight "
                                              "in one term")
                        placed.setdefault(layer.name, {})[argument] = regularizer
                        placed_by[layer.name, argument] = rule
                        hits += 1
            if hits == 0:
                raise ConfigError(f"{key}: {rule.text!r} matches no layer taking {list(rule.weights)}; the model's layers "
                                  f"are {layer_table(model)}")
    return placed


def with_penalties(model, terms: list[tuple[Any, list[Rule]]], key: str = "regularizer.placement"):
    """A copy of `model` with the penalties placed and the same weights; the model itself when nothing is placed."""
    import keras

    placed = assignments(model, terms, key)
    if not placed:
        return model

    def clone(layer):
        config = layer.get_config()
        config.update(placed.get(layer.name, {}))
        return type(layer).from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone)
    except ValueError as error:
        raise ConfigError(f"model: penalties are placed by keras.models.clone_model, which needs a functional or "
                          f"Sequential model ({str(error).splitlines()[0]})") from None
    copy.set_weights(model.get_weights())
    return copy
