"""Which trainer trains a study, and the spec the stacked trainers read.

A study whose data, model, optimizer and penalties are ones the stacked trainers know (moons or IMDB data; the built-in
mlp, text_cnn, text_lstm; Adam or RMSprop; penalties by the short placements) trains on them (weightreg.trainers,
weightreg.trainers.text_stack) with `train.trainer` auto or stacked; they read their own typed spec
(weightreg.config.Config), which `stacked_config` derives from the study. Anything else (your own model or data, other
optimizers, callbacks, `_target_` penalties, rule placements) trains run by run with model.fit (weightreg.fit_runs).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from weightreg.data_rules import DATA, stacked_data
from weightreg.errors import ConfigError
from weightreg.penalties import SHORT
from weightreg.schema import TRAINER_NAMES

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
# What the stacked trainers take where a study leaves it null: moons train full-batch, IMDB in minibatches.
STACKED_DEFAULTS = {"moons": {"mode": "full_batch", "history_every": 10, "max_stack": 30, "parallel_stacks": 2, "compiled": "epoch"},
                    "imdb": {"mode": "minibatch", "history_every": 1, "max_stack": 40, "parallel_stacks": 1, "compiled": "epoch"}}


def stacked_reason(cfg: DictConfig) -> str | None:
    """Why the stacked trainers cannot train this study (every reason); None when they can."""
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
        (not other_placements(cfg),
         f"regularizer: {other_placements(cfg)} are not l1/l2/l1_l2 penalties on the short placements " + "/".join(SHORT)),
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


def other_placements(cfg: DictConfig) -> list:
    """What the stacked trainers do not take among a study's penalties (its regularizer and the values of its regularizer
    sweeps): `_target_` penalties, placements other than the short ones, a penalty that is not a mapping."""
    sweeps = {str(axis): list(values) for axis, values in cfg.sweep.items()}
    specs = [cfg.regularizer, *sweeps.get("regularizer", [])]
    found = [spec for spec in specs if not (OmegaConf.is_dict(spec) or isinstance(spec, dict))]
    terms = [term for spec in specs if spec not in found for term in [spec, *spec.get("extra", [])]]
    placements = [p for term in terms for p in term.get("placement", [])] + [p for value in sweeps.get("regularizer.placement", []) for p in value]
    found += [term["_target_"] for term in terms if "_target_" in term]
    found += [p if isinstance(p, str) else OmegaConf.to_container(p) for p in placements if not (isinstance(p, str) and p in SHORT)]
    return found


def stacked_config(cfg: DictConfig) -> DictConfig:
    """The spec the stacked trainers read (weightreg.config.Config, validated) for a study they know; ConfigError if they
    do not know it."""
    from weightreg.validation import from_mapping

    reason = stacked_reason(cfg)
    if reason is not None:
        raise ConfigError(f"train.trainer=stacked: {reason}; expected a study the stacked trainers know (or train.trainer=auto/fit)")
    dataset, family = DATA[cfg.data["_target_"]], MODELS[cfg.model["_target_"]]
    plain = OmegaConf.to_container(cfg, resolve=True)
    model = {key: value for key, value in plain["model"].items() if key not in ("_target_", "vocab_size")}
    train = {key: value for key, value in plain["train"].items() if key in ("epochs", "batch_size", "threads", "bce_from_logits")}
    train.update({key: plain["train"][key] if plain["train"][key] is not None else default
                  for key, default in STACKED_DEFAULTS[dataset].items() if key != "mode"})
    return from_mapping({
        **{key: plain[key] for key in STUDY_KEYS if plain.get(key) is not None},
        "data": stacked_data(cfg),
        "model": {"name": family, **model},
        "regularizer": plain["regularizer"],
        "train": {**train, "mode": STACKED_DEFAULTS[dataset]["mode"], "ensemble": True,
                  "optimizer": OPTIMIZERS[plain["optimizer"]["_target_"]], "learning_rate": plain["optimizer"].get("learning_rate", 0.001)},
    })


def stacked_study(cfg: DictConfig) -> tuple[DictConfig, list]:
    """What the stacked trainers take for a study they know: the spec of the study with its refine rule applied, and
    that study's conditions (weightreg.conditions.conditions, typed)."""
    from weightreg.conditions import conditions
    from weightreg.refine import apply_refinement

    refined = apply_refinement(cfg)  # refinement changes the sweep, never the data
    return stacked_config(refined), conditions(refined, typed=True)


def trains_stacked(cfg: DictConfig) -> bool:
    """Which trainer trains this study: `train.trainer`, or with auto the stacked one wherever it can."""
    if cfg.train.trainer not in TRAINER_NAMES:
        raise ConfigError(f"train.trainer={cfg.train.trainer!r}: expected one of {list(TRAINER_NAMES)}")
    if cfg.train.trainer == "fit":
        return False
    return cfg.train.trainer == "stacked" or stacked_reason(cfg) is None
