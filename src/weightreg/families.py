"""The built-in studies as instances of the open path, and which trainer trains an open-path study.

A study of your own (weightreg.custom) whose data, model, optimizer and penalties are ones the stacked
trainers know (moons or IMDB data; the built-in mlp, text_cnn, text_lstm; Adam or RMSprop; penalties by
the short placements) *is* a built-in study: `builtin_form` turns it into that study's config, and it trains
with the built-in stacked trainer (weightreg.trainers, weightreg.trainers.text_stack), so it gives the built-in study's
numbers exactly. `open_form` writes any built-in study as an open-path config:

    python -m weightreg.families moons_case_study      # the study of params.yaml as a custom_study file

Anything else (your own model or data, other optimizers, callbacks, `_target_` penalties, rule placements)
trains run by run with model.fit; `train.trainer` (auto, stacked, fit) can ask for either trainer.
"""

from __future__ import annotations

import argparse
from typing import Any

from omegaconf import DictConfig, OmegaConf

from weightreg.errors import ConfigError
from weightreg.penalties import SHORT

DATA = {"weightreg.datasets.moons": "moons", "weightreg.datasets.imdb": "imdb"}
MODELS = {"weightreg.architectures.mlp": "mlp", "weightreg.architectures.text_cnn": "cnn",
          "weightreg.architectures.text_lstm": "lstm"}
OPTIMIZERS = {"keras.optimizers.Adam": "adam", "keras.optimizers.RMSprop": "rmsprop"}
DATA_KEYS = {"moons": ("n_samples", "noise", "n_train", "n_val"),
             "imdb": ("source", "archive", "url", "vocab_size", "num_words", "maxlen", "max_train", "max_test", "val_size")}
MODEL_KEYS = {"mlp": ("hidden_units", "activation"),
              "cnn": ("hidden_units", "activation", "embedding_dim", "filters", "kernel_size"),
              "lstm": ("hidden_units", "activation", "embedding_dim", "recurrent_units")}
STUDY_KEYS = ("study", "seed", "n_seeds", "variations", "baseline", "sweep", "refine", "margin", "design", "sources", "published", "report",
              "results_dir")
TRAINERS = ("auto", "stacked", "fit")


def open_form(study: DictConfig) -> DictConfig:
    """A built-in study's config (weightreg.config.Config) written as a study of the open path."""
    plain = OmegaConf.to_container(study, resolve=True, enum_to_str=True)
    data, model, train = plain["data"], plain["model"], plain["train"]
    encoding = "multi_hot" if model["name"] == "mlp" else "sequences"
    data_target = {key: data[key] for key in DATA_KEYS[data["name"]]}
    if data["name"] == "imdb":
        data_target = {"encoding": encoding, **data_target}
    model_target = {key: model[key] for key in MODEL_KEYS[model["name"]]}
    if model["name"] != "mlp":
        model_target["vocab_size"] = data["vocab_size"]  # the embedding's rows
    return OmegaConf.create({
        **{key: plain[key] for key in STUDY_KEYS if key in plain},
        "task": "binary",
        "data_seed": data["random_state"],
        "data": {"_target_": target_of(DATA, data["name"]), **data_target},
        "model": {"_target_": target_of(MODELS, model["name"]), **model_target},
        "regularizer": plain["regularizer"],
        "optimizer": {"_target_": target_of(OPTIMIZERS, train["optimizer"]), "_partial_": True, "learning_rate": train["learning_rate"]},
        "train": {key: train[key] for key in ("epochs", "batch_size", "threads", "history_every", "max_stack", "parallel_stacks",
                                              "compiled", "bce_from_logits")},
    })


def target_of(table: dict[str, str], name: str) -> str:
    return next(path for path, known in table.items() if known == name)


