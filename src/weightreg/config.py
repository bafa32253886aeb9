"""The stacked trainers' typed spec of a study (weightreg.stacked_spec.stacked_config derives it from the study schema,
weightreg.schema), the study-level types both share (refine rule, published numbers, design) and a condition.

The spec holds what the stacked trainers read: the dataset's and model's settings by name, the optimizer by name, the
training mode and stack sizes; weightreg.validation checks its rules, weightreg.conditions makes its conditions. What
every stage shares (params.yaml, the baseline's name, config hashes) is in weightreg.params, the report block's types
in weightreg.report_schema: a stage that reads neither the spec nor a condition does not depend on this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from weightreg.penalties import SHORT
from weightreg.report_schema import Report


class Penalty(str, enum.Enum):
    none = "none"
    l1 = "l1"
    l2 = "l2"
    l1_l2 = "l1_l2"


# Where a penalty goes: the short placements of weightreg.penalties.SHORT (which layers, which weight), in its order.
Placement = enum.Enum("Placement", {name: name for name in SHORT}, type=str, module=__name__)


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
    num_words: int = 1000  # multi-hot columns (1000 in Albon's "Neural Network Weight Regularization")
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
    """A further penalty of a condition, on placements of its own (as the Keras regularizers example places kernel, bias and activity penalties)."""

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
    optimizer: str = "adam"  # adam or rmsprop (the optimizer of Albon's "Neural Network Weight Regularization")
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
    report: Report = field(default_factory=Report)
    results_dir: str = "results"


@dataclass(frozen=True)
class Condition:
    """One treatment of a study (weightreg.conditions.conditions), carried by each of its members
    (weightreg.members.Member) into runs.csv: its name (stable, self-describing: the `condition` column), its penalty as
    a plain mapping (kind, strength, l1, l2, placement, schedule, extra, weight_decay; every key filled in where the
    stacked trainers train it; for model.fit also rule placements or a `_target_`) and its optimizer's spec, if the
    study has one. Conditions are equal when their names are."""

    name: str
    regularizer: Dict[str, Any] = field(compare=False)
    optimizer: Optional[Dict[str, Any]] = field(default=None, compare=False)
