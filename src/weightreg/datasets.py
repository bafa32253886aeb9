"""Built-in data targets for a study of your own: each returns x_train, y_train, x_test, y_test (and may
return x_val, y_val; otherwise the study carves its validation split from the training rows).

    data: {_target_: weightreg.datasets.sklearn_loader, name: load_digits}
    data: {_target_: weightreg.datasets.csv_file, path: my.csv, label: species}
    data: {_target_: weightreg.datasets.keras_dataset, name: mnist}        # downloads: online users
    data: {_target_: weightreg.datasets.moons}                              # the tutorial's draw
    data: {_target_: weightreg.datasets.imdb, encoding: multi_hot}          # the IMDB reviews (weightreg.imdb)

Targets that declare `seed` receive the study's data seed (a new draw per seed in variation data+model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weightreg.errors import ConfigError, DataError


def split_rows(y: np.ndarray, test_size: float, seed: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices, stratified by label where the labels are classes."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise ConfigError(f"{key}.test_size={test_size!r}: expected a fraction in (0, 1)")
    classes = np.asarray(y).dtype.kind in "iub"
    rows = np.arange(len(y))
    return train_test_split(rows, test_size=test_size, random_state=seed, stratify=y if classes else None)


def with_split(x: np.ndarray, y: np.ndarray, test_size: float, seed: int, key: str) -> dict[str, np.ndarray]:
    train, test = split_rows(y, test_size, seed, key)
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def sklearn_loader(name: str, seed: int = 0, test_size: float = 0.25) -> dict[str, np.ndarray]:
    """Any `sklearn.datasets.load_*` or `fetch_*` that takes return_X_y, split by `seed`."""
    import sklearn.datasets

    loader = getattr(sklearn.datasets, name, None)
    if loader is None or not callable(loader):
        loaders = sorted(n for n in dir(sklearn.datasets) if n.startswith("load_"))
        raise ConfigError(f"data.name={name!r}: not a loader of sklearn.datasets; expected one of {loaders}")
    x, y = loader(return_X_y=True)
    return with_split(np.asarray(x, dtype=np.float32), np.asarray(y), test_size, seed, "data")


def csv_file(path: str, label: str, seed: int = 0, test_size: float = 0.25) -> dict[str, np.ndarray]:
    """A CSV file: the `label` column is the target (text labels become class indices in sorted order), every
    other column a numeric feature."""
    import pandas as pd

    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"data.path={path!r}: no such file; expected a CSV file with a header row")
    frame = pd.read_csv(file)
    if label not in frame.columns:
        raise DataError(f"data.label={label!r}: {file} has no such column; its columns are {list(frame.columns)}")
    blank = frame[label].isna().to_numpy()
    if blank.any():
        lines = (np.flatnonzero(blank) + 2).tolist()  # the header is line 1
        raise DataError(f"{file}: column {label!r} (data.label) is blank on line(s) {lines[:10]}; expected a label on every line")
    features = frame.drop(columns=[label])
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text or features.isna().any().any():
        raise DataError(f"{file}: columns {text or list(features.columns[features.isna().any()])} are not numbers "
                        "(or have gaps); expected numeric features beside the label column")
    y = frame[label]
    if not pd.api.types.is_numeric_dtype(y):
        y = pd.Series(pd.Categorical(y).codes, index=y.index)
    return with_split(features.to_numpy(np.float32), y.to_numpy(), test_size, seed, "data")


def keras_dataset(name: str) -> dict[str, np.ndarray]:
    """A `keras.datasets` module by name (mnist, fashion_mnist, cifar10, boston_housing, ...): its fixed split,
    pixels scaled to [0, 1]. Downloads on first use."""
    import keras

    module = getattr(keras.datasets, name, None)
    if module is None or not hasattr(module, "load_data"):
        raise ConfigError(f"data.name={name!r}: not a keras.datasets module; expected e.g. mnist, fashion_mnist, cifar10")
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # the network or Keras's cache
        raise DataError(f"data.name={name!r}: keras.datasets.{name}.load_data failed ({error})") from None
    scale = 255.0 if np.asarray(x_train).dtype == np.uint8 else 1.0
    return {"x_train": (x_train / scale).astype(np.float32), "y_train": np.asarray(y_train).reshape(len(y_train)),
            "x_test": (x_test / scale).astype(np.float32), "y_test": np.asarray(y_test).reshape(len(y_test))}


def moons(seed: int = 1, n_samples: int = 100, noise: float = 0.2, n_train: int = 30, n_val: int = 100) -> dict[str, np.ndarray]:
    """The tutorial's draw (seed 1: make_moons(100, noise=0.2, random_state=1)) with its own validation draw."""
    from omegaconf import OmegaConf

    from weightreg.data_rules import moons_rules, refuse
    from weightreg.moons import moons_split

    settings = OmegaConf.create({"n_samples": n_samples, "noise": noise, "n_train": n_train, "n_val": n_val})
    refuse(moons_rules(settings))  # the data stage's rules: one error naming the key, before any draw
    split = moons_split(settings, seed)
    return {name: getattr(split, name).astype(np.float32 if name.startswith("x") else np.int64) for name in
            ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}


def imdb(encoding: str = "multi_hot", seed: int = 1, **settings) -> dict[str, np.ndarray]:
    """The IMDB reviews as the built-in studies read them (settings: weightreg.config.DataConfig's keys; `seed`, the
    data seed, draws the validation reviews and any subset): `multi_hot` vectors of `num_words` columns, or padded
    word-index `sequences` of `maxlen`."""
    from omegaconf import OmegaConf

    from weightreg.config import DataConfig
    from weightreg.imdb import make_imdb

    if encoding not in ("multi_hot", "sequences"):
        raise ConfigError(f"data.encoding={encoding!r}: expected multi_hot or sequences")
    data = OmegaConf.merge(OmegaConf.structured(DataConfig(name="imdb")), {**settings, "random_state": seed})
    arrays = make_imdb(data)
    return {f"{xy}_{split}": arrays[f"{encoding}_{split}" if xy == "x" else f"y_{split}"]
            for split in ("train", "val", "test") for xy in ("x", "y")}
