"""IMDB's stacked trainer: K text models (MLP, CNN or LSTM) trained in minibatches as one compiled stack.

Member k is the model `build_text_model(..., seed=seeds[k])` would build, with its own penalty or weight
decay, and sees the same minibatches in the same order as `model.fit` alone (epoch permutations drawn
from (seed, epoch), consecutive batches of `train.batch_size`, the last one partial). One XLA-compiled
function runs a whole epoch; what it reports is what Keras's fit reports: train loss and accuracy
averaged over the epoch's batches (the penalty included in the loss), then validation loss and
accuracy in batches of the same size. The stacked model and its compiled functions: weightreg.trainers.text_model.

    trained = train_text_stacked(cfg, members, data, checkpoints=Path(".checkpoints/imdb_mlp-..."))
"""

from __future__ import annotations

import time
from typing import Callable
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from weightreg.members import (SPLITS, Member, Trained, chunk_bounds, confusion, draw_rows, joined, member_accuracy, member_loss,
                               penalty_specs, text_inputs, train_stacks, training_progress, weight_norms)
from weightreg.trainers.text_model import Stack

STATE_FILE = "state.npz"  # a stack's weights, optimizer state and curves after its last finished epoch


def save_state(path: Path, stack: Stack, history: list) -> None:
    from weightreg.artifacts import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, history=np.asarray(history, np.float32), **{f"v{i}": v for i, v in enumerate(stack.state())})


def load_state(path: Path, stack: Stack) -> list:
    if not path.is_file():
        return []
    with np.load(path) as saved:
        stack.restore([saved[f"v{i}"] for i in range(len(saved.files) - 1)])
        return list(saved["history"])


def train_stack(stack: Stack, members: list[Member], y: dict, checkpoint: Path | None = None,
                advance: Callable[[int], object] = lambda member_epochs: None,
                rows: dict[str, np.ndarray] | None = None) -> Trained:
    """Train one stack for train.epochs epochs; with `checkpoint`, its state is saved after every epoch
    and a stopped run resumes from it to the same numbers. `advance` hears of each epoch done (progress);
    `rows`: the members' own rows of the pool, where the study redraws its split."""
    import keras

    stack.reset(members, rows)
    history = load_state(checkpoint / STATE_FILE, stack) if checkpoint is not None else []
    advance(len(members) * len(history))
    start = time.perf_counter()
    scored = {}  # the last epoch's validation logits: the final weights' own, not scored twice
    for epoch in range(len(history), stack.cfg.train.epochs):
        train_loss, train_accuracy = stack.run_epoch(stack.orders(epoch))
        val_loss, val_accuracy, scored["val"] = stack.validation()
        history.append(np.stack([np.asarray(train_loss), np.asarray(train_accuracy), val_loss, val_accuracy]))
        if checkpoint is not None:
            save_state(checkpoint / STATE_FILE, stack, history)
        advance(len(members))
    seconds = time.perf_counter() - start
    final = {}
    for split in SPLITS:  # no penalty in these numbers; the test split's only use
        logits = scored[split] if split in scored else stack.score_fns[split]()[0]
        final[f"{split}/loss"] = np.asarray(member_loss(stack.labels(split), logits, stack.from_logits), np.float64)
        final[f"{split}/accuracy"] = np.asarray(member_accuracy(stack.labels(split), logits), np.float64)
    logits = np.asarray(logits)
    correct = (logits > 0) == y["test"].astype(bool)
    counts = [confusion(y["test"], row) for row in logits]
    final.update({key: np.asarray([c[key] for c in counts]) for key in counts[0]})
    kernels = {f"{layer.name}.{w.name}": keras.ops.convert_to_numpy(w) for layer in stack.model.layers
               for w in layer.trainable_weights if w.name in ("kernel", "recurrent_kernel")}
    final.update(weight_norms(kernels))
    return Trained(np.asarray(history, np.float32), final, np.full(len(members), seconds / len(members)), None, correct, every=1)


def text_arrays(cfg: DictConfig, data: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Inputs and labels per split, and the pool of training reviews where the study redraws its split."""
    x = {split: text_inputs(data, cfg.model, split) for split in SPLITS}
    y = {split: data[f"y_{split}"].astype("float32") for split in SPLITS}
    if "draw_seed" in data:
        x["pool"] = text_inputs(data, cfg.model, "pool")
        y["pool"] = data["y_pool"].astype("float32")
    return x, y


def stack_work(cfg: DictConfig, members: list[Member], data: dict[str, np.ndarray], checkpoints: Path | None,
               advance: Callable[[int], object]) -> tuple[Callable, Callable]:
    """What `train_stacks` runs for these members: build a stack of k, and train members[a:b] on it (each from its
    own rows of the pool where the study redraws its split; checkpointed under checkpoints/stack_<a>-<b>)."""
    x, y = text_arrays(cfg, data)
    rows = draw_rows(data, members)
    regs = penalty_specs(members)

    def train(stack: Stack, a: int, b: int) -> Trained:
        return train_stack(stack, members[a:b], y, checkpoints / f"stack_{a}-{b}" if checkpoints is not None else None, advance,
                           None if rows is None else {split: r[a:b] for split, r in rows.items()})

    return (lambda k: Stack(cfg, k, regs, x, y)), train


def train_text_stacked(cfg: DictConfig, members: list[Member], data: dict[str, np.ndarray],
                       checkpoints: Path | None = None) -> Trained:
    """All members in stacks of at most train.max_stack, train.parallel_stacks at a time, joined along the member axis."""
    bounds = chunk_bounds(len(members), cfg.train.max_stack)
    with training_progress(members, cfg.train.epochs, f"{cfg.study}: {len(bounds)} stack(s) of <= {cfg.train.max_stack} runs") as bar:
        parts = train_stacks(bounds, cfg.train.parallel_stacks, *stack_work(cfg, members, data, checkpoints, bar.update))
    return joined(parts)
