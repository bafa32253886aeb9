"""Train every condition x variation x seed of a study; write one tidy row per run.

    python -m weightreg.train experiment=moons_case_study seed=3 n_seeds=1
    python -m weightreg.train -m seed=0,100 regularizer=l1,l2          # Hydra multirun
    python -m weightreg.train stage moons_case_study --data data/moons_case_study.npz --out results/moons_case_study

The last form is the DVC stage: it runs on exactly the params DVC tracked in params.yaml, never on a
re-composition of conf/ (which would ignore `dvc exp run -S`, treeverse/dvc #10186). Both forms call
`run_study`, the one training entry.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from weightreg.errors import ConfigError

from weightreg.config import BASELINE, Architecture, Dataset, Penalty, Placement, config_hash, from_mapping, penalty_pair
from weightreg.members import (HISTORY_COLUMNS, SPLITS, Member, Trained, chunk_bounds, confusion, joined, member_accuracy,
                               member_arrays, member_loss, own_function, penalty_specs, seed_everything, study_members,
                               text_split, train_stacks, training_progress, weight_norms)


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
    import keras
    import tensorflow as tf

    n_train = data["x_train"].shape[1]
    if train.batch_size < n_train:
        raise ConfigError(
            f"train.batch_size={train.batch_size}: the compiled trainer takes full batches; expected >= n_train ({n_train})"
        )
    x_train, y_train, x_val, y_val = (data[name] for name in ("x_train", "y_train", "x_val", "y_val"))
    from_logits = bool(train.bce_from_logits)
    optimizer = keras.optimizers.Adam(learning_rate=train.learning_rate)
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

    def __init__(self, cfg: DictConfig, k: int, study_regs: list[DictConfig], arrays: dict[str, np.ndarray]):
        import tensorflow as tf

        from weightreg.models import build_stacked_mlp
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
        from weightreg.models import build_stacked_mlp
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


def make_optimizer(train: DictConfig, reg: DictConfig | None = None, model=None):
    """The configured optimizer; AdamW where the condition asks for decoupled weight decay, decaying only
    the weights its placement names (the same weights an L2 penalty there would reach)."""
    import keras

    decay = reg.get("weight_decay", 0.0) if reg is not None else 0.0
    if decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate=train.learning_rate, weight_decay=decay)
        decayed = {id(w) for w in decayed_weights(model, reg)}
        optimizer.exclude_from_weight_decay(var_list=[w for w in model.trainable_weights if id(w) not in decayed])
        return optimizer
    return {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[train.optimizer](learning_rate=train.learning_rate)


def decayed_weights(model, reg: DictConfig) -> list:
    """The weights that `reg.placement` names in a built text model: hidden kernels (Dense, Conv1D, the
    LSTM's input kernel), the output kernel, recurrent kernels, biases of the hidden layers."""
    placed = {Placement(p) for p in reg.placement}
    chosen = []
    for layer in model.layers:
        output = layer.name == "output"
        for w in layer.trainable_weights:
            name = w.name
            if (name == "kernel" and ((output and Placement.output in placed) or (not output and Placement.kernel in placed))
                    or name == "recurrent_kernel" and Placement.recurrent in placed
                    or name == "bias" and not output and Placement.bias in placed):
                chosen.append(w)
    return chosen


FIT_LOGS = ("loss", "accuracy", "val_loss", "val_accuracy")  # Keras's names for HISTORY_COLUMNS


def fit_epochs(model, x, y, validation, train: DictConfig, seed: int, checkpoint: Path | None,
               advance: Callable[[int], object] = lambda epochs: None):
    """model.fit one epoch at a time; returns the model and its (epochs, 4) learning curves.

    Each epoch's minibatch order is drawn from (seed, epoch), so a run resumed from its checkpoint (the
    model with its optimizer state and the curves so far, saved atomically after every epoch) is the same
    run as one never stopped.
    """
    import keras

    from weightreg.artifacts import atomic_dir

    logs = []
    if checkpoint is not None and (checkpoint / "model.keras").is_file():
        model = keras.models.load_model(checkpoint / "model.keras")
        logs = json.loads((checkpoint / "history.json").read_text())
        advance(len(logs))
    for epoch in range(len(logs), train.epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(y))
        fitted = model.fit(x[order], y[order], batch_size=train.batch_size, epochs=1, shuffle=False,
                           validation_data=validation, verbose=0)
        logs.append([float(fitted.history[name][0]) for name in FIT_LOGS])
        if checkpoint is not None:
            with atomic_dir(checkpoint) as tmp:
                model.save(tmp / "model.keras")
                (tmp / "history.json").write_text(json.dumps(logs))
        advance(1)
    return model, np.asarray(logs, dtype=np.float32)


def train_fit(cfg: DictConfig, members: list[Member], data: dict[str, np.ndarray],
              checkpoints: Path | None = None) -> Trained:
    """IMDB: one Keras model per member trained by model.fit in minibatches, the validation split carved
    from the training reviews as validation data (seed 003 used the test split; here the test split is
    scored once, after training); every epoch's train and validation loss and accuracy are kept. With
    `checkpoints`, each member resumes from `checkpoints/<condition>__<seed>` if an earlier run was stopped."""
    import keras

    from weightreg.models import build_text_model, logits_model

    histories, finals, seconds, corrects = [], [], [], []
    bar = training_progress(members, cfg.train.epochs, f"{cfg.study}: runs one by one (model.fit)")
    for member in members:
        x, y = text_split(data, cfg.model, member.data_seed)
        reg = member.condition.regularizer
        keras.utils.set_random_seed(member.seed)  # initial weights
        model = build_text_model(cfg.model, reg, member.seed, cfg.data)
        model.compile(optimizer=make_optimizer(cfg.train, reg, model), loss="binary_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        checkpoint = checkpoints / f"{member.condition.name}__{member.seed}" if checkpoints is not None else None
        model, history = fit_epochs(model, x["train"], y["train"], (x["val"], y["val"]), cfg.train, member.seed, checkpoint, bar.update)
        seconds.append(time.perf_counter() - start)
        histories.append(history)
        final = {}
        to_logits = logits_model(model)
        for split in SPLITS:  # one pass each, no penalty in the loss; the test split's only use
            logits = to_logits.predict(x[split], batch_size=1000, verbose=0)[None, :, 0]
            final[f"{split}/loss"] = member_loss(y[split][None], logits, cfg.train.bce_from_logits)
            final[f"{split}/accuracy"] = member_accuracy(y[split][None], logits)
        corrects.append((logits[0] > 0) == y["test"].astype(bool))
        final.update(confusion(y["test"], logits[0]))
        kernels = {f"{layer.name}.{w.name}": keras.ops.convert_to_numpy(w)[None] for layer in model.layers
                   for w in layer.trainable_weights if w.name in ("kernel", "recurrent_kernel")}
        final.update(weight_norms(kernels))
        finals.append({k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in final.items()})
    bar.close()
    final = {key: np.concatenate([f[key] for f in finals]) for key in finals[0]}
    return Trained(np.stack(histories, axis=-1), final, np.asarray(seconds), None, np.stack(corrects), every=1)


def decision_surfaces(predict: Callable, members: list[Member], grid: np.ndarray, chunk: int = 200) -> pd.DataFrame:
    """Mean predicted probability over seeds on `grid` (G, 2), per condition and variation."""
    return surface_table(surface_probabilities(predict, len(members), grid, chunk), members, grid)


def surface_probabilities(predict: Callable, k: int, grid: np.ndarray, chunk: int = 200) -> np.ndarray:
    """(k, G): each of k members' predicted probability on `grid` (G, 2), `chunk` points at a time."""
    return np.concatenate(
        [np.asarray(predict(np.broadcast_to(grid[i : i + chunk], (k, *grid[i : i + chunk].shape)).astype(np.float32)))
         for i in range(0, len(grid), chunk)],
        axis=1,
    )


def surface_table(probabilities: np.ndarray, members: list[Member], grid: np.ndarray) -> pd.DataFrame:
    """Mean of `probabilities` (K, G) over seeds, per condition and variation, in long form."""
    keys = pd.DataFrame([(m.condition.name, m.variation) for m in members], columns=["condition", "variation"])
    rows = []
    for (condition, variation), index in keys.groupby(["condition", "variation"], sort=False).groups.items():
        mean = probabilities[np.asarray(index)].mean(axis=0)
        rows.append(pd.DataFrame({"condition": condition, "variation": variation, "x": grid[:, 0], "y": grid[:, 1], "probability": mean}))
    return pd.concat(rows, ignore_index=True)


def surface_grid(draws: dict[str, np.ndarray], steps: int = 60) -> np.ndarray:
    points = np.concatenate([draws["x_train"].reshape(-1, 2), draws["x_test"].reshape(-1, 2)])
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], steps), np.linspace(low[1], high[1], steps))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def diverged_members(trained: Trained) -> np.ndarray:
    """(K,) True where a member's loss or weights stopped being finite at any recorded point."""
    finite_history = np.isfinite(trained.history).all(axis=(0, 1))
    finite_final = np.all([np.isfinite(values) for key, values in trained.final.items() if "accuracy" not in key], axis=0)
    return ~(finite_history & finite_final)


