"""The tutorial's MLP, as one plain Keras model or as a stack of independent members.

    model = build_mlp(cfg.model, cfg.regularizer, seed=0, n_inputs=2)   # Dense(500, relu) -> Dense(1, sigmoid)

A stack holds K members along a leading axis: inputs (K, N, d) -> outputs (K, N, 1). Member k is
initialized exactly as `build_mlp(..., seed=seeds[k])` would be and never mixes with the others.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from omegaconf import DictConfig

from weightreg.config import Architecture
from weightreg.regularizers import MemberwiseL1L2, layer_arguments


def layer_seed(seed: int, layer_index: int) -> int:
    """A distinct, reproducible initializer seed for each layer of the model with this seed."""
    return int(np.random.SeedSequence([seed, layer_index]).generate_state(1)[0] % (2**31 - 1))


def build_mlp(model: DictConfig, reg: DictConfig, seed: int, n_inputs: int, output_activation: str = "sigmoid") -> keras.Sequential:
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
    """The same model (shared weights) ending at its `output` layer: logits instead of probabilities."""
    return keras.Model(model.inputs, model.get_layer("output").output)


def build_text_model(model: DictConfig, reg: DictConfig, seed: int, data: DictConfig) -> keras.Sequential:
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


@keras.saving.register_keras_serializable(package="weightreg")
class StackedGlorotUniform(keras.initializers.Initializer):
    """Glorot-uniform per member, each from its own seed: the same values build_mlp would draw."""

    def __init__(self, seeds):
        self.seeds = [int(s) for s in seeds]

    def __call__(self, shape, dtype=None):
        member_shape = tuple(shape[1:])
        return ops.stack([keras.initializers.GlorotUniform(seed=s)(member_shape, dtype=dtype) for s in self.seeds])

    def get_config(self):
        return {"seeds": self.seeds}


@keras.saving.register_keras_serializable(package="weightreg")
class StackedDense(keras.layers.Layer):
    """K independent Dense layers: (K, N, d_in) -> (K, N, units), one kernel and bias per member."""

    def __init__(self, units, activation, kernel_seeds, kernel_regularizer=None, bias_regularizer=None,
                 member_activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.kernel_seeds = [int(s) for s in kernel_seeds]
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        # Not Keras's activity_regularizer: that one divides by shape[0], which here is K, not the batch.
        self.member_activity_regularizer = member_activity_regularizer

    def build(self, input_shape):
        members = len(self.kernel_seeds)
        self.kernel = self.add_weight(
            shape=(members, input_shape[-1], self.units),
            initializer=StackedGlorotUniform(self.kernel_seeds),
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = self.add_weight(shape=(members, self.units), initializer="zeros", regularizer=self.bias_regularizer, name="bias")

    def call(self, inputs):
        outputs = self.activation(ops.einsum("kni,kio->kno", inputs, self.kernel) + self.bias[:, None, :])
        if self.member_activity_regularizer is not None:
            batch = ops.cast(ops.shape(outputs)[1], outputs.dtype)
            self.add_loss(self.member_activity_regularizer(outputs) / batch)
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "kernel_seeds": self.kernel_seeds,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer) if self.kernel_regularizer else None,
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer) if self.bias_regularizer else None,
            "member_activity_regularizer": keras.regularizers.serialize(self.member_activity_regularizer)
            if self.member_activity_regularizer else None,
        }


def build_stacked_mlp(model: DictConfig, seeds: list[int], penalties: dict[str, MemberwiseL1L2]) -> keras.Sequential:
    """A stack of len(seeds) MLPs. `penalties` maps a placement name to its per-member regularizer."""
    layers = [
        StackedDense(
            units,
            model.activation,
            kernel_seeds=[layer_seed(s, i) for s in seeds],
            kernel_regularizer=penalties.get("kernel"),
            bias_regularizer=penalties.get("bias"),
            member_activity_regularizer=penalties.get("activity"),
            name=f"hidden_{i}",
        )
        for i, units in enumerate(model.hidden_units)
    ]
    output_seeds = [layer_seed(s, len(model.hidden_units)) for s in seeds]
    layers.append(StackedDense(1, "linear", output_seeds, kernel_regularizer=penalties.get("output"), name="output"))  # logits
    return keras.Sequential(layers, name="stacked_mlp")
