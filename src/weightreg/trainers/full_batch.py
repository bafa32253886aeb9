"""Moons' compiled full-batch trainer: a stack of K MLPs (or one keras.Sequential per member) trained by one
XLA-compiled Adam loop over the whole training draw each epoch, as the tutorial's model.fit with batch_size=30.

    trained = train_stacked_in_chunks(cfg, members, arrays)     # train.ensemble: true
    trained = train_single(cfg, members, arrays)                # train.ensemble: false, the reference path
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from omegaconf import DictConfig

from weightreg.config import Placement
from weightreg.errors import ConfigError
from weightreg.members import (SPLITS, Member, Trained, chunk_bounds, joined, member_accuracy, member_loss, own_function,
                               penalty_specs, train_stacks, training_progress, weight_norms)
from weightreg.trainers.optimizers import make_optimizer, optimizer_spec


def compiled_fit(forward: Callable, variables: list, penalty: Callable, data: dict, train: DictConfig,
                 schedule: Callable | None = None) -> Callable[[Callable | None], tuple[np.ndarray, float]]:
    """A compiled full-batch Adam trainer: `run(advance)` trains for `train.epochs` epochs in blocks of about
    EPOCHS_PER_CALL epochs from a fresh optimizer, calling `advance(member_epochs)` after each block (the
    progress bar). Built once, it is rerun for each stack of the same shape: what differs between stacks
    (weights, penalty coefficients, the tf.Variables in `data`) is assigned, never traced again.

    forward(x: (K, N, d)) -> logits (K, N); penalty() -> scalar sum of all members' penalties.
    `run` returns the learning curves, shape (n_records, 4 metrics HISTORY_COLUMNS, K), and fit seconds;
    `run.score(x, y)` gives each member's loss, accuracy and logits (compiled once per split's shape).
    Train metrics come from each epoch's forward pass before its update (as Keras's fit reports
    them); validation metrics after the update (as Keras's validation_data).
    """
    import tensorflow as tf

    n_train = data["x_train"].shape[1]
    if train.batch_size < n_train:
        raise ConfigError(
            f"train.batch_size={train.batch_size}: the compiled trainer takes full batches; expected >= n_train ({n_train})"
        )
    x_train, y_train, x_val, y_val = (data[name] for name in ("x_train", "y_train", "x_val", "y_val"))
    from_logits = bool(train.bce_from_logits)
    optimizer = make_optimizer(optimizer_spec(train))  # Adam: the schema refuses any other optimizer on moons
    optimizer.build(variables)
    fresh = [np.asarray(v) for v in optimizer.variables]
    every, epochs = int(train.history_every), int(train.epochs)
    n_records = (epochs - 1) // every + 1
    n_members = int(x_train.shape[0])

    def metrics(x, y):
        z = forward(x)
        return member_loss(y, z, from_logits), member_accuracy(y, z)

    def step(epoch):
        if schedule is not None:
            schedule(epoch)
        with tf.GradientTape() as tape:
            z = forward(x_train)
            loss = member_loss(y_train, z, from_logits)
            objective = tf.reduce_sum(loss) + penalty()
        optimizer.apply(tape.gradient(objective, variables), variables)
        return loss, member_accuracy(y_train, z)

    @own_function  # XLA fuses the many small element-wise ops of a step
    def block(first_record, count):  # count: a Python int, so at most two traces (full and last block)
        history = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            first = (first_record + i) * every
            train_loss, train_accuracy = step(first)
            val_loss, val_accuracy = metrics(x_val, y_val)
            history = history.write(i, tf.stack([train_loss, train_accuracy, val_loss, val_accuracy]))
            epoch = first + 1
            while epoch < tf.minimum(first + every, epochs):  # a while, not tf.range: XLA needs static ranges
                step(epoch)
                epoch += 1
        return history.stack()

    def run(advance: Callable[[int], object] | None = None) -> tuple[np.ndarray, float]:
        for variable, value in zip(optimizer.variables, fresh, strict=True):
            variable.assign(value)
        start = time.perf_counter()
        per_call = max(1, EPOCHS_PER_CALL // every)
        blocks = []
        for first in range(0, n_records, per_call):
            count = min(per_call, n_records - first)
            blocks.append(block(tf.constant(first), count).numpy())
            if advance is not None:
                advance(n_members * (min((first + count) * every, epochs) - first * every))
        return np.concatenate(blocks), time.perf_counter() - start

    @own_function  # XLA as in `block`: a member's numbers do not depend on its place in the stack
    def score(x, y):
        z = forward(x)
        return member_loss(y, z, from_logits), member_accuracy(y, z), z

    run.block = block  # the one traced function, so that a test can count its traces
    run.score = score
    return run


EPOCHS_PER_CALL = 500  # a compiled call's share of the epochs: about a second per stack, then progress is shown


def evaluate(score: Callable, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Final loss and accuracy of every member on train, validation and test data (model.evaluate's
    numbers) by a compiled_fit's `score`, and `correct` (K, n_test): which test points each member classifies correctly."""
    import tensorflow as tf

    out = {}
    for split in SPLITS:
        loss, accuracy, z = score(tf.constant(arrays[f"x_{split}"], tf.float32), tf.constant(arrays[f"y_{split}"], tf.float32))
        out[f"{split}/loss"] = np.asarray(loss)
        out[f"{split}/accuracy"] = np.asarray(accuracy)
    out["correct"] = (np.asarray(z) > 0) == arrays["y_test"].astype(bool)
    return out


class FullBatchStack:
    """The compiled full-batch trainer for stacks of K moons members, built (traced and compiled) once per K
    and reused for every chunk of that size (`train`), so that a study compiles once, not once per stack.

    study_regs: every member's spec in the study, so that the stack has a penalty (zero where a member has
    none) and a schedule phase wherever any member does, and its graph is the same for every chunk.
    """

    DATA = ("x_train", "y_train", "x_val", "y_val")

    def __init__(self, cfg: DictConfig, k: int, study_regs: list[dict], arrays: dict[str, np.ndarray]):
        import tensorflow as tf

        from weightreg.trainers.stacked_models import build_stacked_mlp
        from weightreg.regularizers import MemberwiseL1L2, coefficient_tables, member_phases

        self.cfg, self.k = cfg, k
        self.phases = member_phases(study_regs)
        placed = [p.value for p in Placement if any(table.any() for table in coefficient_tables(study_regs, p, self.phases))]
        self.penalties = {name: MemberwiseL1L2(np.zeros(k), np.zeros(k)) for name in placed}
        self.tables = {name: (tf.Variable(np.zeros((len(self.phases), k), np.float32), trainable=False),
                              tf.Variable(np.zeros((len(self.phases), k), np.float32), trainable=False)) for name in placed}
        self.model = build_stacked_mlp(cfg.model, list(range(k)), self.penalties)
        self.model.build((k, None, arrays["x_train"].shape[-1]))
        self.data = {name: tf.Variable(np.zeros((k, *arrays[name].shape[1:]), np.float32), trainable=False) for name in self.DATA}
        self.boundaries = tf.constant(self.phases, tf.int64)
        # a graph, not XLA: the same arithmetic as eager (bitwise), without eager's per-op cost on the surface grid
        self.probabilities = own_function(lambda x: tf.math.sigmoid(self.forward(x)), jit_compile=False)
        self.run = compiled_fit(self.forward, self.model.trainable_variables, self.penalty, self.data, cfg.train,
                                self.schedule if len(self.phases) > 1 else None)

    def forward(self, x):
        return self.model(x, training=True)[..., 0]  # logits

    def penalty(self):
        import tensorflow as tf

        losses = self.model.losses  # one (K,) vector per penalized weight or activity
        return tf.reduce_sum(tf.add_n(losses)) if losses else tf.constant(0.0)

    def schedule(self, epoch):
        import tensorflow as tf

        phase = tf.searchsorted(self.boundaries, tf.cast(epoch, tf.int64)[None], side="right")[0] - 1
        for name, (l1, l2) in self.tables.items():  # gather, not l1[phase]: XLA compiles a slice once per index value
            self.penalties[name].l1.assign(tf.gather(l1, phase))
            self.penalties[name].l2.assign(tf.gather(l2, phase))

    def reset(self, members: list[Member], arrays: dict[str, np.ndarray]) -> None:
        """These members' initial weights (as build_stacked_mlp draws them), penalty tables and data."""
        from weightreg.trainers.stacked_models import build_stacked_mlp
        from weightreg.regularizers import coefficient_tables

        fresh = build_stacked_mlp(self.cfg.model, [m.seed for m in members], {})
        fresh.build((self.k, None, arrays["x_train"].shape[-1]))
        for variable, value in zip(self.model.trainable_variables, fresh.trainable_variables, strict=True):
            variable.assign(value)
        regs = penalty_specs(members)
        for name, (l1, l2) in self.tables.items():
            l1_table, l2_table = coefficient_tables(regs, Placement(name), self.phases)
            l1.assign(l1_table)
            l2.assign(l2_table)
            self.penalties[name].l1.assign(l1_table[0])
            self.penalties[name].l2.assign(l2_table[0])
        for name in self.DATA:
            self.data[name].assign(arrays[name].astype(np.float32))

    def train(self, members: list[Member], arrays: dict[str, np.ndarray], advance: Callable | None = None) -> Trained:
        import keras

        self.reset(members, arrays)
        history, seconds = self.run(advance)
        final = evaluate(self.run.score, arrays)
        correct = final.pop("correct")
        kernels = {layer.name: keras.ops.convert_to_numpy(layer.kernel) for layer in self.model.layers}
        final.update(weight_norms(kernels))
        weights = [np.asarray(v) for v in self.model.trainable_variables]

        def predict(x):  # these members' weights, put back into the (shared) stack
            for variable, value in zip(self.model.trainable_variables, weights, strict=True):
                variable.assign(value)
            return self.probabilities(x)

        return Trained(history, final, np.full(len(members), seconds / len(members)), predict, correct, self.cfg.train.history_every)


def train_stacked(cfg: DictConfig, members: list[Member], arrays, advance: Callable | None = None) -> Trained:
    """One stack of all `members`, compiled for them."""
    return FullBatchStack(cfg, len(members), penalty_specs(members), arrays).train(members, arrays, advance)


def train_stacked_in_chunks(cfg: DictConfig, members: list[Member], arrays) -> Trained:
    """Stacks of at most train.max_stack members, train.parallel_stacks at a time, one compiled trainer per stack size
    (and worker), joined along the member axis."""
    bounds = chunk_bounds(len(members), cfg.train.max_stack)
    regs = penalty_specs(members)
    with training_progress(members, cfg.train.epochs, f"{cfg.study}: {len(bounds)} stack(s) of <= {cfg.train.max_stack} runs") as bar:
        parts = train_stacks(bounds, cfg.train.parallel_stacks, lambda k: FullBatchStack(cfg, k, regs, arrays),
                             lambda stack, a, b: stack.train(members[a:b], {name: value[a:b] for name, value in arrays.items()}, bar.update))
    if len(parts) == 1:
        return parts[0]
    sizes = np.cumsum([len(p.fit_seconds) for p in parts])[:-1]

    def predict(x):
        return np.concatenate([np.asarray(p.predict(chunk)) for p, chunk in zip(parts, np.split(x, sizes))])

    return joined(parts, predict)


def train_single(cfg: DictConfig, members: list[Member], arrays) -> Trained:
    """One plain keras.Sequential per member, trained by the same compiled loop (ensemble off)."""
    import keras
    import tensorflow as tf

    from weightreg.models import build_mlp

    histories, finals, seconds, models = [], [], [], []
    bar = training_progress(members, cfg.train.epochs, f"{cfg.study}: runs one by one")
    for k, member in enumerate(members):
        model = build_mlp(cfg.model, member.condition.regularizer, member.seed, arrays["x_train"].shape[-1], output_activation="linear")
        one = {name: value[k : k + 1] for name, value in arrays.items()}

        def forward(x, model=model):
            return model(x[0], training=True)[None, :, 0]  # logits

        def penalty(model=model):
            return tf.add_n(model.losses) if model.losses else tf.constant(0.0)

        run = compiled_fit(forward, model.trainable_variables, penalty,
                           {name: tf.constant(one[name], tf.float32) for name in FullBatchStack.DATA}, cfg.train)
        history, fit_seconds = run(bar.update)
        final = evaluate(run.score, one)
        kernels = {layer.name: keras.ops.convert_to_numpy(layer.kernel)[None] for layer in model.layers}
        final.update(weight_norms(kernels))
        histories.append(history)
        finals.append(final)
        seconds.append(fit_seconds)
        models.append(model)
    bar.close()

    def predict(x):
        return tf.math.sigmoid(tf.concat([m(x[k])[None, :, 0] for k, m in enumerate(models)], axis=0))

    final = {key: np.concatenate([f[key] for f in finals]) for key in finals[0]}
    correct = final.pop("correct")
    return Trained(np.concatenate(histories, axis=-1), final, np.asarray(seconds), predict, correct, cfg.train.history_every)
