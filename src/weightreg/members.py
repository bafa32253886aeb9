"""What a study trains and what comes back, shared by its trainers (weightreg.trainers, weightreg.trainers.text_stack):
its members, the seeding block, the per-member loss, accuracy and weight norms, and `Trained`, one
trainer's results with a member axis, joined over stacks.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
from omegaconf import DictConfig

from weightreg.config import Condition, Variation


# Learning curves read validation data only: the test split is scored once, after training.
HISTORY_COLUMNS = ("train/loss", "train/accuracy", "val/loss", "val/accuracy")
SPLITS = ("train", "val", "test")


def seed_everything(seed: int, threads: int) -> None:
    """Seeding block: Python, NumPy, Keras/TF generators, deterministic ops, fixed thread counts. PYTHONHASHSEED
    is read only when an interpreter starts, so it is set where one is started (the Makefile, for every command it
    runs; the SLURM job script in weightreg.cluster), never here."""
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialized in this process; the first setting stays in force
        pass
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@dataclass(frozen=True)
class Member:
    """One run of a study: a condition on one seed in one variation (model: fixed data; data+model: its own draw)."""

    condition: Condition
    variation: str
    seed: int
    data_seed: int


def study_members(cfg: DictConfig, crossed: list[Condition]) -> list[Member]:
    """Every (condition, variation, seed) of the study: its conditions (weightreg.conditions.conditions, typed) on the
    seeds and variations of its spec."""
    from weightreg.data import data_seed

    return [Member(condition, variation.value, seed, data_seed(cfg, variation, seed)) for condition in crossed
            for variation in map(Variation, cfg.variations) for seed in range(cfg.seed, cfg.seed + cfg.n_seeds)]


def penalty_specs(members: list[Member]) -> list[dict]:
    """Each member's penalty spec, in member order (the stacked trainers' per-member coefficient tables)."""
    return [m.condition.regularizer for m in members]


def member_arrays(draws: dict[str, np.ndarray], members: list[Member]) -> dict[str, np.ndarray]:
    """Stack each member's own data draw: x_train (K, N, d), y_train (K, N), x_val, y_val, x_test, y_test."""
    index = {int(s): i for i, s in enumerate(draws["data_seed"])}
    rows = [index[m.data_seed] for m in members]
    return {f"{xy}_{split}": draws[f"{xy}_{split}"][rows] for split in SPLITS for xy in ("x", "y")}


CLIP = 1e-7  # Keras's epsilon: the 2018 loss clips probabilities to [CLIP, 1 - CLIP]


def member_loss(y, logits, from_logits: bool = True):
    """Binary cross-entropy per member from its logits, averaged over its examples: (K, N) -> (K,).

    from_logits: log-sigmoid form, as Keras 3's fit computes it for a sigmoid output. Otherwise the
    2018 (Keras 2) form: probabilities clipped to [1e-7, 1 - 1e-7], losses capped near 16.1.
    """
    import tensorflow as tf
    from keras import ops

    if from_logits:
        return ops.mean(ops.binary_crossentropy(y, logits, from_logits=True), axis=-1)
    p = tf.clip_by_value(tf.math.sigmoid(logits), CLIP, 1 - CLIP)  # raw TF: no cached logits for Keras to use
    return ops.mean(-(y * ops.log(p) + (1 - y) * ops.log(1 - p)), axis=-1)


def member_accuracy(y, logits):
    """Share of examples with the predicted class (probability > 0.5, i.e. logit > 0) equal to the label."""
    from keras import ops

    return ops.mean(ops.cast(ops.equal(ops.cast(logits > 0, y.dtype), y), "float32"), axis=-1)