def run_table(cfg: DictConfig, members: list[Member], trained: Trained) -> pd.DataFrame:
    """One row per run, the columns every study shares."""
    rows = []
    diverged = diverged_members(trained)
    for k, member in enumerate(members):
        reg = member.condition.regularizer
        l1, l2 = penalty_pair(reg)
        decay = float(reg.get("weight_decay", 0.0))
        metrics = {key: np.nan if diverged[k] else float(values[k]) for key, values in trained.final.items()}
        rows.append(
            {
                "study": cfg.study,
                "condition": member.condition.name,
                "model": Architecture(cfg.model.name).value,
                "regularizer": "weight_decay" if decay > 0 else Penalty(reg.kind).value,
                # l1_l2: the l2 part, with l1 beside it; weight decay: its decay rate
                "strength": decay if decay > 0 else (l1 if reg.kind == "l1" else l2),
                "l1": l1,
                "l2": l2,
                "weight_decay": decay,
                "placement": "+".join(Placement(p).value for p in reg.placement) if member.condition.name != BASELINE else "",
                "schedule": bool(len(reg.schedule)),
                "seed": member.seed,
                "data_seed": member.data_seed,
                "variation": member.variation,
                "epochs": cfg.train.epochs,
                "test/n": int(trained.correct.shape[1]),  # test points: accuracy moves in steps of 1/test/n
                "diverged": bool(diverged[k]),  # its metrics are left empty: nothing that could pass for a result
                **metrics,
            }
        )
    return pd.DataFrame(rows)


