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
    """model.fit one epoch at a time, the one fit loop of every trainer that trains run by run; returns the model and
    its (epochs, len(names)) logs.

    Each epoch's minibatch order is drawn from (seed, epoch), so a run resumed from its checkpoint (the model with its
    optimizer state and the logs so far, saved atomically after the first epoch that ends `checkpoint_seconds` after
    the last save, and after the run's last epoch) is the same run as one never stopped, and a finished run is never
    retrained. A run whose loss stops being finite ends there (Keras's TerminateOnNaN); its logs are padded with NaN.
    """
    import keras

    from weightreg.artifacts import atomic_dir

    logs: list = []
    if checkpoint is not None and (checkpoint / "model.keras").is_file():
        model = keras.models.load_model(checkpoint / "model.keras")
        logs = json.loads((checkpoint / "history.json").read_text())
        advance(len(logs))
    callbacks = [keras.callbacks.TerminateOnNaN(), *callbacks]
    saved = time.perf_counter()
    for epoch in range(len(logs), epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(y))
        fitted = model.fit(x[order], y[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                           validation_data=validation, callbacks=callbacks)
        logs.append([float(fitted.history.get(name, [np.nan])[0]) for name in names])
        stopped = model.stop_training or not np.isfinite(logs[-1][0])
        if checkpoint is not None and (stopped or epoch == epochs - 1 or time.perf_counter() - saved >= checkpoint_seconds):
            with atomic_dir(checkpoint) as tmp:
                model.save(tmp / "model.keras")
                (tmp / "history.json").write_text(json.dumps(logs))
            saved = time.perf_counter()
        advance(1)
        if stopped:
            break
    padded = np.full((epochs, len(names)), np.nan, dtype=np.float32)
    padded[: len(logs)] = logs
    return model, padded


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
        model, history = fit_epochs(model, x["train"], y["train"], (x["val"], y["val"]), epochs=cfg.train.epochs,
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
