"""IMDB's reference trainer: one Keras model per member, trained by model.fit one epoch at a time and checkpointed
after every epoch (train.ensemble: false).

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
from weightreg.trainers.optimizers import make_optimizer


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