def weight_norms(kernels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """L1 and L2 norms of each layer's kernel per member; kernels have shape (K, d_in, d_out)."""
    norms = {}
    for name, kernel in kernels.items():
        flat = kernel.reshape(kernel.shape[0], -1).astype(np.float64)
        norms[f"weights/l1/{name}"] = np.abs(flat).sum(axis=1)
        norms[f"weights/l2/{name}"] = np.sqrt((flat**2).sum(axis=1))
    everything = np.concatenate([k.reshape(k.shape[0], -1).astype(np.float64) for k in kernels.values()], axis=1)
    norms["weights/l2/all_kernels"] = np.sqrt((everything**2).sum(axis=1))
    return norms


@dataclass
class Trained:
    history: np.ndarray  # (n_records, 4, K)
    final: dict[str, np.ndarray]  # metric -> (K,)
    fit_seconds: np.ndarray  # (K,): the stack's time shared equally among its members
    predict: Callable | None  # x (K, N, d) -> probabilities (K, N); moons only (decision surfaces)
    correct: np.ndarray  # (K, n_test) bool: test points each member classifies correctly
    every: int = 1  # epochs between history records


def chunk_bounds(n_members: int, max_stack: int) -> list[tuple[int, int]]:
    """Split n members into the fewest stacks of at most max_stack, their sizes as equal as possible."""
    n_chunks = -(-n_members // max_stack)
    edges = np.linspace(0, n_members, n_chunks + 1).round().astype(int)
    return list(zip(edges[:-1], edges[1:]))


def train_stacks(bounds: list[tuple[int, int]], parallel: int, build: Callable[[int], object],
                 train_chunk: Callable[[object, int, int], Trained]) -> list[Trained]:
    """Train the chunks (a, b) of a study, `parallel` stacks at a time, each worker with its own built stacks
    (`build(k)` once per size it meets); results in the chunks' order. A chunk's numbers do not depend on
    which worker trains it: each compiles the same graph for a size.

    Why threads: a moons stack's compiled step keeps about one of the machine's cores busy (measured), and
    XLA releases the GIL while it runs; compute-bound stacks (the IMDB CNN) gain nothing and keep 1."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    owned = threading.local()

    def work(bound: tuple[int, int]) -> Trained:
        a, b = bound
        stacks = owned.__dict__.setdefault("stacks", {})
        if b - a not in stacks:
            stacks[b - a] = build(b - a)
        return train_chunk(stacks[b - a], a, b)

    if parallel == 1:
        return [work(bound) for bound in bounds]
    pool = ThreadPoolExecutor(max_workers=min(parallel, len(bounds)), thread_name_prefix="stack")
    try:
        return list(pool.map(work, bounds))
    finally:
        pool.shutdown(cancel_futures=True)  # after an error or an interrupt, start no further chunk


def own_function(fn: Callable, *args, jit_compile: bool = True) -> Callable:
    """fn(*args, ...) as a tf.function (XLA-compiled unless jit_compile=False) whose traces TensorFlow counts
    on their own. Its "frequent retracing" warning counts traces per Python code object, summed over every
    stack, worker, split or member built from the same code, each traced once per shape; a
    functools.partial is counted by itself, so the warning then speaks only of real retracing."""
    import tensorflow as tf

    counted_alone = partial(fn, *args)
    counted_alone.__name__ = fn.__name__  # the name XLA's dumps and profiles show
    return tf.function(counted_alone, jit_compile=jit_compile)


def text_inputs(data: dict[str, np.ndarray], model: DictConfig, split: str) -> np.ndarray:
    """Multi-hot vectors for the MLP, padded word-index sequences for the CNN and LSTM."""
    return data[f"multi_hot_{split}" if model.name == "mlp" else f"sequences_{split}"]


REDRAWN = ("train", "val")  # the splits a data+model draw redraws; the test reviews stay one set


def text_split(data: dict[str, np.ndarray], model: DictConfig, data_seed: int) -> tuple[dict, dict]:
    """One member's inputs and labels per split: where the study redraws its split (IMDB data+model), the
    training and validation rows of the member's own draw from the pool of training reviews."""
    x = {split: text_inputs(data, model, split) for split in SPLITS}
    y = {split: data[f"y_{split}"].astype("float32") for split in SPLITS}
    if "draw_seed" in data:
        draw = data["draw_seed"].tolist().index(data_seed)
        for split in REDRAWN:
            rows = data[f"{split}_rows"][draw]
            x[split], y[split] = text_inputs(data, model, "pool")[rows], data["y_pool"][rows].astype("float32")
    return x, y


def draw_rows(data: dict[str, np.ndarray], members: list[Member]) -> dict[str, np.ndarray] | None:
    """Each member's rows of the pool of training reviews, {train: (K, n_train), val: (K, n_val)}, where the
    study redraws its split; None where every member reads the one fixed split."""
    if "draw_seed" not in data:
        return None
    index = {int(s): i for i, s in enumerate(data["draw_seed"])}
    at = [index[m.data_seed] for m in members]
    return {split: data[f"{split}_rows"][at].astype(np.int32) for split in REDRAWN}


def confusion(y: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Counts of the test confusion matrix (positive = 1), probability threshold 0.5 (logit 0)."""
    predicted = logits > 0
    truth = y.astype(bool)
    return {"test/tn": float(np.sum(~predicted & ~truth)), "test/fp": float(np.sum(predicted & ~truth)),
            "test/fn": float(np.sum(~predicted & truth)), "test/tp": float(np.sum(predicted & truth))}


def training_progress(members: list, epochs: int, description: str):
    """A study's training as one bar of member-epochs with an ETA on stderr; trainers call `.update(n)`
    after each block of epochs they finish (compiled trainer), each epoch (stacks) or each run's epoch (fit)."""
    from tqdm import tqdm

    return tqdm(total=len(members) * int(epochs), desc=description, unit=" member-epochs", unit_scale=True,
                file=sys.stderr, dynamic_ncols=True, mininterval=1.0)


def joined(parts: list[Trained], predict: Callable | None = None) -> Trained:
    """The results of several stacks as one, along the member axis."""
    return Trained(
        np.concatenate([p.history for p in parts], axis=-1),
        {key: np.concatenate([p.final[key] for p in parts]) for key in parts[0].final},
        np.concatenate([p.fit_seconds for p in parts]),
        predict,
        np.concatenate([p.correct for p in parts]),
        parts[0].every,
    )
