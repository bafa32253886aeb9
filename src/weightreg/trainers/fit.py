"""model.fit run by run: the one fit loop (fit_epochs) and IMDB's reference trainer, one Keras model per member
(train.ensemble: false), checkpointed after every epoch.

    trained = train_fit(cfg, members, data, checkpoints=Path(".checkpoints/imdb_mlp-..."))
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import DictConfig

from weightreg.members import (SPLITS, Member, Trained, confusion, member_accuracy, member_loss, text_split,
                               training_progress, weight_norms)
from weightreg.trainers.optimizers import make_optimizer, optimizer_spec


FIT_LOGS = ("loss", "accuracy", "val_loss", "val_accuracy")  # Keras's names for HISTORY_COLUMNS


def fit_epochs(model, x, y, validation, *, epochs: int, batch_size: int, seed: int, names: tuple[str, ...] = FIT_LOGS,
               callbacks: tuple = (), checkpoint: Path | None = None, checkpoint_seconds: float = 0.0,
               advance: Callable[[int], object] = lambda epochs: None):
    """One model.fit over the run's epochs, the one fit loop of every trainer that trains run by run; returns the model,
    its (epochs, len(names)) logs (NaN after the last epoch it ran) and whether its loss stopped being finite.

    Each epoch's minibatch order is drawn from (seed, epoch) (epoch_order), so a run resumed from its checkpoint (the
    model with its optimizer state and the logs so far, saved atomically after the first epoch that ends
    `checkpoint_seconds` after the last save, and when the run ends) is the same run as one never stopped, and a
    finished run is never retrained. A run ends early when its loss stops being finite (Keras's TerminateOnNaN) or a
    callback stops it (e.g. EarlyStopping, whose patience count starts afresh when a run resumes).
    """
    import keras

    logs: list = []
    stopped = diverged = False
    if checkpoint is not None and (checkpoint / "model.keras").is_file():
        model = keras.models.load_model(checkpoint / "model.keras")
        saved = json.loads((checkpoint / "history.json").read_text())
        logs, stopped, diverged = saved["logs"], saved["stopped"], saved["diverged"]
        advance(len(logs))
    if len(logs) < epochs and not stopped:
        recorder = epoch_recorder(names, logs, epochs, checkpoint, checkpoint_seconds, advance)
        model.fit(epoch_order(x, y, batch_size, seed, first_epoch=len(logs)), epochs=epochs, initial_epoch=len(logs),
                  shuffle=False, verbose=0, validation_data=validation,
                  callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks, recorder])  # the recorder last: it sees them stop
        diverged = recorder.diverged
    padded = np.full((epochs, len(names)), np.nan, dtype=np.float32)
    padded[: len(logs)] = logs
    return model, padded, diverged


def epoch_order(x, y, batch_size: int, seed: int, first_epoch: int):
    """The training rows as a keras.utils.PyDataset whose epoch e visits them in the order drawn from (seed, e), in
    minibatches of `batch_size`; floats as model.fit(x, y) would pass them (Keras's floatx). The epoch is counted by
    `on_epoch_begin`: Keras reads a few batches for their shapes before the first epoch begins (and calls
    `on_epoch_end` after that), and those are the first epoch's."""
    import keras

    def as_floatx(array):
        array = np.asarray(array)
        return array.astype(keras.config.floatx()) if array.dtype.kind == "f" else array

    class Order(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.x, self.y = keras.tree.map_structure(as_floatx, x), as_floatx(y)
            self.epoch, self.begun = first_epoch, 0
            self.order = self.drawn()

        def drawn(self) -> np.ndarray:
            return np.random.default_rng([seed, self.epoch]).permutation(len(self.y))

        def __len__(self) -> int:
            return -(-len(self.y) // batch_size)

        def __getitem__(self, i: int):
            rows = self.order[i * batch_size : (i + 1) * batch_size]
            return keras.tree.map_structure(lambda a: a[rows], self.x), self.y[rows]

        def on_epoch_begin(self):
            self.epoch, self.begun = first_epoch + self.begun, self.begun + 1
            self.order = self.drawn()

    return Order()


def epoch_recorder(names: tuple[str, ...], logs: list, epochs: int, checkpoint: Path | None, checkpoint_seconds: float,
                   advance: Callable[[int], object]):
    """A Keras callback that appends each epoch's `names` to `logs`, checkpoints the run (see fit_epochs) and advances the
    progress bar; `diverged` once the loss stops being finite. The run's last checkpoint is written when training ends,
    after the other callbacks' own ends (EarlyStopping's restore_best_weights among them), so that it holds the
    weights the run is scored with."""
    import keras

    from weightreg.artifacts import atomic_dir

    class Recorder(keras.callbacks.Callback):
        diverged = False

        def __init__(self):
            super().__init__()
            self.saved = time.perf_counter()

        def save(self, stopped: bool) -> None:
            with atomic_dir(checkpoint) as tmp:
                self.model.save(tmp / "model.keras")
                (tmp / "history.json").write_text(json.dumps({"logs": logs, "stopped": stopped, "diverged": self.diverged}))
            self.saved = time.perf_counter()

        def on_epoch_end(self, epoch, epoch_logs=None):
            logs.append([float((epoch_logs or {}).get(name, np.nan)) for name in names])
            self.diverged = not np.isfinite(logs[-1][0])
            ending = self.model.stop_training or self.diverged or epoch == epochs - 1
            if checkpoint is not None and not ending and time.perf_counter() - self.saved >= checkpoint_seconds:
                self.save(stopped=False)
            advance(1)

        def on_train_end(self, train_logs=None):
            if checkpoint is not None:
                self.save(stopped=len(logs) < epochs)

    return Recorder()


def train_fit(cfg: DictConfig, members: list[Member], data: dict[str, np.ndarray],
              checkpoints: Path | None = None) -> Trained:
    """IMDB: one Keras model per member trained by model.fit in minibatches, the validation split carved
    from the training reviews as validation data (Albon's "Neural Network Weight Regularization" validated on the test split; here the test split is
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
        model.compile(optimizer=make_optimizer(optimizer_spec(cfg.train), reg, model), loss="binary_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        checkpoint = checkpoints / f"{member.condition.name}__{member.seed}" if checkpoints is not None else None
        model, history, _ = fit_epochs(model, x["train"], y["train"], (x["val"], y["val"]), epochs=cfg.train.epochs,
                                       batch_size=cfg.train.batch_size, seed=member.seed, checkpoint=checkpoint, advance=bar.update)
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
