"""Where a penalty may go: the one table of short placements (which layers, which weight, which Keras argument)
that the schema, the built-in models, the trainers' weight decay and the placement rules all read.

    placement: [kernel, recurrent]     # a condition's short placements; a new one is one row of SHORT
"""

from __future__ import annotations

from typing import Any, NamedTuple

ARGUMENTS = {  # weight -> the Keras layer argument that penalizes it
    "kernel": "kernel_regularizer",
    "bias": "bias_regularizer",
    "activity": "activity_regularizer",
    "recurrent": "recurrent_regularizer",
    "embeddings": "embeddings_regularizer",
    "depthwise": "depthwise_regularizer",
    "pointwise": "pointwise_regularizer",
}
VARIABLES = {"kernel": "kernel", "bias": "bias", "recurrent": "recurrent_kernel"}  # weight -> its variable's name (activity: none)


class Site(NamedTuple):
    layers: str  # hidden (every layer but the output layer), output (the output layer) or any
    weight: str  # a key of ARGUMENTS


SHORT = {  # each short placement: which layers, which weight; its order is the order of config.Placement
    "kernel": Site("hidden", "kernel"),  # the tutorial's choice
    "output": Site("output", "kernel"),
    "bias": Site("hidden", "bias"),
    "activity": Site("hidden", "activity"),  # the hidden layers' outputs
    "recurrent": Site("any", "recurrent"),
}


def layer_arguments(placed: dict[str, Any], role: str) -> dict[str, Any]:
    """{Keras argument: penalty} of one layer of a built-in model, from {short placement: penalty}. role: hidden (Dense,
    Conv1D), recurrent (LSTM, a hidden layer with a recurrent kernel) or output."""
    position = "output" if role == "output" else "hidden"
    return {ARGUMENTS[SHORT[name].weight]: penalty for name, penalty in placed.items()
            if SHORT[name].layers in (position, "any") and (SHORT[name].weight != "recurrent" or role == "recurrent")}


def weight_placement(variable: str, output: bool) -> str | None:
    """The short placement that names a built-in model's weight variable (kernel, recurrent_kernel, bias) in the
    output layer (`output`) or a hidden one; None where no placement names it (the output layer's bias)."""
    position = "output" if output else "hidden"
    for name, site in SHORT.items():
        if VARIABLES.get(site.weight) == variable and site.layers in (position, "any"):
            return name
    return None


def placement_of(term) -> list:
    """A penalty term's placements (short names or rules): kernel where it names none."""
    return list(term.get("placement", ["kernel"]))