def stacked_reason(cfg: DictConfig) -> str | None:
    """Why this open-path study cannot train on a built-in stacked trainer (every reason); None when it can."""
    data, model, optimizer = cfg.data["_target_"], cfg.model["_target_"], cfg.optimizer["_target_"]
    family = MODELS.get(model)
    checks = [
        (data in DATA, f"data._target_={data!r} is not one of the stacked trainers' datasets {sorted(DATA)}"),
        (family is not None, f"model._target_={model!r} is not one of the stackable families {sorted(MODELS)}"),
        (optimizer in OPTIMIZERS and set(cfg.optimizer) <= {"_target_", "_partial_", "learning_rate"},
         f"optimizer={OmegaConf.to_container(cfg.optimizer)} is not Adam or RMSprop with only a learning_rate"),
        (cfg.task in (None, "binary"), f"task={cfg.task!r}: the stacked trainers classify two classes"),
        (len(cfg.train.callbacks) == 0, "train.callbacks: the stacked trainers take no Keras callbacks"),
        (all(str(axis).startswith("regularizer") for axis in cfg.sweep), "sweep: the stacked trainers sweep regularizer. axes only"),
        (short_placements(cfg.regularizer) and all(short_placements(v) for axis, values in cfg.sweep.items()
                                                   for v in values if axis == "regularizer"),
         "regularizer: the stacked trainers take l1/l2/l1_l2 penalties on the short placements " + "/".join(SHORT)),
    ]
    if data in DATA and family is not None:
        known = set(DATA_KEYS[DATA[data]]) | ({"encoding"} if DATA[data] == "imdb" else set())
        checks += [
            ((DATA[data] == "moons") == (family == "mlp") or DATA[data] == "imdb",
             f"model._target_={model!r} does not read {DATA[data]} points"),
            (DATA[data] != "imdb" or cfg.data.get("encoding", "multi_hot") == ("multi_hot" if family == "mlp" else "sequences"),
             f"data.encoding={cfg.data.get('encoding', 'multi_hot')!r} does not feed {family}"),
            (set(cfg.data) - {"_target_"} <= known, f"data: keys {sorted(set(cfg.data) - known - {'_target_'})} are not the built-in data's"),
            (set(cfg.model) - {"_target_"} <= set(MODEL_KEYS[family]) | ({"vocab_size"} if family != "mlp" else set()),
             f"model: keys {sorted(set(cfg.model) - set(MODEL_KEYS[family]) - {'_target_', 'vocab_size'})} are not the built-in {family}'s"),
            (family == "mlp" or cfg.model.get("vocab_size", cfg.data.get("vocab_size", 10000)) == cfg.data.get("vocab_size", 10000),
             "model.vocab_size: differs from data.vocab_size"),
            (DATA[data] != "moons" or cfg.train.batch_size >= cfg.data.get("n_train", 30),
             f"train.batch_size={cfg.train.batch_size}: the stacked moons trainer trains full-batch (batch_size >= data.n_train)"),
        ]
    reasons = [reason for ok, reason in checks if not ok]
    return "; ".join(reasons) if reasons else None


def short_placements(regularizer: Any) -> bool:
    if not OmegaConf.is_dict(regularizer) and not isinstance(regularizer, dict):
        return False
    if "_target_" in regularizer:
        return False
    terms = [regularizer, *regularizer.get("extra", [])]
    return all(isinstance(p, str) and p in SHORT for term in terms for p in term.get("placement", []))


def builtin_form(cfg: DictConfig) -> DictConfig:
    """The built-in study (weightreg.config.Config, validated) this open-path study is; ConfigError if it is not one."""
    from weightreg.validation import from_mapping

    reason = stacked_reason(cfg)
    if reason is not None:
        raise ConfigError(f"train.trainer=stacked: {reason}; expected a study the stacked trainers know (or train.trainer=auto/fit)")
    dataset, family = DATA[cfg.data["_target_"]], MODELS[cfg.model["_target_"]]
    plain = OmegaConf.to_container(cfg, resolve=True)
    data = {key: value for key, value in plain["data"].items() if key not in ("_target_", "encoding")}
    model = {key: value for key, value in plain["model"].items() if key not in ("_target_", "vocab_size")}
    train = {key: value for key, value in plain["train"].items() if key in ("epochs", "batch_size", "threads", "bce_from_logits")}
    for key in ("history_every", "max_stack", "parallel_stacks", "compiled"):  # null: the built-in default of the study's training mode
        if plain["train"][key] is not None:
            train[key] = plain["train"][key]
    defaults = OmegaConf.load(conf_file("train", "full_batch" if dataset == "moons" else "minibatch"))
    return from_mapping({
        **{key: plain[key] for key in STUDY_KEYS if plain.get(key) is not None},
        "data": {"name": dataset, "random_state": plain["data_seed"], **data},
        "model": {"name": family, **OmegaConf.to_container(OmegaConf.load(conf_file("model", family))), **model},
        "regularizer": plain["regularizer"],
        "train": {**OmegaConf.to_container(defaults), "optimizer": OPTIMIZERS[plain["optimizer"]["_target_"]],
                  "learning_rate": plain["optimizer"].get("learning_rate", 0.001), **train},
    })


def conf_file(group: str, name: str):
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "conf" / group / f"{name}.yaml"


def trains_stacked(cfg: DictConfig) -> bool:
    """Which trainer trains this open-path study: `train.trainer`, or with auto the stacked one wherever it can."""
    if cfg.train.trainer not in TRAINERS:
        raise ConfigError(f"train.trainer={cfg.train.trainer!r}: expected one of {list(TRAINERS)}")
    if cfg.train.trainer == "fit":
        return False
    return cfg.train.trainer == "stacked" or stacked_reason(cfg) is None


def main(argv: list[str] | None = None) -> None:
    import sys

    from weightreg.config import load_params
    from weightreg.validation import resolve_study
    from weightreg.errors import exit_on_error

    parser = argparse.ArgumentParser(prog="python -m weightreg.families", description="Print a built-in study as an open-path config.")
    parser.add_argument("study")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    with exit_on_error():
        form = open_form(resolve_study(load_params(args.params), args.study))
        sys.stdout.write("# @package _global_\n" + OmegaConf.to_yaml(form))


if __name__ == "__main__":
    main()
