"""The moons data exactly as sklearn draws it, and clear errors for damaged data files."""

import numpy as np
import pytest
from sklearn.datasets import make_moons

from weightreg.validation import from_mapping
from weightreg.artifacts import save_arrays
from weightreg.data import load_draws, make_draws
from weightreg.moons import moons_split
from weightreg.errors import DataError


def test_split_is_exactly_the_tutorials():
    cfg = from_mapping({})
    x, y = make_moons(n_samples=100, noise=0.2, random_state=1)
    split = moons_split(cfg.data, 1)
    np.testing.assert_array_equal(split.x_train, x[:30])
    np.testing.assert_array_equal(split.x_test, x[30:])
    np.testing.assert_array_equal(split.y_train, y[:30])
    np.testing.assert_array_equal(split.y_test, y[30:])


def test_draws_cover_fixed_and_resampled_data():
    cfg = from_mapping({"seed": 5, "n_seeds": 3, "variations": ["model", "data+model"]})
    draws = make_draws(cfg)
    assert draws["data_seed"].tolist() == [1, 5, 6, 7]
    x, _ = make_moons(n_samples=100, noise=0.2, random_state=6)
    np.testing.assert_array_equal(draws["x_test"][2], x[30:].astype(np.float32))


def test_round_trip(tmp_path):
    cfg = from_mapping({"n_seeds": 2})
    save_arrays(make_draws(cfg), tmp_path / "d.npz")
    loaded = load_draws(tmp_path / "d.npz", cfg)
    np.testing.assert_array_equal(loaded["x_train"], make_draws(cfg)["x_train"])
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="d.npz: data file not found"):
        load_draws(tmp_path / "d.npz", from_mapping({}))


def test_corrupt_file_is_named(tmp_path):
    cfg = from_mapping({"n_seeds": 2})
    save_arrays(make_draws(cfg), tmp_path / "d.npz")
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="d.npz: not a readable .npz"):
        load_draws(tmp_path / "d.npz", cfg)


def test_stale_file_is_rejected(tmp_path):
    save_arrays(make_draws(from_mapping({"n_seeds": 2})), tmp_path / "d.npz")
    with pytest.raises(DataError, match="x_train has shape"):
        load_draws(tmp_path / "d.npz", from_mapping({"n_seeds": 2, "data": {"n_train": 40}}))
    with pytest.raises(DataError, match=r"no draw for data seeds \[0, 2\]"):
        load_draws(tmp_path / "d.npz", from_mapping({"n_seeds": 3, "variations": ["data+model"]}))
