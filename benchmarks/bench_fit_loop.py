"""The fit trainer's loop: one model.fit per epoch (a, how weightreg.trainers.fit.fit_epochs trained until it became one
call) against one model.fit per run (b, fit_epochs now), on digits_mlp's data and model, beside a large matmul.

    .venv/bin/python benchmarks/bench_fit_loop.py                  # 30 epochs, medians of 3 repeats
    .venv/bin/python benchmarks/bench_fit_loop.py --epochs 10 --repeats 1

Both sides build and compile the study's model (own/models.py's two_layer_net, digits from scikit-learn, batch 32),
train it with each epoch's minibatch order drawn from (seed, epoch) and validate after every epoch; the timing covers
fit and validation only. The two must end with bitwise-equal weights, which the benchmark checks. GFLOP/s counts
multiply-adds x 2 of training (3 x the forward pass) and validation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from bench_text import matmul_gflops
from weightreg.trainers.fit import FIT_LOGS, fit_epochs

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
BATCH, UNITS, SEED = 32, 32, 0


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x.astype(np.float32), y, test_size=0.25, random_state=0)
    return x_train, y_train, x_val, y_val


def compiled_model():
    import keras

    sys.path.insert(0, str(ROOT / "own"))
    from models import two_layer_net

    keras.utils.set_random_seed(SEED)
    model = two_layer_net((64,), 10, SEED, units=UNITS)
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def per_epoch(model, x, y, validation, epochs: int):
    """(a) The loop before: model.fit once per epoch, on that epoch's order."""
    for epoch in range(epochs):
        order = np.random.default_rng([SEED, epoch]).permutation(len(y))
        model.fit(x[order], y[order], batch_size=BATCH, epochs=1, shuffle=False, verbose=0, validation_data=validation)
    return model


def one_fit(model, x, y, validation, epochs: int):
    """(b) fit_epochs: one model.fit over the run."""
    return fit_epochs(model, x, y, validation, epochs=epochs, batch_size=BATCH, seed=SEED, names=FIT_LOGS)[0]


def timed(loop, data, epochs: int, repeats: int) -> tuple[list[float], list]:
    x, y, x_val, y_val = data
    times, weights = [], None
    for _ in range(repeats):
        model = compiled_model()
        start = time.perf_counter()
        model = loop(model, x, y, (x_val, y_val), epochs)
        times.append((time.perf_counter() - start) / epochs)
        weights = [np.asarray(w) for w in model.get_weights()]
    return times, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from weightreg.members import seed_everything

    seed_everything(SEED, 2)
    data = digits()
    n_train, n_val = len(data[1]), len(data[3])
    flops = 2 * (64 * UNITS + UNITS * 10) * (3 * n_train + n_val)  # per epoch
    peak = matmul_gflops(args.repeats)
    print(f"matmul 2048x2048 float32: {peak:.0f} GFLOP/s (the machine's practical peak)")
    print(f"seconds per epoch ({n_train} training and {n_val} validation digits, batch {BATCH}), medians of {args.repeats} repeats")
    results = {}
    for name, loop in (("(a) model.fit per epoch", per_epoch), ("(b) one model.fit per run", one_fit)):
        times, weights = timed(loop, data, args.epochs, args.repeats)
        results[name] = (statistics.median(times), weights)
        print(f"  {name}: {results[name][0]:.3e}  [{', '.join(f'{t:.3e}' for t in times)}]  "
              f"({flops / results[name][0] / 1e9:.2f} GFLOP/s, {flops / results[name][0] / 1e9 / peak:.2%} of the matmul)")
    (a, weights_a), (b, weights_b) = results.values()
    same = all(np.array_equal(p, q) for p, q in zip(weights_a, weights_b, strict=True))
    print(f"speedup a/b: {a / b:.2f}; final weights bitwise equal: {same}")
    if not same:
        raise SystemExit("the two loops trained different weights")


if __name__ == "__main__":
    main()
