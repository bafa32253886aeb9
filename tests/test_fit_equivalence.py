"""The compiled stacked trainer against plain `keras.Model.fit`: same data, same initial weights, 500 epochs."""

import numpy as np
import pytest

from weightreg.config import from_mapping
from weightreg.data import make_draws
from weightreg.train import member_arrays, seed_everything, study_members, surface_grid, train_stacked, weight_norms

pytestmark = pytest.mark.slow
EPOCHS = 500
# Float32 sums taken in another order (XLA's fused loop against Keras's train step) differ in the last
# bits; over 500 Adam steps that drift stays below 1e-4 relative in every weight norm and loss.
RTOL = 1e-4


def test_compiled_trainer_matches_keras_fit_for_500_epochs():
    import keras

    from weightreg.models import build_mlp

    cfg = from_mapping({"n_seeds": 1, "seed": 4, "baseline": False, "train": {"epochs": EPOCHS, "history_every": 50},
                        "regularizer": {"kind": "l2", "strength": 0.001}})
    draws = make_draws(cfg)
    seed_everything(cfg.seed, cfg.train.threads)
    members, regs = study_members(cfg)
    arrays = member_arrays(draws, members)
    compiled = train_stacked(cfg, members, regs, arrays)

    model = build_mlp(cfg.model, regs[0], members[0].seed, 2)
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
        assert compiled.final[f"{split}/accuracy"][0] == accuracy, split
    grid = surface_grid(draws)
    fitted = model.predict(grid, verbose=0)[:, 0]
    ours = np.asarray(compiled.predict(grid[None]))[0]
    np.testing.assert_allclose(ours, fitted, rtol=0, atol=1e-5)
