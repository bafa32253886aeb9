"""The compiled stacked trainer against plain `keras.Model.fit`: same data, same initial weights, 500 epochs."""

import numpy as np
import pytest

from weightreg.validation import from_mapping
from weightreg.data import make_draws
from weightreg.members import member_arrays, seed_everything, study_members, weight_norms
from weightreg.tables import surface_grid
from weightreg.trainers.full_batch import train_stacked

pytestmark = pytest.mark.slow
EPOCHS = 500
# Float32 sums taken in another order (XLA's fused loop against Keras's train step) differ in the last
# bits, and a ReLU unit whose input crosses zero on some training point amplifies that. Measured after
# 500 epochs (largest relative difference of the weight norms / of the losses, largest absolute
# difference of the predicted probabilities on the 3,600-point surface grid):
#   seed 0: 1e-8 / 1e-7 / 2e-7    seed 1: 3e-6 / 5e-6 / 5e-5    seed 2: 2e-5 / 3e-4 / 4e-4
#   seed 3: 2e-5 / 2e-4 / 5e-4    seed 4: 1.4e-4 / 1.1e-4 / 3.5e-3
# Below 200 epochs every seed agrees to 1e-8 in the norms. The tolerances sit above the worst seed.
RTOL = 1e-3
PROBABILITY_ATOL = 1e-2


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_compiled_trainer_matches_keras_fit_for_500_epochs(seed):
    import keras

    from weightreg.models import build_mlp

    cfg = from_mapping({"n_seeds": 1, "seed": seed, "baseline": False, "train": {"epochs": EPOCHS, "history_every": 50},
                        "regularizer": {"kind": "l2", "strength": 0.001}})
    draws = make_draws(cfg)
    seed_everything(cfg.seed, cfg.train.threads)
    members = study_members(cfg)
    arrays = member_arrays(draws, members)
    compiled = train_stacked(cfg, members, arrays)

    model = build_mlp(cfg.model, members[0].condition.regularizer, members[0].seed, 2)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=cfg.train.learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(arrays["x_train"][0], arrays["y_train"][0], batch_size=cfg.train.batch_size, epochs=EPOCHS,
              shuffle=False, verbose=0)
    kernels = {layer.name: keras.ops.convert_to_numpy(layer.kernel)[None] for layer in model.layers if hasattr(layer, "kernel")}
    for name, value in weight_norms(kernels).items():
        assert compiled.final[name][0] == pytest.approx(value[0], rel=RTOL), name
    for split in ("train", "val", "test"):
        loss, accuracy = model.evaluate(arrays[f"x_{split}"][0], arrays[f"y_{split}"][0], verbose=0, batch_size=1000)
        penalty = float(sum(keras.ops.convert_to_numpy(term) for term in model.losses))
        assert compiled.final[f"{split}/loss"][0] == pytest.approx(loss - penalty, rel=RTOL), split
        points = len(arrays[f"y_{split}"][0])  # a point whose probability sits within the drift of 0.5 may flip
        assert abs(compiled.final[f"{split}/accuracy"][0] - accuracy) <= 1 / points + 1e-6, split
    grid = surface_grid(draws)
    fitted = model.predict(grid, verbose=0)[:, 0]
    ours = np.asarray(compiled.predict(grid[None]))[0]
    np.testing.assert_allclose(ours, fitted, rtol=0, atol=PROBABILITY_ATOL)


def test_loss_from_logits_unless_the_2018_behaviour_is_asked_for():
    """A confidently wrong prediction (logit 40, label 0): Keras 3's loss is 40; the clipped 2018 loss is capped."""
    import keras
    import tensorflow as tf

    from weightreg.members import member_loss

    y, logits = tf.zeros((1, 2)), tf.fill((1, 2), 40.0)
    fit_loss = keras.losses.BinaryCrossentropy()(tf.zeros((2, 1)), keras.activations.sigmoid(tf.fill((2, 1), 40.0)))
    assert float(member_loss(y, logits)[0]) == pytest.approx(40.0, rel=1e-6) == pytest.approx(float(fit_loss), rel=1e-4)
    # 1 - 1e-7 in float32 is 1 - 1.19e-7: the 2018 loss of a saturated mistake is -log(1.19e-7) = 15.94
    capped = -np.log(1 - np.float64(np.float32(1 - 1e-7)))
    assert float(member_loss(y, logits, from_logits=False)[0]) == pytest.approx(capped, rel=1e-5)
