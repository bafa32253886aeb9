"""Typed configuration: the schema Hydra validates `conf/` against, and how a study is resolved.

    python -m weightreg.train --cfg job experiment=moons_l2_grid   # print one study's resolved config

`conf/config.yaml` composes one study (the command line's view): `conf/study.yaml` with an experiment
on top. `conf/pipeline.yaml` composes the same, fully resolved, for every study of the DVC pipeline under
`studies.<name>`; `resolve_study` reads one of them back and validates it.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.errors import ConfigError


class Penalty(str, enum.Enum):
    none = "none"
    l1 = "l1"
    l2 = "l2"
    l1_l2 = "l1_l2"


class Placement(str, enum.Enum):
    kernel = "kernel"  # kernels of the hidden layers (the tutorial's choice)
    output = "output"  # kernel of the output layer
    bias = "bias"  # biases of the hidden layers
    activity = "activity"  # outputs of the hidden layers (Keras activity_regularizer)
    recurrent = "recurrent"  # recurrent kernel of recurrent layers


class Variation(str, enum.Enum):
    model = "model"  # fixed data (the tutorial's draw), only the model seed changes
    data_model = "data+model"  # a new data draw per seed as well


class Dataset(str, enum.Enum):
    moons = "moons"
    imdb = "imdb"


@dataclass
class DataConfig:
    name: Dataset = Dataset.moons
    random_state: int = 1  # moons: the tutorial's draw (variation `model`); imdb: the subset draw
    # moons
    n_samples: int = 100
    noise: float = 0.2
    n_train: int = 30  # first rows train, the rest test, as in the tutorial
    n_val: int = 100  # validation points: a separate make_moons draw per data draw (selection reads only these)
    # imdb (see weightreg.imdb)
    source: str = "aclimdb"  # aclimdb (archive, folder or URL) or keras (keras.datasets.imdb)
    archive: Optional[str] = None  # .tar.gz or extracted folder; null: $WEIGHTREG_IMDB_ARCHIVE, else url
    url: str = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    vocab_size: int = 10000  # word indices kept (0-2 reserved), ranked on the training split
    num_words: int = 1000  # multi-hot columns (seed 003: 1000)
    maxlen: int = 200  # padded sequence length for CNN and LSTM
    max_train: Optional[int] = None  # class-balanced subset of the 25,000 training reviews; null: all
    max_test: Optional[int] = None  # the same for the 25,000 test reviews
    val_size: int = 5000  # class-balanced validation reviews carved from the training reviews before max_train


class Architecture(str, enum.Enum):
    mlp = "mlp"  # Dense layers (moons, or IMDB multi-hot features)
    cnn = "cnn"  # Embedding -> Conv1D -> global max pool (IMDB sequences)
    lstm = "lstm"  # Embedding -> LSTM (IMDB sequences)


@dataclass
class ModelConfig:
    name: Architecture = Architecture.mlp
    hidden_units: List[int] = field(default_factory=lambda: [500])  # Dense layers before the output
    activation: str = "relu"
    embedding_dim: int = 32  # cnn, lstm
    filters: int = 64  # cnn
    kernel_size: int = 5  # cnn
    recurrent_units: int = 32  # lstm


@dataclass
class ScheduleStep:
    epoch: int = 0  # from this epoch on (0-based) ...
    strength: float = 0.0  # ... the penalty has this strength


@dataclass
class PenaltyTerm:
    """A further penalty of a condition, on placements of its own (seed 004: kernel, bias, activity)."""

    kind: Penalty = Penalty.l2
    strength: float = 0.0
    l1: Optional[float] = None
    l2: Optional[float] = None
    placement: List[Placement] = field(default_factory=lambda: [Placement.bias])


@dataclass
class RegularizerConfig:
    kind: Penalty = Penalty.none
    strength: float = 0.0  # l1 and l2
    l1: Optional[float] = None  # l1_l2 only; null means `strength`
    l2: Optional[float] = None  # l1_l2 only; null means `strength`
    placement: List[Placement] = field(default_factory=lambda: [Placement.kernel])
    schedule: List[ScheduleStep] = field(default_factory=list)  # empty: constant strength
    extra: List[PenaltyTerm] = field(default_factory=list)  # more penalties, each on other placements
    # Decoupled weight decay (keras.optimizers.AdamW, w <- w - learning_rate * weight_decay * w each step)
    # on the same weights as `placement`; not an L2 penalty under Adam (Loshchilov and Hutter 2019).
    weight_decay: float = 0.0


@dataclass
class TrainConfig:
    epochs: int = 4000
    batch_size: int = 32
    learning_rate: float = 0.001  # Adam's default, as the tutorial uses
    optimizer: str = "adam"  # adam or rmsprop (seed 003)
    mode: str = "full_batch"  # full_batch (moons: the tutorial's 30 rows in one batch) or minibatch (IMDB)
    ensemble: bool = True  # train members as stacked models (false: one Keras model per seed, the reference path)
    history_every: int = 10  # record learning curves every this many epochs
    threads: int = 2  # TF intra- and inter-op threads, fixed for bitwise repeatability
    # members per compiled stack: a moons member-epoch costs more in larger stacks, whose activations spill out
    # of the CPU cache (benchmarks/README.md); a member's numbers are the same in any stack (tested)
    max_stack: int = 30
    # stacks trained at once, each in its own thread (a result does not depend on it): a moons stack keeps about
    # one core busy; the IMDB stacks (conf/train/minibatch.yaml) train one at a time
    parallel_stacks: int = 2
    # minibatch mode: one XLA function runs a whole `epoch`, or one runs each minibatch `step` (measured per
    # architecture with benchmarks/bench_text.py; the CNN's convolution is far slower inside XLA's epoch loop)
    compiled: str = "epoch"
    # Binary cross-entropy from the output's logits, as Keras 3's fit computes it; false: from probabilities
    # clipped to [1e-7, 1 - 1e-7] (Keras 2 / 2018 behaviour: losses capped near 16.1, no gradient when saturated).
    bce_from_logits: bool = True


@dataclass
class RefineConfig:
    """A rule that picks a study's sweep axis from another study's result (e.g. a fine grid)."""

    study: str = ""  # read results/<study>/summary.csv ...
    metric: str = "val/accuracy"  # ... take the condition with the highest mean of this validation metric ...
    variation: str = "data+model"  # ... in this variation ...
    axis: str = "regularizer.strength"  # ... and sweep this axis at its value times each multiplier
    multipliers: List[float] = field(default_factory=lambda: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])


@dataclass
class Published:
    """A source's own numbers for this study's setting: shown beside our seeds as references, never as results."""

    citation: str = ""
    convention: str = ""  # how the source ran and counted (software, runs, seeds, which points)
    values: Dict[str, Dict[str, float]] = field(default_factory=dict)  # condition -> metric -> published value


@dataclass
class Design:
    """How the study's seed count and margin were fixed before its results existed (the report's design section)."""

    seeds: str = ""  # how n_seeds was fixed, and when
    pilot: str = ""  # the pilot study that sized n_seeds: its own seeds and what it measured; never pooled with this study
    margin: str = ""  # why the margin has its size: the smallest effect of interest, not the noise


@dataclass
class Config:
    study: str = "moons_case_study"
    seed: int = 0  # first seed
    n_seeds: int = 30  # seeds `seed` .. `seed + n_seeds - 1`
    variations: List[str] = field(default_factory=lambda: ["model"])  # any of: model, data+model
    baseline: bool = True  # also train the unregularized model, paired seed by seed
    # Axes crossed into the study's conditions, e.g. {regularizer.strength: [1e-4, 1e-3]}.
    sweep: Dict[str, List[Any]] = field(default_factory=dict)
    refine: Optional[RefineConfig] = None  # a sweep axis chosen from another study's summary
    # Equivalence margin of the paired comparisons (accuracy): a difference inside +-margin counts as no
    # practical difference (TOST). Each study states its own with the reason for its size.
    margin: float = 0.02
    design: Design = field(default_factory=Design)
    sources: Dict[str, str] = field(default_factory=dict)  # condition -> origin and convention of its strength
    published: Optional[Published] = None  # a source's single-run numbers on this study's fixed data
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    regularizer: RegularizerConfig = field(default_factory=RegularizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    results_dir: str = "results"


def register_configs() -> None:
    ConfigStore.instance().store(name="config_schema", node=Config)


register_configs()


def validate(cfg: DictConfig) -> DictConfig:
    """Check what types cannot: ranges and cross-field rules. Returns cfg, raises ConfigError."""
    rules = [
        (cfg.n_seeds >= 1, "n_seeds", cfg.n_seeds, "an integer >= 1"),
        (0 <= cfg.seed and cfg.seed + cfg.n_seeds <= MAX_SEED, "seed", cfg.seed, f"an integer >= 0 with seed + n_seeds <= {MAX_SEED}"),
        *(moons_rules(cfg.data) if cfg.data.name == Dataset.moons else imdb_rules(cfg)),
        (cfg.train.epochs >= 1, "train.epochs", cfg.train.epochs, "an integer >= 1"),
        (cfg.train.batch_size >= 1, "train.batch_size", cfg.train.batch_size, "an integer >= 1"),
        (0 < cfg.train.learning_rate < math.inf, "train.learning_rate", cfg.train.learning_rate, "a finite number > 0"),
        (cfg.train.history_every >= 1, "train.history_every", cfg.train.history_every, "an integer >= 1"),
        (cfg.train.max_stack >= 1, "train.max_stack", cfg.train.max_stack, "an integer >= 1"),
        (cfg.train.parallel_stacks >= 1, "train.parallel_stacks", cfg.train.parallel_stacks, "an integer >= 1"),
        (cfg.train.compiled in COMPILED, "train.compiled", cfg.train.compiled, f"one of {COMPILED}"),
        (cfg.train.optimizer in OPTIMIZERS, "train.optimizer", cfg.train.optimizer, f"one of {OPTIMIZERS}"),
        (len(cfg.model.hidden_units) >= 1 or cfg.model.name != Architecture.mlp, "model.hidden_units",
         list(cfg.model.hidden_units), "a non-empty list for an mlp"),
        (min([cfg.model.embedding_dim, cfg.model.filters, cfg.model.kernel_size, cfg.model.recurrent_units]) >= 1,
         "model", "embedding_dim/filters/kernel_size/recurrent_units", "each an integer >= 1"),
        (all(u >= 1 for u in cfg.model.hidden_units), "model.hidden_units", list(cfg.model.hidden_units), "positive integers"),
        (len(cfg.variations) >= 1, "variations", list(cfg.variations), "a non-empty list of model, data+model"),
    ]
    for ok, key, value, allowed in rules:
        if not ok:
            raise ConfigError(f"{key}={value!r}: expected {allowed}")
    allowed = [v.value for v in Variation]
    for variation in cfg.variations:
        if variation not in allowed:
            raise ConfigError(f"variations: {variation!r} is not a variation; expected any of {allowed}")
    if cfg.data.name == Dataset.moons and cfg.model.name != Architecture.mlp:
        raise ConfigError(f"model.name={cfg.model.name.value!r}: moons points are 2-D vectors; expected mlp")
    for key in cfg.sweep:
        if not str(key).startswith("regularizer.") and key != "regularizer":
            raise ConfigError(f"sweep.{key}: expected a key under regularizer. (e.g. regularizer.strength)")
    validate_trainer(cfg)
    if not 0 < cfg.margin < 1:
        raise ConfigError(f"margin={cfg.margin!r}: expected a number in (0, 1), the equivalence margin in accuracy")
    if cfg.refine is not None:
        validate_refine(cfg.refine)
    validate_regularizer(cfg.regularizer, "regularizer")  # even when `none` makes its numbers unused
    names = [c.name for c in conditions(cfg)]
    unknown = sorted(set(cfg.sources) - set(names))
    if unknown:
        raise ConfigError(f"sources: {unknown} name no condition of study {cfg.study!r}; expected some of {names}")
    for condition in conditions(cfg):
        validate_regularizer(condition.regularizer, "regularizer")
        placed = {Placement(p) for term in penalty_terms(condition.regularizer) for p in term.placement}
        validate_weight_decay(cfg, condition.regularizer)
        if Placement.recurrent in placed and cfg.model.name != Architecture.lstm:
            raise ConfigError(f"regularizer.placement: recurrent needs a recurrent layer; model.name={cfg.model.name.value!r} has none (expected lstm)")
    return cfg


OPTIMIZERS = ["adam", "rmsprop"]
COMPILED = ["epoch", "step"]  # train.compiled: what one XLA function runs in minibatch mode
MAX_SEED = 2**31 - 1  # seeds feed make_moons and Keras, which take 32-bit seeds


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


def validate_trainer(cfg: DictConfig) -> None:
    """Settings a trainer would otherwise accept and ignore: each stops here, naming the key."""
    if cfg.data.name == Dataset.moons and cfg.train.optimizer != "adam":
        raise ConfigError(f"train.optimizer={cfg.train.optimizer!r}: the compiled trainer (moons) trains with Adam; expected adam")
    expected_mode = "minibatch" if cfg.data.name == Dataset.imdb else "full_batch"
    if cfg.train.mode != expected_mode:
        raise ConfigError(f"train.mode={cfg.train.mode!r}: data={Dataset(cfg.data.name).value} trains in "
                          f"{expected_mode.replace('_', ' ')}es; expected train={expected_mode}"
                          + (" (the moons full-batch defaults would run 4000 epochs)" if expected_mode == "minibatch" else ""))
    reg = cfg.regularizer
    strength_set = reg.strength != 0 or "regularizer.strength" in cfg.sweep
    if Penalty(reg.kind) == Penalty.l1_l2 and strength_set and reg.l1 is not None and reg.l2 is not None:
        shown = reg.strength if reg.strength != 0 else list(cfg.sweep["regularizer.strength"])
        raise ConfigError(f"regularizer.strength={shown}: l1_l2 takes regularizer.l1={reg.l1:g} and regularizer.l2={reg.l2:g}, "
                          "so the strength would be ignored; expected regularizer.l1=... and regularizer.l2=... "
                          "(or null l1 and l2 to use the strength)")
    activations = keras_activations()
    if cfg.model.activation not in activations:
        raise ConfigError(f"model.activation={cfg.model.activation!r}: not a Keras activation; expected one of {activations}")


def keras_activations() -> list[str]:
    """Names keras.activations.get accepts (the public functions of keras.activations)."""
    import keras

    return sorted(n for n in dir(keras.activations) if not n.startswith("_") and n not in ("get", "serialize", "deserialize"))


def unknown_keys(overrides: list[str]) -> list[str]:
    """A line for each `key=value` command-line override whose key the schema lacks, with the closest valid
    key (Hydra's own message follows, suggesting `+key` to add one)."""
    valid = schema_keys(OmegaConf.to_container(OmegaConf.structured(Config(refine=RefineConfig()))))
    open_ended = [key for key, value in valid.items() if value == "dict"]  # sweep, sources: any key below
    lines = []
    for override in overrides:
        key, equals, value = override.partition("=")
        if not equals or key.startswith(("+", "~", "hydra")) or "/" in key or "@" in key or key in GROUPS:
            continue
        if key in valid or any(key.startswith(f"{prefix}.") for prefix in open_ended):
            continue
        close = difflib.get_close_matches(key, list(valid), n=1)
        lines.append(f"{key}={value}: no such key" + (f"; did you mean {close[0]}?" if close else ""))
    return lines


GROUPS = ("data", "model", "regularizer", "train", "experiment")  # config groups: `regularizer=l1` picks a file


def schema_keys(node: dict, prefix: str = "") -> dict[str, str]:
    """Dotted keys of a config: 'dict' for an empty mapping (a key that takes any sub-keys), else 'value'."""
    keys = {}
    for name, value in node.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            keys[key] = "node"
            keys.update(schema_keys(value, f"{key}."))
        else:
            keys[key] = "dict" if isinstance(value, dict) else "value"
    return keys


def validate_weight_decay(cfg: DictConfig, reg: DictConfig) -> None:
    """Decoupled weight decay replaces the penalty (kind none), needs AdamW's base Adam and the per-seed
    `fit` trainer, and decays weights, not activities."""
    decay = reg.get("weight_decay", 0.0)
    if decay == 0:
        return
    problems = [
        (0 < decay < math.inf, "regularizer.weight_decay", decay, "a finite number >= 0"),
        (Penalty(reg.kind) == Penalty.none, "regularizer.kind", Penalty(reg.kind).value, "none beside weight_decay (one treatment per condition)"),
        (cfg.train.optimizer == "adam", "train.optimizer", cfg.train.optimizer, "adam with weight_decay (keras.optimizers.AdamW)"),
        (cfg.data.name == Dataset.imdb, "regularizer.weight_decay", decay, "0 on moons (the stacked trainer has no AdamW)"),
        (Placement.activity not in {Placement(p) for p in reg.placement}, "regularizer.placement", "activity", "weights only with weight_decay"),
    ]
    for ok, key, value, allowed in problems:
        if not ok:
            raise ConfigError(f"{key}={value!r}: expected {allowed}")


def validate_refine(rule: DictConfig) -> None:
    if str(rule.metric).startswith("test/"):
        raise ConfigError(f"refine.metric={rule.metric!r}: a selection must not read test data; expected a val/ metric (e.g. val/accuracy)")
    if not str(rule.axis).startswith("regularizer."):
        raise ConfigError(f"refine.axis={rule.axis!r}: expected a key under regularizer. (e.g. regularizer.strength)")
    if rule.variation not in [v.value for v in Variation]:
        raise ConfigError(f"refine.variation={rule.variation!r}: expected one of {[v.value for v in Variation]}")
    if not rule.study:
        raise ConfigError("refine.study='': expected the name of the study whose summary the rule reads")
    if len(rule.multipliers) == 0 or not all(m > 0 for m in rule.multipliers):
        raise ConfigError(f"refine.multipliers={list(rule.multipliers)!r}: expected a non-empty list of numbers > 0")


def validate_regularizer(reg: DictConfig, key: str) -> None:
    for name in ("strength", "l1", "l2"):
        value = reg.get(name)
        if value is not None and not 0 <= value < math.inf:  # `not` also rejects NaN
            raise ConfigError(f"{key}.{name}={value!r}: expected a finite number >= 0")
    for i, step in enumerate(reg.get("schedule", [])):
        if not 0 <= step.strength < math.inf or step.epoch < 0:
            raise ConfigError(f"{key}.schedule[{i}]={OmegaConf.to_container(step)}: expected epoch >= 0, strength >= 0")
    if len(reg.placement) == 0 and reg.kind != Penalty.none:
        raise ConfigError(f"{key}.placement=[]: expected at least one of {[p.value for p in Placement]}")
    placed = [Placement(p) for term in penalty_terms(reg) for p in term.placement]
    if len(placed) != len(set(placed)):
        raise ConfigError(f"{key}.extra: placements {[p.value for p in placed]} repeat; expected each placement in one term")
    for i, term in enumerate(reg.get("extra", [])):
        validate_regularizer(term, f"{key}.extra[{i}]")


BASELINE = "none"  # the unpenalized condition, trained on the same seeds for paired comparisons


@dataclass(frozen=True)
class Condition:
    """One treatment of a study, carried by each of its members (weightreg.members.Member) into runs.csv: its name
    (stable, self-describing: the `condition` column), its penalty spec (kind, strength, l1, l2, placement,
    schedule, extra, weight_decay; in the open path also rule placements or a `_target_`) and, in the open path,
    its optimizer target. Conditions are equal when their names are."""

    name: str
    regularizer: Any = field(compare=False)
    optimizer: Optional[Dict[str, Any]] = field(default=None, compare=False)


def conditions(cfg: DictConfig) -> List[Condition]:
    """The study's conditions: the baseline (if asked), then the regularizer crossed with every sweep axis."""
    found: List[Condition] = []
    if cfg.baseline:
        found.append(Condition(BASELINE, OmegaConf.structured(RegularizerConfig)))
    axes = list(cfg.sweep.items())
    for values in itertools.product(*[list(v) for _, v in axes]):
        reg = OmegaConf.merge(OmegaConf.structured(RegularizerConfig), cfg.regularizer)
        for (key, _), value in zip(axes, values):
            nested: Any = value  # key `regularizer`: each value is a whole spec
            for part in reversed(str(key).removeprefix("regularizer").removeprefix(".").split(".")) if key != "regularizer" else []:
                nested = {part: nested}
            try:
                reg = OmegaConf.merge(reg, nested)
            except OmegaConfBaseException as error:
                raise ConfigError(f"sweep.{key}={value!r}: {omegaconf_message(error)}") from None
        if condition_name(reg) not in [c.name for c in found]:  # e.g. regularizer=none beside the baseline
            found.append(Condition(condition_name(reg), reg))
    return found


def penalty_pair(reg: DictConfig) -> tuple[float, float]:
    """(l1, l2) coefficients of a regularizer spec; the schedule's final strength where one is set."""
    strength = reg.schedule[-1].strength if len(reg.get("schedule", [])) else reg.strength
    kind = Penalty(reg.kind)
    if kind == Penalty.l1:
        return float(strength), 0.0
    if kind == Penalty.l2:
        return 0.0, float(strength)
    if kind == Penalty.l1_l2:
        l1 = strength if reg.l1 is None else reg.l1
        l2 = strength if reg.l2 is None else reg.l2
        return float(l1), float(l2)
    return 0.0, 0.0


def condition_name(reg: DictConfig) -> str:
    """E.g. `l2_0.001`, `l1_l2_1e-05+0.0001`, `l2_1e-06@kernel+recurrent`, `l2_0.001~schedule`, `a&b@bias`."""
    kind = Penalty(reg.kind)
    if kind == Penalty.none and reg.get("weight_decay", 0.0) > 0:
        return f"adamw_{reg.weight_decay:g}@" + "+".join(Placement(p).value for p in reg.placement)
    if kind == Penalty.none:
        return BASELINE
    l1, l2 = penalty_pair(reg)
    strength = {Penalty.l1: f"{l1:g}", Penalty.l2: f"{l2:g}", Penalty.l1_l2: f"{l1:g}+{l2:g}"}[kind]
    name = f"{kind.value}_{strength}"
    placement = [Placement(p).value for p in reg.placement]
    if placement != [Placement.kernel.value] or len(reg.get("extra", [])):
        name += "@" + "+".join(placement)
    if len(reg.get("schedule", [])):
        name += "~schedule"
    return "&".join([name, *(condition_name(term) for term in reg.get("extra", []))])


def penalty_terms(reg: DictConfig) -> list:
    """The spec's penalties: itself (without its extras), then each extra term; none for `none`."""
    if Penalty(reg.kind) == Penalty.none:
        return []
    return [reg, *reg.get("extra", [])]


def load_params(path: str | Path) -> DictConfig:
    """params.yaml as DVC tracked it: every stage reads its settings from here, never from conf/ (dvc #10186)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; expected params.yaml composed from conf/ (make params)")
    return OmegaConf.load(path)


def resolve_study(params: DictConfig, study: str) -> DictConfig:
    """One study of the pipeline, `studies.<study>` of params.yaml (composed fully resolved), validated."""
    studies = params.get("studies") or {}
    if study not in studies:
        raise ConfigError(f"studies.{study}: no such study; expected one of {sorted(studies)}")
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(Config), studies[study])
    except OmegaConfBaseException as error:
        raise ConfigError(f"studies.{study}: {omegaconf_message(error)}") from None
    cfg.study = study
    if cfg.refine is not None and cfg.refine.study not in studies:
        raise ConfigError(f"studies.{study}.refine.study={cfg.refine.study!r}: expected one of {sorted(studies)}")
    return validate(cfg)


def from_mapping(mapping: Any) -> DictConfig:
    """Validate a plain mapping (e.g. one composed by Hydra or read from YAML) against the schema."""
    try:
        return validate(OmegaConf.merge(OmegaConf.structured(Config), mapping))
    except OmegaConfBaseException as error:
        raise ConfigError(omegaconf_message(error)) from None


def omegaconf_message(error: OmegaConfBaseException) -> str:
    """OmegaConf's first line, led by the key it concerns (its message names the key on a later line)."""
    first = str(error).splitlines()[0]
    key = getattr(error, "full_key", None)
    return f"{key}: {first}" if key and key not in first else first


def config_hash(cfg: DictConfig) -> str:
    """Short, stable key of a resolved config: two runs share it only if every setting is equal."""
    text = json.dumps(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
