"""IMDB trainers: seconds per member-epoch of one seed via model.fit (a) against the stacked trainer
the pipeline uses (b), on synthetic data of the IMDB studies' shapes, beside a large matmul.

    .venv/bin/python benchmarks/bench_text.py                      # all three, medians of 3 repeats
    .venv/bin/python benchmarks/bench_text.py --models lstm --sizes 10 20 40 --repeats 1

Both sides train the study's architecture with an L2 penalty on the same synthetic reviews (5,120 by
default, validation a quarter of that) for the study's epochs, and each side's time includes what a
study pays: building and compiling its model(s), validation after every epoch, the final scoring of
every split. (a) is the reference path (the spec's `ensemble=false`): one Keras model and `model.fit`
per seed; (b) is the pipeline's stacked trainer at the study's stack size `train.max_stack` (or --sizes).
GFLOP/s counts multiply-adds x 2 of training (3 x the forward pass) and validation, not embedding lookups.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from weightreg.validation import from_mapping

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
STUDY = {"mlp": "imdb_mlp", "cnn": "imdb_cnn", "lstm": "imdb_lstm"}
# (b) trains at least this many members, so that a small stack's compilation is shared by several chunks
# as in a study (a stack of each size is compiled once and reused); (a) compiles per seed, as a study does.
SHARED_BY = 4


def study_config(name: str, epochs: int | None):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        composed = compose("config", overrides=[f"experiment={STUDY[name]}"])
    composed.train.epochs = epochs or composed.train.epochs
    composed.sweep = {}
    composed.sources = {}
    composed.baseline = False
    composed.regularizer = OmegaConf.merge(composed.regularizer, {"kind": "l2", "strength": 1e-4})
    cfg = from_mapping(composed)
    return cfg


def synthetic(cfg, n_train: int, n_val: int) -> dict[str, np.ndarray]:
    """Random reviews of the study's shapes: word indices below vocab_size, multi-hot rows, labels."""
    rng = np.random.default_rng(0)
    data = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_val)):
        sequences = rng.integers(1, cfg.data.vocab_size, size=(n, cfg.data.maxlen), dtype=np.int32)
        multi_hot = np.zeros((n, cfg.data.num_words), np.float32)
        np.put_along_axis(multi_hot, sequences % cfg.data.num_words, 1.0, axis=1)
        data[f"sequences_{split}"], data[f"multi_hot_{split}"] = sequences, multi_hot
        data[f"y_{split}"] = (sequences[:, 0] % 2).astype(np.int64)
    return data


def flops_per_member_epoch(cfg, n_train: int, n_val: int) -> float:
    """Multiply-adds x 2 of training (forward + two backward products = 3 x forward) and validation."""
    m, d = cfg.model, cfg.data
    if m.name == "mlp":
        widths = [d.num_words, *m.hidden_units, 1]
        forward = sum(2 * a * b for a, b in zip(widths, widths[1:]))
    elif m.name == "cnn":
        steps = d.maxlen - m.kernel_size + 1
        forward = 2 * steps * m.kernel_size * m.embedding_dim * m.filters + 2 * m.filters
    else:
        u = m.recurrent_units
        forward = 2 * d.maxlen * (m.embedding_dim + u) * 4 * u + 2 * u
    return forward * (3 * n_train + n_val)


def seconds_fit(cfg, data, repeats: int) -> list[float]:
    from weightreg.members import seed_everything, study_members
    from weightreg.trainers.fit import train_fit

    seed_everything(0, cfg.train.threads)
    members = study_members(cfg)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        train_fit(cfg, members[:1], data)
        times.append((time.perf_counter() - start) / cfg.train.epochs)
    return times


def seconds_stacked(cfg, data, k: int, repeats: int) -> list[float]:
    from weightreg.trainers.text_stack import train_text_stacked
    from weightreg.members import seed_everything, study_members

    seed_everything(0, cfg.train.threads)
    members = study_members(cfg)
    cfg.train.max_stack = k
    trained = members[: max(k, SHARED_BY)]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        train_text_stacked(cfg, trained, data)
        times.append((time.perf_counter() - start) / (len(trained) * cfg.train.epochs))
    return times


def matmul_gflops(repeats: int, n: int = 2048) -> float:
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), (1, 2))
    mm = tf.function(lambda: tf.reduce_sum(tf.matmul(a, a)), jit_compile=True)
    mm()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            mm().numpy()
        times.append((time.perf_counter() - start) / 10)
    return 2 * n**3 / statistics.median(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn", "lstm"])
    parser.add_argument("--sizes", nargs="+", type=int, help="stack sizes K (default: each study's train.max_stack)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=5120, help="synthetic training reviews (validation: a quarter)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the study's)")
    args = parser.parse_args()

    from weightreg.members import seed_everything

    seed_everything(0, 2)
    peak = matmul_gflops(args.repeats)
    print(f"matmul 2048x2048 float32: {peak:.0f} GFLOP/s (the machine's practical peak)")
    print("seconds per member-epoch, medians of", args.repeats, "repeats")
    for name in args.models:
        cfg = study_config(name, args.epochs)
        sizes = args.sizes or [int(cfg.train.max_stack)]
        cfg.n_seeds = max(*sizes, SHARED_BY)
        n_train, n_val = args.n_train, args.n_train // 4
        data = synthetic(cfg, n_train, n_val)
        flops = flops_per_member_epoch(cfg, n_train, n_val)
        fit = statistics.median(seconds_fit(cfg, data, args.repeats))
        print(f"  {name}: (a) model.fit, one seed: {fit:.3e}  ({flops / fit / 1e9:.1f} GFLOP/s)")
        best = None
        for k in sizes:
            stacked = statistics.median(seconds_stacked(cfg, data, k, args.repeats))
            print(f"  {name}: (b) stacked, K={k}: {stacked:.3e}  ({flops / stacked / 1e9:.1f} GFLOP/s, "
                  f"{flops / stacked / 1e9 / peak:.0%} of the matmul)")
            best = stacked if best is None else min(best, stacked)
        print(f"imdb_{name} speedup: {fit / best:.1f}")


if __name__ == "__main__":
    main()
