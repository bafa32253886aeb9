"""Property-based tests over the config space: every setting is a valid run or one clear error naming its key."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weightreg.validation import from_mapping
from weightreg.errors import ConfigError

NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-5, 10**7))
VALUES = {
    "regularizer.kind": st.sampled_from(["none", "l1", "l2", "l1_l2", "l3", ""]),
    "regularizer.strength": NUMBERS,
    "regularizer.l1": st.one_of(st.none(), NUMBERS),
    "regularizer.placement": st.lists(st.sampled_from(["kernel", "output", "bias", "activity", "recurrent", "elbow"]), max_size=3),
    "model.hidden_units": st.lists(st.integers(-2, 40), max_size=3),
    "train.epochs": st.integers(-3, 10**9),
    "train.learning_rate": NUMBERS,
    "train.history_every": st.integers(-2, 50),
    "seed": st.integers(-5, 2**40),
    "n_seeds": st.integers(-2, 10**6),
    "data.n_samples": st.integers(-5, 10**6),
    "data.n_train": st.integers(-5, 10**6),
    "data.noise": NUMBERS,
    "variations": st.lists(st.sampled_from(["model", "data+model", "weather"]), max_size=3),
}


def valid_or_one_error_naming_the_key(compose, mapping, flat):
    """The composed config, or None after checking that the one-line ConfigError names one of the keys set."""
    try:
        return compose(mapping)
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message
        named = [key for key in flat if key in message or key.split(".")[-1] in message]
        assert named, f"{message!r} names none of {sorted(flat)}"
        return None


def nested(flat):
    out = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return out


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from(sorted(VALUES)), st.none(), max_size=5).flatmap(
    lambda keys: st.fixed_dictionaries({k: VALUES[k] for k in keys})))
def test_any_setting_is_a_valid_config_or_one_error_naming_the_key(flat):
    cfg = valid_or_one_error_naming_the_key(from_mapping, nested(flat), flat)
    if cfg is None:
        return
    # Accepted: every number the run will use is finite and in range.
    assert cfg.train.epochs >= 1 and cfg.n_seeds >= 1 and cfg.seed >= 0
    assert math.isfinite(cfg.train.learning_rate) and cfg.train.learning_rate > 0
    assert math.isfinite(cfg.regularizer.strength) and cfg.regularizer.strength >= 0
    assert math.isfinite(cfg.data.noise) and 0 < cfg.data.n_train < cfg.data.n_samples
    assert all(units >= 1 for units in cfg.model.hidden_units)


SMALL = st.fixed_dictionaries({
    "regularizer": st.fixed_dictionaries({
        "kind": st.sampled_from(["l1", "l2", "l1_l2"]),
        "strength": st.sampled_from([0.0, 1e-3, 1.0, 1e3, 1e30]),
        "placement": st.sampled_from([["kernel"], ["bias"], ["activity"], ["kernel", "output"]]),
    }),
    "train": st.fixed_dictionaries({"learning_rate": st.sampled_from([1e-3, 10.0, 1e12]), "epochs": st.integers(1, 12),
                                    "history_every": st.integers(1, 5)}),
    "model": st.fixed_dictionaries({"hidden_units": st.sampled_from([[3], [8, 4]])}),
    "seed": st.integers(0, 2**31 - 2),
})


@pytest.mark.slow
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(SMALL)
def test_a_valid_config_trains_to_finite_metrics_or_is_recorded_as_diverged(values):
    from weightreg.conditions import conditions
    from weightreg.data import make_draws
    from weightreg.trainers.study import train

    cfg = from_mapping({**values, "n_seeds": 2, "variations": ["model", "data+model"]})
    runs = train(cfg, conditions(cfg, typed=True), make_draws(cfg))["runs"]
    metrics = runs[["train/loss", "test/loss", "train/accuracy", "test/accuracy"]].to_numpy()
    finished = ~runs.diverged.to_numpy()
    assert np.isfinite(metrics[finished]).all()  # a run that finished has only finite metrics
    assert np.isnan(metrics[~finished]).all()  # a diverged run carries no metric that could pass for a result


# --- the study schema (weightreg.schema) ----------------------------------------------------------------------

CUSTOM_VALUES = {
    "n_seeds": st.integers(-2, 10**6),
    "seed": st.integers(-5, 2**40),
    "data_seed": st.integers(-5, 2**40),
    "variations": st.lists(st.sampled_from(["model", "data+model", "weather"]), max_size=3),
    "task": st.sampled_from([None, "binary", "multiclass", "regression", "ranking", ""]),
    "objective": st.sampled_from(["val/accuracy", "val/mae", "test/accuracy", "train/loss", "accuracy"]),
    "margin": NUMBERS,
    "baseline": st.booleans(),
    "train.epochs": st.integers(-3, 10**9),
    "train.batch_size": st.integers(-3, 10**6),
    "train.validation_size": NUMBERS,
    "train.trainer": st.sampled_from(["auto", "stacked", "fit", "gpu", ""]),
    "train.history_every": st.one_of(st.none(), st.integers(-3, 50)),
    "train.checkpoint_seconds": NUMBERS,
    "sweep": st.dictionaries(st.sampled_from(["regularizer.strength", "optimizer.learning_rate", "data.name", "epochs"]),
                             st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=2), max_size=2),
}
OWN_STUDY = {"data": {"_target_": "weightreg.datasets.sklearn_loader", "name": "load_iris"},
             "model": {"_target_": "weightreg.architectures.mlp", "hidden_units": [4]}}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from(sorted(CUSTOM_VALUES)), st.none(), max_size=5).flatmap(
    lambda keys: st.fixed_dictionaries({k: CUSTOM_VALUES[k] for k in keys})))
def test_any_own_study_setting_is_valid_or_one_error_naming_the_key(flat):
    from weightreg.schema import from_mapping as own_study

    cfg = valid_or_one_error_naming_the_key(own_study, {**OWN_STUDY, **nested(flat)}, flat)
    if cfg is None:
        return
    # Accepted: every setting the run will use is one it can use.
    assert cfg.n_seeds >= 1 and cfg.seed >= 0 and cfg.data_seed >= 0 and cfg.train.epochs >= 1 and cfg.train.batch_size >= 1
    assert cfg.variations and set(cfg.variations) <= {"model", "data+model"}
    assert cfg.task in (None, "binary", "multiclass", "regression")
    assert cfg.objective.startswith("val/")  # the test split is never read for a choice
    assert math.isfinite(cfg.margin) and cfg.margin > 0
    assert 0 < cfg.train.validation_size < 1
    assert cfg.train.trainer in ("auto", "stacked", "fit")
    assert cfg.train.history_every is None or cfg.train.history_every >= 1
    assert cfg.train.checkpoint_seconds >= 0
    assert all(str(axis).split(".")[0] in ("regularizer", "optimizer") for axis in cfg.sweep)
