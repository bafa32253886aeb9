"""The built-in models as plain Keras models: the tutorial's MLP and the IMDB text models (MLP, CNN, LSTM).

    model = build_mlp(cfg.model, cfg.regularizer, seed=0, n_inputs=2)   # Dense(500, relu) -> Dense(1, sigmoid)

Their stacked forms, K members trained as one model, are weightreg.trainers.stacked_models.
"""

from __future__ import annotations

import keras
import numpy as np
from omegaconf import DictConfig

from weightreg.config import Architecture
from weightreg.regularizers import layer_arguments


def layer_seed(seed: int, layer_index: int) -> int:
    """A distinct, reproducible initializer seed for each layer of the model with this seed."""
    return int(np.random.SeedSequence([seed, layer_index]).generate_state(1)[0] % (2**31 - 1))


def build_mlp(model: DictConfig, reg: dict, seed: int, n_inputs: int, output_activation: str = "sigmoid") -> keras.Sequential:
    """Dense hidden layers, then `output` (one unit, its logit) and, unless output_activation="linear",
    a sigmoid `probability` layer: Keras's loss then reads the logits the sigmoid caches."""
    layers = [keras.Input(shape=(n_inputs,))]
    for i, units in enumerate(model.hidden_units):
        layers.append(
            keras.layers.Dense(
                units,
                activation=model.activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=layer_seed(seed, i)),
                name=f"hidden_{i}",
                **layer_arguments(reg, "hidden"),
            )
        )
    layers.append(
        keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.GlorotUniform(seed=layer_seed(seed, len(model.hidden_units))),
            name="output",
            **layer_arguments(reg, "output"),
        )
    )
    return keras.Sequential(layers + probability_layer(output_activation), name="mlp")


def probability_layer(output_activation: str) -> list:
    if output_activation == "linear":
        return []
    return [keras.layers.Activation(output_activation, name="probability")]


def logits_model(model: keras.Model) -> keras.Model:
    """The same model (shared weights) ending at its `output` layer: logits instead of probabilities. Its input
    is the one tensor, not a list of one, so that calling it on a tensor matches the structure Keras expects."""
    return keras.Model(model.inputs[0], model.get_layer("output").output)


def build_text_model(model: DictConfig, reg: dict, seed: int, data: DictConfig) -> keras.Sequential:
    """An IMDB classifier: `mlp` on multi-hot vectors, `cnn` or `lstm` on padded word-index sequences.

    Penalties sit where `reg.placement` says: kernel/bias/activity on the Conv1D or LSTM layer and on
    hidden Dense layers, recurrent on the LSTM's recurrent kernel, output on the last Dense kernel.
    """
    if model.name == "mlp":
        return build_mlp(model, reg, seed, data.num_words)
    glorot = [keras.initializers.GlorotUniform(seed=layer_seed(seed, i)) for i in range(len(model.hidden_units) + 3)]
    layers = [
        keras.Input(shape=(data.maxlen,), dtype="int32"),
        keras.layers.Embedding(data.vocab_size, model.embedding_dim,
                               embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=layer_seed(seed, 100)),
                               name="embedding"),
    ]
    if model.name == "cnn":
        layers += [
            keras.layers.Conv1D(model.filters, model.kernel_size, activation=model.activation, kernel_initializer=glorot[0],
                                name="conv", **layer_arguments(reg, "hidden")),
            keras.layers.GlobalMaxPooling1D(name="max_pool"),
        ]
    else:
        layers.append(keras.layers.LSTM(model.recurrent_units, kernel_initializer=glorot[0],
                                        recurrent_initializer=keras.initializers.Orthogonal(seed=layer_seed(seed, 101)),
                                        name="lstm", **layer_arguments(reg, "recurrent")))
    for i, units in enumerate(model.hidden_units):
        layers.append(keras.layers.Dense(units, activation=model.activation, kernel_initializer=glorot[i + 1],
                                         name=f"hidden_{i}", **layer_arguments(reg, "hidden")))
    layers.append(keras.layers.Dense(1, kernel_initializer=glorot[-1], name="output", **layer_arguments(reg, "output")))
    return keras.Sequential(layers + probability_layer("sigmoid"), name=Architecture(model.name).value)  # a plain str: .keras files cannot store an enum
