"""How the data stages read a study: `studies.<study>` of params.yaml on the schema, and the rules of what they
read (seeds, variations, the dataset's settings). The train stage checks these with every other rule
(weightreg.validation), so editing any other rule's message reruns no data stage.

    cfg = check_data(study_config(load_params("params.yaml"), "moons_case_study"))
"""

from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.config import Config, Dataset, Variation
from weightreg.errors import ConfigError
from weightreg.params import omegaconf_message

DATA = {"weightreg.datasets.moons": "moons", "weightreg.datasets.imdb": "imdb"}  # the data targets the data stages make
MAX_SEED = 2**31 - 1  # seeds feed make_moons and Keras, which take 32-bit seeds


def study_config(params: DictConfig, study: str) -> DictConfig:
    """What a data stage reads of `studies.<study>` (its seeds, variations and data settings) on the stacked trainers' spec
    (weightreg.config.Config): types checked, rules not yet."""
    studies = params.get("studies") or {}
    if study not in studies:
        raise ConfigError(f"studies.{study}: no such study; expected one of {sorted(studies)}")
    raw = studies[study]
    target = (raw.get("data") or {}).get("_target_")
    if target not in DATA:
        raise ConfigError(f"studies.{study}.data._target_={target!r}: the data stages make the built-in datasets only; expected one of "
                          f"{sorted(DATA)} (a study of your own data loads it when it trains)")
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(Config), {key: raw[key] for key in ("seed", "n_seeds", "variations") if key in raw},
                              {"data": stacked_data(raw)})
    except OmegaConfBaseException as error:
        raise ConfigError(f"studies.{study}: {omegaconf_message(error)}") from None
    cfg.study = study
    return cfg


def stacked_data(cfg: DictConfig) -> dict:
    """The data settings of a study with built-in data (DATA), by name, as the data stages and stacked trainers read them."""
    plain = OmegaConf.to_container(cfg.data, resolve=True)
    return {"name": DATA[plain["_target_"]], "random_state": cfg.data_seed,
            **{k: v for k, v in plain.items() if k not in ("_target_", "encoding")}}


def check_data(cfg: DictConfig) -> DictConfig:
    """The rules of what a data stage reads; returns cfg, raises ConfigError naming the key."""
    refuse([*seed_rules(cfg), *dataset_rules(cfg), variation_rule(cfg)])
    check_variations(cfg)
    return cfg


def refuse(rules: list[tuple]) -> None:
    """The first (ok, key, value, allowed) rule that fails, as one ConfigError."""
    for ok, key, value, allowed in rules:
        if not ok:
            raise ConfigError(f"{key}={value!r}: expected {allowed}")


def seed_rules(cfg: DictConfig) -> list[tuple]:
    return [
        (cfg.n_seeds >= 1, "n_seeds", cfg.n_seeds, "an integer >= 1"),
        (0 <= cfg.seed and cfg.seed + cfg.n_seeds <= MAX_SEED, "seed", cfg.seed, f"an integer >= 0 with seed + n_seeds <= {MAX_SEED}"),
    ]


def dataset_rules(cfg: DictConfig) -> list[tuple]:
    return moons_rules(cfg.data) if cfg.data.name == Dataset.moons else imdb_rules(cfg)


def variation_rule(cfg: DictConfig) -> tuple:
    return (len(cfg.variations) >= 1, "variations", list(cfg.variations), "a non-empty list of model, data+model")


def check_variations(cfg: DictConfig) -> None:
    allowed = [v.value for v in Variation]
    for variation in cfg.variations:
        if variation not in allowed:
            raise ConfigError(f"variations: {variation!r} is not a variation; expected any of {allowed}")


def moons_rules(data: DictConfig) -> list[tuple]:
    return [
        (data.n_samples >= 2, "data.n_samples", data.n_samples, "an integer >= 2"),
        (data.n_val >= 2, "data.n_val", data.n_val, "an integer >= 2"),
        (0 <= data.noise < math.inf, "data.noise", data.noise, "a finite number >= 0"),
        (0 < data.n_train < data.n_samples, "data.n_train", data.n_train,
         f"an integer in 1..{data.n_samples - 1} (below data.n_samples)"),
    ]


def imdb_rules(cfg: DictConfig) -> list[tuple]:
    data = cfg.data
    return [
        (data.source in ("aclimdb", "keras"), "data.source", data.source, "aclimdb or keras"),
        (data.vocab_size > 3, "data.vocab_size", data.vocab_size, "an integer > 3 (indices 0-2 are reserved)"),
        (3 < data.num_words <= data.vocab_size, "data.num_words", data.num_words, f"an integer in 4..{data.vocab_size} (data.vocab_size)"),
        (data.maxlen >= 1, "data.maxlen", data.maxlen, "an integer >= 1"),
        (data.max_train is None or data.max_train >= 2, "data.max_train", data.max_train, "null or an integer >= 2"),
        (data.max_test is None or data.max_test >= 2, "data.max_test", data.max_test, "null or an integer >= 2"),
        (data.val_size >= 2, "data.val_size", data.val_size, "an integer >= 2 (validation reviews carved from training)"),
    ]
