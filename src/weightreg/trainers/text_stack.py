"""IMDB's stacked trainer: K text models (MLP, CNN or LSTM) trained in minibatches as one compiled stack.

Member k is the model `build_text_model(..., seed=seeds[k])` would build, with its own penalty or weight
decay, and sees the same minibatches in the same order as `model.fit` alone (epoch permutations drawn
from (seed, epoch), consecutive batches of `train.batch_size`, the last one partial). One XLA-compiled
function runs a whole epoch; what it reports is what Keras's fit reports: train loss and accuracy
averaged over the epoch's batches (the penalty included in the loss), then validation loss and
accuracy in batches of the same size.

    trained = train_text_stacked(cfg, members, data, checkpoints=Path(".checkpoints/imdb_mlp-..."))
"""

from __future__ import annotations

import time
from typing import Callable
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from weightreg.config import Placement
from weightreg.members import (REDRAWN, SPLITS, Member, Trained, chunk_bounds, confusion, draw_rows, joined, member_accuracy,
                               member_loss, own_function, penalty_specs, text_inputs, train_stacks, training_progress,
                               weight_norms)
from weightreg.trainers.optimizers import decay_rate, make_optimizer, optimizer_spec

STATE_FILE = "state.npz"  # a stack's weights, optimizer state and curves after its last finished epoch


def placed(regs: list[DictConfig]) -> tuple[list[str], list]:
    """The placements some member penalizes, and their per-member (l1, l2) coefficients (constant strengths)."""
    from weightreg.errors import ConfigError
    from weightreg.regularizers import coefficient_tables, member_phases

    phases = member_phases(regs)
    if len(phases) > 1:
        raise ConfigError("regularizer.schedule: IMDB's stacked trainer takes constant strengths; expected an empty schedule")
    tables = {p.value: coefficient_tables(regs, p, phases) for p in Placement}
    return [name for name, (l1, l2) in tables.items() if l1.any() or l2.any()], tables


def decay_table(model, regs: list[DictConfig]) -> dict[str, np.ndarray]:
    """Per-member decoupled weight-decay rate of each variable (by path): the weights a member's placement
    names, as keras.optimizers.AdamW with exclude_from_weight_decay decays them for one model."""
    return {variable.path: np.asarray([decay_rate(r, variable.name, layer.name == "output") for r in regs], dtype=np.float32)
            for layer in model.layers for variable in layer.trainable_weights}


def batch_bounds(n: int, batch_size: int) -> tuple[int, int]:
    """(full batches, size of the last partial batch or 0)."""
    return n // batch_size, n % batch_size


