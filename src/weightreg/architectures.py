"""Built-in model targets for a study of your own: callables that return an uncompiled `keras.Model`.

    model: {_target_: weightreg.architectures.mlp, hidden_units: [64, 64]}
    model: {_target_: weightreg.architectures.text_cnn, vocab_size: 10000}

weightreg passes each the keyword arguments it declares among `input_shape`, `n_outputs`, `seed` and
`task`, beside the config's own keys. They build the same layers, names and initial weights as the
built-in studies' models (weightreg.models), without penalties: the study places those (weightreg.placement).
"""

from __future__ import annotations

from typing import Sequence

from omegaconf import OmegaConf

from weightreg.errors import ConfigError

NO_PENALTY = OmegaConf.create({"kind": "none", "placement": [], "extra": []})
OUTPUT_ACTIVATION = {"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"}


def mlp(input_shape: Sequence[int], n_outputs: int, seed: int, task: str = "binary", hidden_units: Sequence[int] = (500,),
        activation: str = "relu"):
    """Dense hidden layers `hidden_<i>`, then `output` and its activation `probability` (sigmoid, softmax) for
    classification: for a binary task exactly weightreg.models.build_mlp."""
    import keras

    from weightreg.models import build_mlp, layer_seed

    settings = OmegaConf.create({"hidden_units": list(hidden_units), "activation": activation})
    if task != "multiclass":
        return build_mlp(settings, NO_PENALTY, seed, int(input_shape[-1]), OUTPUT_ACTIVATION[task])
    model = build_mlp(settings, NO_PENALTY, seed, int(input_shape[-1]), "linear")
    hidden = model.layers[-2].output if len(model.layers) > 1 else model.inputs[0]
    output = keras.layers.Dense(n_outputs, kernel_initializer=keras.initializers.GlorotUniform(seed=layer_seed(seed, len(hidden_units))),
                                name="output")(hidden)
    return keras.Model(model.inputs, keras.layers.Activation("softmax", name="probability")(output), name="mlp")


def text_model(name: str, input_shape: Sequence[int], n_outputs: int, seed: int, task: str, settings: dict):
    from weightreg.config import DataConfig, ModelConfig
    from weightreg.models import build_text_model

    if n_outputs != 1 or task != "binary":
        raise ConfigError(f"model: the built-in {name} classifies reviews as positive or negative; expected a binary task, "
                          f"got task {task!r} with {n_outputs} outputs")
    model_keys = set(ModelConfig.__dataclass_fields__)
    model = OmegaConf.merge(OmegaConf.structured(ModelConfig(name=name)), {k: v for k, v in settings.items() if k in model_keys})
    data = OmegaConf.merge(OmegaConf.structured(DataConfig(name="imdb")), {"maxlen": int(input_shape[0]),
                                                                           **{k: v for k, v in settings.items() if k not in model_keys}})
    return build_text_model(model, NO_PENALTY, seed, data)


def text_cnn(input_shape: Sequence[int], n_outputs: int, seed: int, task: str = "binary", **settings):
    """Embedding -> Conv1D -> global max pool -> Dense output (settings: vocab_size, embedding_dim, filters, kernel_size)."""
    return text_model("cnn", input_shape, n_outputs, seed, task, settings)


def text_lstm(input_shape: Sequence[int], n_outputs: int, seed: int, task: str = "binary", **settings):
    """Embedding -> LSTM -> Dense output (settings: vocab_size, embedding_dim, recurrent_units)."""
    return text_model("lstm", input_shape, n_outputs, seed, task, settings)
