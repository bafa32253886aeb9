"""Cost per model-epoch of the moons case study, three ways, measured side by side in one run.

    make bench        # or: .venv/bin/python benchmarks/bench_trainer.py [--repeats 3]

(a) the tutorial's way: one keras.Sequential and model.fit(epochs=400) per seed;
(b) this project's compiled trainer, one model (the spec's ensemble=false), 4000 epochs;
(c) the trainer the pipeline runs: 120 members in stacks of train.max_stack, train.parallel_stacks at a time,
    4000 epochs, by the wall clock (building, compiling and final scoring included).
Prints the median of each over repeats and the ratios; the last line is `speedup a/c: <n>x`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

from weightreg.validation import from_mapping
from weightreg.data import make_draws
from weightreg.members import member_arrays, seed_everything, study_members
from weightreg.trainers.full_batch import train_single, train_stacked_in_chunks

TUTORIAL_EPOCHS = 400
TRAIN = from_mapping({}).train  # the moons studies' training settings


def tutorial_fit(draws: dict, seed: int) -> float:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(500, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(draws["x_train"][0], draws["y_train"][0], epochs=TUTORIAL_EPOCHS, verbose=0)
    return (time.perf_counter() - start) / TUTORIAL_EPOCHS  # seconds per model-epoch


def ours(n_members: int, ensemble: bool) -> float:
    """Seconds per member-epoch: (b) the fit time of one plain model; (c) the wall clock of the whole stacked run."""
    cfg = from_mapping({"n_seeds": n_members, "baseline": False, "regularizer": {"kind": "l2", "strength": 0.001},
                        "train": {"ensemble": ensemble}})
    members = study_members(cfg)
    arrays = member_arrays(make_draws(cfg), members)
    if not ensemble:
        return float(train_single(cfg, members, arrays).fit_seconds.sum()) / (n_members * cfg.train.epochs)
    start = time.perf_counter()
    train_stacked_in_chunks(cfg, members, arrays)
    return (time.perf_counter() - start) / (n_members * cfg.train.epochs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, default=120)
    args = parser.parse_args()
    seed_everything(0, 2)
    draws = make_draws(from_mapping({"n_seeds": 1}))
    times = {"a": [], "b": [], "c": []}
    for repeat in range(args.repeats):
        times["a"].append(tutorial_fit(draws, repeat))
        times["b"].append(ours(1, ensemble=False))
        times["c"].append(ours(args.members, ensemble=True))
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"seconds per model-epoch, median of {args.repeats} (all repeats in brackets):")
    labels = {"a": f"(a) tutorial model.fit, {TUTORIAL_EPOCHS} epochs", "b": "(b) ours, one model, 4000 epochs",
              "c": f"(c) ours, {args.members} members in stacks of {TRAIN.max_stack}, {TRAIN.parallel_stacks} at a time, 4000 epochs"}
    for key, label in labels.items():
        print(f"  {label}: {medians[key]:.3e}  {np.round(times[key], 8).tolist()}")
    print(f"speedup a/b: {medians['a'] / medians['b']:.0f}x")
    print(f"speedup a/c: {medians['a'] / medians['c']:.0f}x")


if __name__ == "__main__":
    main()
