"""The moons draw: `make_moons` exactly as the tutorial draws it (first n_train rows train, the rest test), and a
separate validation draw from the same distribution.

    moons_split(OmegaConf.create({"n_samples": 100, "noise": 0.2, "n_train": 30, "n_val": 100}), random_state=1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig
from sklearn.datasets import make_moons


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def validation_state(random_state: int) -> int:
    """The random_state of a draw's validation set: its own make_moons draw, apart from every data seed's."""
    return int(np.random.SeedSequence([random_state, VALIDATION_STREAM]).generate_state(1)[0] % 2**31)


VALIDATION_STREAM = 7  # any constant: it only separates validation draws from training/test draws


def moons_split(data: DictConfig, random_state: int) -> Split:
    """The tutorial's draw (first n_train rows train, the rest test) and a separate validation draw of
    n_val points from the same distribution, which selection reads and the test score never sees."""
    x, y = make_moons(n_samples=data.n_samples, noise=data.noise, random_state=random_state)
    x_val, y_val = make_moons(n_samples=data.n_val, noise=data.noise, random_state=validation_state(random_state))
    n = data.n_train
    return Split(x[:n], y[:n], x_val, y_val, x[n:], y[n:])
