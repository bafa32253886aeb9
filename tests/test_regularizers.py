"""Each penalty kind and placement adds exactly the Keras losses it should, on real Keras models."""

import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from weightreg.config import RegularizerConfig
from weightreg.models import build_mlp
from weightreg.trainers.stacked_models import build_stacked_mlp
from weightreg.regularizers import MemberwiseL1L2, coefficient_tables, member_phases

MODEL = OmegaConf.create({"hidden_units": [8], "activation": "relu"})
X = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")


def spec(**values):
    return OmegaConf.merge(OmegaConf.structured(RegularizerConfig), values)


def total_loss(model, x):
    model(x)
    return float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses))


def weights(model):
    hidden, output = model.get_layer("hidden_0"), model.get_layer("output")
    return [keras.ops.convert_to_numpy(w) for w in (hidden.kernel, hidden.bias, output.kernel)]


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"kind": "none"}, lambda k, b, o, a: 0.0),
        ({"kind": "l2", "strength": 0.01}, lambda k, b, o, a: 0.01 * (k**2).sum()),
        ({"kind": "l1", "strength": 0.01}, lambda k, b, o, a: 0.01 * np.abs(k).sum()),
        ({"kind": "l1_l2", "l1": 0.01, "l2": 0.02}, lambda k, b, o, a: 0.01 * np.abs(k).sum() + 0.02 * (k**2).sum()),
        ({"kind": "l2", "strength": 0.01, "placement": ["kernel", "output"]}, lambda k, b, o, a: 0.01 * ((k**2).sum() + (o**2).sum())),
        ({"kind": "l2", "strength": 0.01, "placement": ["kernel", "bias"]}, lambda k, b, o, a: 0.01 * ((k**2).sum() + (b**2).sum())),
        ({"kind": "l2", "strength": 0.01, "placement": ["activity"]}, lambda k, b, o, a: 0.01 * (a**2).sum() / len(a)),
    ],
)
def test_plain_model_losses(values, expected):
    reg = spec(**values)
    model = build_mlp(MODEL, reg, seed=0, n_inputs=2)
    model.get_layer("hidden_0").bias.assign(np.full(8, 0.5, "float32"))  # non-zero, so a bias penalty shows
    kernel, bias, output = weights(model)
    activity = np.maximum(X @ kernel + bias, 0)
    assert total_loss(model, X) == pytest.approx(expected(kernel, bias, output, activity), rel=1e-5)


def test_biases_are_not_penalized_by_default():
    model = build_mlp(MODEL, spec(kind="l2", strength=0.1), seed=0, n_inputs=2)
    assert model.get_layer("hidden_0").bias_regularizer is None
    assert model.get_layer("output").kernel_regularizer is None
    assert isinstance(model.get_layer("hidden_0").kernel_regularizer, keras.regularizers.L2)


def test_stack_penalty_of_each_member_is_its_keras_penalty():
    regs = [spec(kind="l2", strength=0.01), spec(kind="l1", strength=0.02, placement=["kernel", "bias"]), spec(kind="none")]
    seeds = [3, 4, 5]
    phases = member_phases(regs)
    penalties = {}
    for placement in ("kernel", "bias"):
        l1, l2 = coefficient_tables(regs, placement, phases)
        penalties[placement] = MemberwiseL1L2(l1[0], l2[0])
    stack = build_stacked_mlp(MODEL, seeds, penalties)
    stacked_x = np.broadcast_to(X, (3, *X.shape))
    stack(stacked_x)
    stack.get_layer("hidden_0").bias.assign(np.full((3, 8), 0.5, "float32"))
    expected = []
    for k, (seed, reg) in enumerate(zip(seeds, regs)):
        single = build_mlp(MODEL, reg, seed=seed, n_inputs=2)
        single(X)
        np.testing.assert_array_equal(weights(single)[0], keras.ops.convert_to_numpy(stack.get_layer("hidden_0").kernel)[k])
        single.get_layer("hidden_0").bias.assign(np.full(8, 0.5, "float32"))
        expected.append(total_loss(single, X))
    stack(stacked_x)
    per_member = sum(keras.ops.convert_to_numpy(loss) for loss in stack.losses)
    assert per_member.shape == (3,)
    np.testing.assert_allclose(per_member, expected, rtol=1e-5)
    assert expected[0] > 0 and expected[1] > 0 and expected[2] == 0


def test_schedule_tables_follow_the_steps():
    reg = spec(kind="l2", strength=1e-3, schedule=[{"epoch": 0, "strength": 0.0}, {"epoch": 10, "strength": 1e-4}])
    phases = member_phases([reg, spec(kind="l2", strength=1e-3)])
    l1, l2 = coefficient_tables([reg, spec(kind="l2", strength=1e-3)], "kernel", phases)
    assert phases.tolist() == [0, 10]
    np.testing.assert_allclose(l2, [[0.0, 1e-3], [1e-4, 1e-3]])
    assert not l1.any()
