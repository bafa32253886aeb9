"""A study's conditions: the baseline and the regularizer crossed with every sweep axis, each named by its penalty.

    l2_0.001   l1_l2_1e-05+0.0001   l2_1e-06@kernel+recurrent   l2_0.001~schedule   adamw_0.0005@kernel
"""

from __future__ import annotations

import itertools
from typing import Any, List

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.config import BASELINE, Condition, Penalty, Placement, RegularizerConfig, omegaconf_message
from weightreg.errors import ConfigError


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
