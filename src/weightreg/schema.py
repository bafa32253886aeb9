"""The one study schema, registered with Hydra as `study_schema`: every study, built-in or of your own model, names its
data, model and optimizer by `_target_` and states its penalties, trainer, seeds, variations and margin.

Kept apart from the trainers so that Hydra's plugin discovery (and `dvc exp run`'s composition) loads it
without TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.config import Design, Published, RefineConfig
from weightreg.errors import ConfigError
from weightreg.report_schema import Report


TASK_NAMES = ("binary", "multiclass", "regression")  # weightreg.tasks.TASKS
TRAINER_NAMES = ("auto", "stacked", "fit")  # train.trainer: weightreg.stacked_spec.trains_stacked picks by it


@dataclass
class Train:
    epochs: int = 20
    batch_size: int = 32
    threads: int = 2  # TF intra- and inter-op threads, fixed for bitwise repeatability
    validation_size: float = 0.2  # share of the training rows carved out for validation when the data has none
    callbacks: List[Any] = field(default_factory=list)  # more Keras callbacks (`_target_`s), e.g. EarlyStopping
    # A checkpoint (model, optimizer state, logs) after the first epoch that ends this long after the last one, and
    # after a run's last epoch: a resumed study repeats at most this much work of a run and retrains no finished run,
    # and short epochs are not slowed by saving after each.
    checkpoint_seconds: float = 10.0
    # auto: the built-in stacked trainers where the study is one they know (weightreg.stacked_spec), else model.fit
    # run by run; stacked: refuse the study unless they know it; fit: model.fit run by run in any case.
    trainer: str = "auto"
    history_every: Optional[int] = None  # learning-curve records every this many epochs; null: 1 (stacked moons: 10)
    max_stack: Optional[int] = None  # stacked trainers: members per compiled stack; null: the built-in default
    parallel_stacks: Optional[int] = None  # stacked trainers: stacks trained at once; null: the built-in default
    compiled: Optional[str] = None  # stacked minibatch trainer: one XLA function per epoch or step; null: the built-in default
    bce_from_logits: bool = True  # binary cross-entropy from the output's logits (false: the 2018 clipped form, stacked trainers only)


@dataclass
class AnswerConfig:
    """How `weightreg answer` searches and confirms (weightreg.answer)."""

    sweep: Optional[Dict[str, List[Any]]] = None  # the candidates searched (axes as `sweep:`); null: the study's sweep
    search_seeds: int = 3  # seeds seed..seed+search_seeds-1 per candidate, scored on validation data only
    # First confirmation seed; null: the one after the search's last. Confirmation seeds never overlap search seeds.
    confirm_seed: Optional[int] = None
    power: float = 0.8  # of the paired t-test sizing the confirmation (weightreg.stats.t_power_size) ...
    min_seeds: int = 6  # ... clipped to [min_seeds, max_seeds]; 6: the fewest whose sign-flip test can reach p < 0.05
    max_seeds: int = 30
    # Confirmation variations; null: model (the study's own split, whose test rows the search never read) and
    # data+model (a fresh draw per seed) where the data target takes a seed, else model.
    variations: Optional[List[str]] = None


@dataclass
class Study:
    study: str = "study"
    seed: int = 0
    n_seeds: int = 10
    variations: List[str] = field(default_factory=lambda: ["model"])  # model: one data draw; data+model: one per seed
    data_seed: int = 0  # the draw (split) of variation `model`
    baseline: bool = True  # train the unpenalized model on the same seeds, for paired comparisons
    task: Optional[str] = None  # binary, multiclass or regression; null: inferred from y_train
    objective: str = "val/accuracy"  # what the command line returns to a sweeper: a val/ metric
    margin: float = 0.01  # equivalence margin, in the task's metric (accuracy, or MAE for regression)
    design: Design = field(default_factory=Design)  # how n_seeds and the margin were fixed
    sweep: Dict[str, List[Any]] = field(default_factory=dict)  # axes under regularizer. or optimizer.
    sources: Dict[str, str] = field(default_factory=dict)
    refine: Optional[RefineConfig] = None  # a sweep axis chosen from another study's validation results (weightreg.refine)
    published: Optional[Published] = None  # a source's own numbers, shown beside ours in the report
    data: Dict[str, Any] = MISSING  # each study names its own: defaults would leak their keys into its target's call
    model: Dict[str, Any] = MISSING
    # conf/study.yaml picks a group of conf/regularizer/ (l2); no default here, which would merge into every group's keys
    regularizer: Dict[str, Any] = field(default_factory=dict)
    optimizer: Dict[str, Any] = field(default_factory=lambda: {"_target_": "keras.optimizers.Adam", "_partial_": True, "learning_rate": 1e-3})
    train: Train = field(default_factory=Train)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    report: Report = field(default_factory=Report)  # the report's question, figures and checks for this study
    results_dir: str = "results"


ConfigStore.instance().store(name="study_schema", node=Study)


def from_mapping(mapping: Any, key: str = "") -> DictConfig:
    """A study's settings checked against the schema and the rules types cannot state."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(Study), mapping)
    except OmegaConfBaseException as error:
        from weightreg.params import omegaconf_message

        raise ConfigError(f"{key}{omegaconf_message(error)}") from None
    rules = [
        (cfg.n_seeds >= 1, "n_seeds", cfg.n_seeds, "an integer >= 1"),
        (cfg.seed >= 0 and cfg.data_seed >= 0, "seed/data_seed", (cfg.seed, cfg.data_seed), "integers >= 0"),
        (set(cfg.variations) <= {"model", "data+model"} and len(cfg.variations) > 0, "variations", list(cfg.variations),
         "a non-empty list of model, data+model"),
        (cfg.train.epochs >= 1, "train.epochs", cfg.train.epochs, "an integer >= 1"),
        (cfg.train.batch_size >= 1, "train.batch_size", cfg.train.batch_size, "an integer >= 1"),
        (0 < cfg.train.validation_size < 1, "train.validation_size", cfg.train.validation_size, "a fraction in (0, 1)"),
        (str(cfg.objective).startswith("val/"), "objective", cfg.objective, "a validation metric, e.g. val/accuracy (never test/)"),
        (0 < cfg.margin < math.inf, "margin", cfg.margin, "a finite number > 0 in the task's metric"),
        (cfg.task in (None, *TASK_NAMES), "task", cfg.task, f"one of {list(TASK_NAMES)} or null (inferred from y_train)"),
        (cfg.train.trainer in TRAINER_NAMES, "train.trainer", cfg.train.trainer, f"one of {list(TRAINER_NAMES)}"),
        (cfg.train.history_every is None or cfg.train.history_every >= 1, "train.history_every", cfg.train.history_every,
         "an integer >= 1 or null"),
        (cfg.answer.search_seeds >= 2, "answer.search_seeds", cfg.answer.search_seeds, "an integer >= 2 (the power rule needs a spread)"),
        (0 < cfg.answer.power < 1, "answer.power", cfg.answer.power, "a probability in (0, 1)"),
        (6 <= cfg.answer.min_seeds <= cfg.answer.max_seeds, "answer.min_seeds/max_seeds", (cfg.answer.min_seeds, cfg.answer.max_seeds),
         "6 <= min_seeds <= max_seeds (fewer than 6 seeds cannot reach p < 0.05 in a sign-flip test)"),
        (cfg.answer.confirm_seed is None or cfg.answer.confirm_seed >= cfg.seed + cfg.answer.search_seeds
         or cfg.answer.confirm_seed + cfg.answer.max_seeds <= cfg.seed, "answer.confirm_seed", cfg.answer.confirm_seed,
         f"null or a first seed whose confirmation seeds miss the search's {cfg.seed}..{cfg.seed + cfg.answer.search_seeds - 1}"),
        (cfg.answer.variations is None or (set(cfg.answer.variations) <= {"model", "data+model"} and len(cfg.answer.variations) > 0),
         "answer.variations", cfg.answer.variations, "null or a non-empty list of model, data+model"),
        (cfg.train.checkpoint_seconds >= 0, "train.checkpoint_seconds", cfg.train.checkpoint_seconds, "a number of seconds >= 0"),
    ]
    for target in ("data", "model", "optimizer"):
        if OmegaConf.is_missing(cfg, target):
            raise ConfigError(f"{key}{target}: not set; expected a mapping with _target_ (a group of conf/data/, conf/model/, or your own; see conf/study.yaml)")
        rules.append(("_target_" in cfg[target], f"{target}._target_", None, "a dotted path to a callable"))
    for ok, name, value, expected in rules:
        if not ok:
            raise ConfigError(f"{key}{name}={value!r}: expected {expected}")
    if cfg.refine is not None:
        from weightreg.validation import validate_refine

        validate_refine(cfg.refine)
    for name, sweep in (("sweep", cfg.sweep), ("answer.sweep", cfg.answer.sweep or {})):
        for axis in sweep:
            if not str(axis).split(".")[0] in ("regularizer", "optimizer"):
                raise ConfigError(f"{key}{name}.{axis}: expected a key under regularizer. or optimizer. (e.g. regularizer.strength)")
    return cfg


def resolve_study(params: DictConfig, study: str) -> DictConfig:
    """One study of the pipeline, `studies.<study>` of params.yaml (composed fully resolved), checked; errors name the
    key under studies.<study>."""
    studies = params.get("studies") or {}
    if study not in studies:
        raise ConfigError(f"studies.{study}: no such study; expected one of {sorted(studies)}")
    cfg = from_mapping(studies[study], key=f"studies.{study}.")
    cfg.study = study
    if cfg.refine is not None and cfg.refine.study not in studies:
        raise ConfigError(f"studies.{study}.refine.study={cfg.refine.study!r}: expected one of {sorted(studies)}")
    return cfg