def history_table(members: list[Member], trained: Trained) -> pd.DataFrame:
    """Learning curves in long form: condition, variation, seed, epoch, metric, value."""
    n_records, n_metrics, k = trained.history.shape
    epochs = np.arange(n_records) * trained.every + 1
    frame = pd.DataFrame(
        {
            "condition": np.tile([m.condition.name for m in members], n_records * n_metrics),
            "variation": np.tile([m.variation for m in members], n_records * n_metrics),
            "seed": np.tile([m.seed for m in members], n_records * n_metrics),
            "epoch": np.repeat(epochs, n_metrics * k),
            "metric": np.tile(np.repeat(HISTORY_COLUMNS, k), n_records),
            "value": trained.history.reshape(-1),
        }
    )
    return frame


def train(cfg: DictConfig, draws: dict[str, np.ndarray], checkpoints: Path | None = None,
          wanted: Callable[[Member], bool] | None = None) -> dict[str, pd.DataFrame]:
    """Train a whole study on its data draws; return its tables (runs, histories, surfaces).

    wanted: train only the members it accepts, each inside the stack it is trained in as part of the whole
    study (so its numbers are the study's own): verify's re-run of a sample.
    """
    from weightreg.cluster import settings_from_environment, train_on_slurm

    seed_everything(cfg.seed, cfg.train.threads)
    members = study_members(cfg)
    slurm = settings_from_environment()  # WEIGHTREG_LAUNCHER: where the stacks train (never what they compute)
    if slurm is not None and wanted is None:
        trained, probabilities, launcher = train_on_slurm(cfg, draws, checkpoints, slurm)
        return study_tables(cfg, members, [(0, len(members), trained)], wanted, draws, probabilities) | {"launcher": launcher}
    if cfg.data.name == Dataset.imdb:
        from weightreg.minibatch import train_text_stacked

        text_trainer = train_text_stacked if cfg.train.ensemble else train_fit

        def trainer(a: int, b: int) -> Trained:
            return text_trainer(cfg, members[a:b], draws, checkpoints)
    else:
        arrays = member_arrays(draws, members)
        moons_trainer = train_stacked_in_chunks if cfg.train.ensemble else train_single

        def trainer(a: int, b: int) -> Trained:
            return moons_trainer(cfg, members[a:b], {name: value[a:b] for name, value in arrays.items()})
    parts = [(a, b, trainer(a, b)) for a, b in trained_parts(cfg, members, wanted)]
    return study_tables(cfg, members, parts, wanted, draws)


