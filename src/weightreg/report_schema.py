"""A study's `report:` block: the question the report answers for it, the figures it draws and the checks it makes.
Only the report stage reads it; training never does (a reworded question reruns the report alone)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import List, Optional

from weightreg.params import BASELINE


class Figure(str, enum.Enum):
    """A figure the report draws for a study (each where the study's tables hold what it shows)."""

    learning_curves = "learning_curves"  # mean curves of each penalty over no penalty's, per variation
    strength = "strength"  # validation and test metric against strength (more than two strengths)
    layer_norms = "layer_norms"  # each layer's weight norm relative to no penalty
    confusion = "confusion"  # test confusion matrix without penalty and each penalty's change (binary tasks)
    decision_surface = "decision_surface"  # no penalty's and the best-on-validation condition's surfaces (2-D inputs)


@dataclass
class Check:
    """A bound the report checks one condition's mean of a metric against, with the reason for the bound."""

    metric: str = "val/accuracy"
    condition: str = BASELINE
    at_least: Optional[float] = None  # exactly one of at_least, at_most
    at_most: Optional[float] = None
    why: str = ""


@dataclass
class Report:
    """What the report says of a study: the question it answers, its figures and its checks. Only the report
    stage reads it; training never does."""

    question: str = "Does each condition beat no penalty?"
    figures: List[Figure] = field(default_factory=lambda: list(Figure))
    checks: List[Check] = field(default_factory=list)
