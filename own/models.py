"""An example of your own model for weightreg: any callable returning an uncompiled keras.Model.

weightreg passes the keywords it declares among input_shape, n_outputs, seed and task; the others come
from the study's `model:` config (here `units`). The penalties are placed by the study's config, by layer
name ("features", "head") and type, without a change here.
"""

import keras


def two_layer_net(input_shape, n_outputs, seed, units=32):
    inputs = keras.Input(shape=input_shape, name="pixels")
    scaled = keras.layers.Rescaling(1 / 16, name="scale")(inputs)  # digits' pixels are 0..16
    hidden = keras.layers.Dense(units, activation="relu", name="features",
                                kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(scaled)
    outputs = keras.layers.Dense(n_outputs, activation="softmax", name="head",
                                 kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1))(hidden)
    return keras.Model(inputs, outputs, name="two_layer_net")