def study_tables(cfg: DictConfig, members: list[Member], parts: list[tuple[int, int, Trained]],
                 wanted: Callable[[Member], bool] | None, draws: dict[str, np.ndarray],
                 probabilities: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """A study's tables from its trained member ranges; `probabilities`: its moons surface probabilities where
    they were computed elsewhere (a SLURM job), else they come from the trained stack's `predict`."""
    tables = {"runs": pd.concat([run_table(cfg, members[a:b], trained) for a, b, trained in parts], ignore_index=True),
              "histories": pd.concat([history_table(members[a:b], trained) for a, b, trained in parts], ignore_index=True),
              "correct": np.concatenate([trained.correct for _, _, trained in parts]),
              "fit_seconds": np.concatenate([trained.fit_seconds for _, _, trained in parts])}
    if cfg.data.name == Dataset.imdb or wanted is not None:
        tables["surfaces"] = pd.DataFrame(columns=["condition", "variation", "x", "y", "probability"])
    else:
        [(_, _, trained)] = parts
        grid = surface_grid(draws)
        if probabilities is None:
            probabilities = surface_probabilities(trained.predict, len(members), grid)
        tables["surfaces"] = surface_table(probabilities, members, grid)
    return tables


def trained_parts(cfg: DictConfig, members: list[Member], wanted: Callable[[Member], bool] | None) -> list[tuple[int, int]]:
    """Member ranges to train: the whole study at once; with `wanted`, each stack holding a wanted member (stacked
    trainers: the stacks of the whole study's split) or each wanted member alone (one model per member)."""
    if wanted is None:
        return [(0, len(members))]
    index = [i for i, m in enumerate(members) if wanted(m)]
    if not cfg.train.ensemble:
        return [(i, i + 1) for i in index]
    return [(a, b) for a, b in chunk_bounds(len(members), cfg.train.max_stack) if any(a <= i < b for i in index)]


TRAINERS = {
    ("moons", True): "stacked: the compiled full-batch stack (weightreg.train)",
    ("moons", False): "single: one keras.Sequential per seed through the compiled full-batch loop (weightreg.train)",
    ("imdb", True): "stacked: the minibatch text stacks (weightreg.minibatch)",
    ("imdb", False): "fit: one keras.Model per seed, model.fit one epoch at a time (weightreg.train)",
}


def trainer_name(cfg: DictConfig) -> str:
    """Which trainer a built-in study's members train on, as run.json records it."""
    return TRAINERS[(Dataset(cfg.data.name).value, bool(cfg.train.ensemble))]


def write_study(tables: dict[str, pd.DataFrame], cfg: DictConfig, out_dir: str | Path, wall_seconds: float,
                trainer: str | None = None, record: dict | None = None) -> None:
    """Write a study's tables, each atomically, then its run record (resolved config, seeds, versions, and
    any further `record` fields)."""
    from weightreg.artifacts import CORRECT_FILE, atomic_path, library_versions, machine, save_correct, write_json

    out_dir = Path(out_dir)
    for name, filename in (("runs", "runs.csv"), ("histories", "histories.csv.gz"), ("surfaces", "surfaces.csv.gz")):
        text = tables[name].to_csv(index=False).encode()
        with atomic_path(out_dir / filename) as tmp:
            # gzip.compress stores no file name (pandas would store the random temporary one) and mtime 0: an identical
            # rerun writes identical bytes, so DVC reruns nothing downstream
            tmp.write_bytes(gzip.compress(text, mtime=0) if filename.endswith(".gz") else text)
    save_correct(tables["correct"], out_dir / CORRECT_FILE)
    write_json(
        {
            "study": cfg.study,
            "trainer": trainer or trainer_name(cfg),
            "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
            "config_hash": config_hash(cfg),
            "seeds": list(range(cfg.seed, cfg.seed + cfg.n_seeds)),
            "versions": library_versions(),
            "machine": machine(),
            "determinism": {"op_determinism": True, "threads": cfg.train.threads, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED")},
            "wall_seconds": wall_seconds,
            # seconds of training per run, in runs.csv's row order: the clock lives here, so that an identical
            # rerun leaves runs.csv bitwise equal and nothing downstream reruns
            "fit_seconds": [round(float(s), 3) for s in tables["fit_seconds"]],
            **(record or {}),
        },
        out_dir / "run.json",
    )


def checkpoint_dir(root: Path, cfg: DictConfig) -> Path:
    """Where a study's per-epoch checkpoints wait until its result is written (keyed by its config)."""
    return root / ".checkpoints" / f"{cfg.study}-{config_hash(cfg)}"


def run_study(cfg: DictConfig, draws: dict[str, np.ndarray], out_dir: str | Path, checkpoints: Path) -> pd.DataFrame:
    """The one training entry (DVC stage and command line): train, then write every table into `out_dir` at once
    (a folder that appears complete or not at all); resumes from `checkpoints` if an earlier run was stopped."""
    from weightreg.artifacts import atomic_dir

    start = time.perf_counter()
    tables = train(cfg, draws, checkpoints)
    with atomic_dir(out_dir) as tmp:
        write_study(tables, cfg, tmp, time.perf_counter() - start,
                    record={"launcher": tables["launcher"]} if "launcher" in tables else None)  # where SLURM ran the stacks
    shutil.rmtree(checkpoints, ignore_errors=True)
    return tables["runs"]


def stage_main(argv: list[str]) -> None:
    """The DVC stage: `studies.<study>` of params.yaml, on the data file the data stage wrote."""
    import argparse

    from weightreg.config import load_params, resolve_study
    from weightreg.data import load_draws
    from weightreg.errors import run_stage
    from weightreg.refine import apply_refinement

    parser = argparse.ArgumentParser(prog="python -m weightreg.train stage", description="The train stage of one study.")
    parser.add_argument("study")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    def stage() -> str:
        cfg = apply_refinement(resolve_study(load_params(args.params), args.study))
        runs = run_study(cfg, load_draws(args.data, cfg), args.out, checkpoint_dir(Path("."), cfg))
        return f"train {args.study}: wrote {args.out} ({len(runs)} runs)"

    run_stage(stage)


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(composed: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from weightreg.data import make_dataset
    from weightreg.errors import exit_on_error
    from weightreg.refine import apply_refinement

    with exit_on_error():
        cfg = apply_refinement(from_mapping(composed))
        out_dir = Path(HydraConfig.get().runtime.output_dir) / f"result-{config_hash(cfg)}"
        runs = run_study(cfg, make_dataset(cfg), out_dir, checkpoint_dir(out_dir.parent, cfg))
        print(runs.groupby(["condition", "variation"])[["train/accuracy", "test/accuracy"]].mean().to_string())
        print(f"wrote {out_dir}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["stage"]:  # the DVC stage; anything else is Hydra's command line
        stage_main(sys.argv[2:])
    else:
        from weightreg.config import unknown_keys

        for line in unknown_keys(sys.argv[1:]):  # before Hydra's own message about the same override
            print(f"error: {line}", file=sys.stderr)
        main()