class Stack:
    """A built stack of K members with its compiled epoch and scoring functions, built once per K and
    reused for every chunk of that size (`reset`), so that nothing is traced twice.

    study_regs: every member's spec in the study, so that the stack has a penalty wherever any member
    has one (zero for the others) and the compiled graph is the same for every chunk.
    x, y: the splits' arrays, and where the study redraws its split (IMDB data+model) the `pool` of training
    reviews, from which each member reads its own training and validation rows (`reset`).
    """

    def __init__(self, cfg: DictConfig, k: int, study_regs: list[DictConfig], x: dict, y: dict):
        import keras
        import tensorflow as tf

        from weightreg.trainers.stacked_models import build_stacked_text_model
        from weightreg.regularizers import MemberwiseL1L2

        self.cfg, self.k = cfg, k
        self.placements, _ = placed(study_regs)
        self.penalties = {name: MemberwiseL1L2(np.zeros(k), np.zeros(k)) for name in self.placements}
        self.model = build_stacked_text_model(cfg.model, cfg.data, list(range(k)), self.penalties)
        self.model(np.zeros((k, 1, *x["train"].shape[1:]), x["train"].dtype))
        self.variables = self.model.trainable_variables
        self.optimizer = make_optimizer(optimizer_spec(cfg.train))
        self.optimizer.build(self.variables)
        self.fresh_optimizer = [np.asarray(v) for v in self.optimizer.variables]
        decays = {path: rates for path, rates in decay_table(self.model, study_regs).items() if rates.any()}
        self.decays = [(v, keras.Variable(np.zeros((k,) + (1,) * (len(v.shape) - 1), "float32"), trainable=False))
                       for v in self.variables if v.path in decays]
        self.pooled = "pool" in x
        self.x = {split: tf.constant(array) for split, array in x.items()}
        self.y = {split: tf.constant(array, tf.float32) for split, array in y.items()}
        self.source = "pool" if self.pooled else "train"  # what the training minibatches gather from
        self.rows = {}  # split -> (K, n) rows of the pool, set by `reset` before any function is traced
        self.from_logits = bool(cfg.train.bce_from_logits)
        self.per_step = cfg.train.compiled == "step"
        self.epoch_fn = own_function(self.epoch)
        self.step_fn = own_function(self.step)
        self.score_fns = {split: own_function(self.score, split) for split in SPLITS}

    def reset(self, members: list[Member], rows: dict[str, np.ndarray] | None = None) -> None:
        """Start these members from their own initial weights, penalties, decay rates and a fresh optimizer;
        `rows`: their own rows of the pool (a stack with a pool)."""
        from weightreg.trainers.stacked_models import build_stacked_text_model

        self.seeds = [m.seed for m in members]
        if self.pooled:
            import tensorflow as tf

            self.train_rows = rows["train"]
            for split in REDRAWN:
                if split not in self.rows:
                    self.rows[split] = tf.Variable(rows[split], trainable=False)
                self.rows[split].assign(rows[split])
        fresh = build_stacked_text_model(self.cfg.model, self.cfg.data, self.seeds, {})
        fresh(np.zeros((self.k, 1, *self.x["train"].shape[1:]), self.x["train"].dtype.as_numpy_dtype))
        for variable, value in zip(self.model.weights, fresh.weights, strict=True):
            variable.assign(value)
        regs = penalty_specs(members)
        _, tables = placed(regs)
        for name, penalty in self.penalties.items():
            penalty.l1.assign(tables[name][0][0])
            penalty.l2.assign(tables[name][1][0])
        rates = decay_table(self.model, regs)
        for variable, rate in self.decays:
            rate.assign(rates[variable.path].reshape(rate.shape))
        for variable, value in zip(self.optimizer.variables, self.fresh_optimizer, strict=True):
            variable.assign(value)

    def penalty(self):
        import tensorflow as tf

        losses = self.model.losses  # one (K,) vector per penalized weight or activity
        return tf.add_n(losses) if losses else tf.zeros((self.k,))

    def step(self, index):
        """One minibatch for every member; index (K, B): each member's own examples. An embedding table's
        gradient is the tf.IndexedSlices of its tf.gather (one slice per looked-up word), which Keras's Adam
        treats as it does for a single Embedding."""
        import tensorflow as tf

        x, y = tf.gather(self.x[self.source], index), tf.gather(self.y[self.source], index)
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)[..., 0]
            loss = member_loss(y, logits, self.from_logits) + self.penalty()
            objective = tf.reduce_sum(loss)
        self.update(tape.gradient(objective, self.variables))
        return loss, member_accuracy(y, logits)

    def update(self, gradients):
        import tensorflow as tf

        learning_rate = tf.cast(self.optimizer.learning_rate, tf.float32)
        for variable, rate in self.decays:  # decoupled weight decay first, as keras.optimizers.AdamW applies it
            variable.assign(variable - variable * rate * learning_rate)
        self.optimizer.apply(gradients, self.variables)

    def run_epoch(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One epoch in one XLA function, or (train.compiled=step) one XLA function per minibatch."""
        if not self.per_step:
            return tuple(np.asarray(v) for v in self.epoch_fn(order))
        batch, n = int(self.cfg.train.batch_size), order.shape[1]
        totals = [np.zeros(self.k, np.float32), np.zeros(self.k, np.float32)]
        for start in range(0, n, batch):
            index = order[:, start : start + batch]
            loss, accuracy = self.step_fn(index)
            totals[0] += np.asarray(loss) * np.float32(index.shape[1])
            totals[1] += np.asarray(accuracy) * np.float32(index.shape[1])
        return totals[0] / np.float32(n), totals[1] / np.float32(n)

    def epoch(self, order):
        """One epoch; order (K, N): each member's permutation. Returns batch-size-weighted mean train
        loss (penalty included) and accuracy per member, as Keras's fit reports them."""
        import tensorflow as tf

        batch = int(self.cfg.train.batch_size)
        n = int(order.shape[1])
        full, rest = batch_bounds(n, batch)
        totals = (tf.zeros((self.k,)), tf.zeros((self.k,)))
        for b in tf.range(full):
            loss, accuracy = self.step(tf.slice(order, [0, b * batch], [self.k, batch]))
            totals = (totals[0] + loss * batch, totals[1] + accuracy * batch)
        if rest:
            loss, accuracy = self.step(order[:, full * batch :])
            totals = (totals[0] + loss * rest, totals[1] + accuracy * rest)
        return totals[0] / n, totals[1] / n

    def score(self, split: str):
        """Logits (K, N) of a split in batches of train.batch_size, and the batch-size-weighted sum of the
        per-batch penalty (an activity penalty depends on the batch, as in Keras's evaluate). Where the study
        redraws its split, each member scores its own rows of the pool."""
        import tensorflow as tf

        if self.pooled and split in REDRAWN:
            rows = self.rows[split]

            def chunk(start, size):  # (K, size, ...): each member's own rows
                return tf.gather(self.x["pool"], tf.slice(rows, [0, start], [self.k, size]))

            return self.in_batches(int(rows.shape[1]), chunk)
        x = self.x[split]

        def chunk(start, size):  # (K, size, ...): the same rows for every member
            part = tf.slice(x, tf.concat([[start], tf.zeros(len(x.shape) - 1, tf.int32)], 0), [size, *x.shape[1:]])
            return tf.broadcast_to(part[None], (self.k, *part.shape))

        return self.in_batches(int(x.shape[0]), chunk)

    def in_batches(self, n: int, chunk: Callable):
        """`score` over n examples, `chunk(start, size)` giving each batch's inputs."""
        import tensorflow as tf

        batch = int(self.cfg.train.batch_size)
        full, rest = batch_bounds(n, batch)

        def forward(inputs, size: int):
            return self.model(inputs, training=False)[..., 0], self.penalty() * float(size)

        parts = tf.TensorArray(tf.float32, size=full, element_shape=(self.k, batch))
        penalty = tf.zeros((self.k,))
        for b in tf.range(full):
            logits, weighted = forward(chunk(b * batch, batch), batch)
            parts = parts.write(b, logits)
            penalty += weighted
        logits = tf.reshape(tf.transpose(parts.stack(), (1, 0, 2)), (self.k, full * batch))
        if rest:
            last, weighted = forward(chunk(full * batch, rest), rest)
            logits, penalty = tf.concat([logits, last], axis=1), penalty + weighted
        return logits, penalty

    def orders(self, epoch: int) -> np.ndarray:
        """Each member's epoch permutation (drawn from (seed, epoch)) of its training rows."""
        n = int(self.train_rows.shape[1] if self.pooled else self.x["train"].shape[0])
        order = np.stack([np.random.default_rng([seed, epoch]).permutation(n) for seed in self.seeds]).astype(np.int32)
        return np.take_along_axis(self.train_rows, order, axis=1) if self.pooled else order

    def validation(self) -> tuple[np.ndarray, np.ndarray, object]:
        """Validation loss (penalty included, as Keras's fit reports it), accuracy, and the logits."""
        logits, penalty = self.score_fns["val"]()
        y = self.labels("val")
        return (np.asarray(member_loss(y, logits, self.from_logits) + penalty / y.shape[1]), np.asarray(member_accuracy(y, logits)),
                logits)

    def labels(self, split: str):
        import tensorflow as tf

        if self.pooled and split in REDRAWN:
            return tf.gather(self.y["pool"], self.rows[split])
        return tf.broadcast_to(self.y[split][None], (self.k, self.y[split].shape[0]))

    def state(self) -> list[np.ndarray]:
        return [np.asarray(v) for v in self.model.weights + self.optimizer.variables]

    def restore(self, arrays: list[np.ndarray]) -> None:
        for variable, value in zip(self.model.weights + self.optimizer.variables, arrays):
            variable.assign(value)


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
