"""The stacked text model of IMDB's stacked trainer: K text models (MLP, CNN or LSTM) built as one Keras model whose
member axis runs through every layer, each member with its own penalty or weight decay, and the compiled functions
that train it an epoch (or a step) at a time and score it (weightreg.trainers.text_stack trains and checkpoints it).

    stack = Stack(cfg, k, study_regs, x, y)   # built once per k, reused for every stack of k members
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from omegaconf import DictConfig

from weightreg.config import Placement
from weightreg.members import REDRAWN, SPLITS, Member, member_accuracy, member_loss, own_function, penalty_specs
from weightreg.trainers.optimizers import decay_rate, make_optimizer, optimizer_spec


def placed(regs: list[dict]) -> tuple[list[str], list]:
    """The placements some member penalizes, and their per-member (l1, l2) coefficients (constant strengths)."""
    from weightreg.errors import ConfigError
    from weightreg.regularizers import coefficient_tables, member_phases

    phases = member_phases(regs)
    if len(phases) > 1:
        raise ConfigError("regularizer.schedule: IMDB's stacked trainer takes constant strengths; expected an empty schedule")
    tables = {p.value: coefficient_tables(regs, p, phases) for p in Placement}
    return [name for name, (l1, l2) in tables.items() if l1.any() or l2.any()], tables


def decay_table(model, regs: list[dict]) -> dict[str, np.ndarray]:
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

    def __init__(self, cfg: DictConfig, k: int, study_regs: list[dict], x: dict, y: dict):
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
