"""A study's conditions, for every trainer: the baseline, then the regularizer (and optimizer) crossed with every sweep
axis, each penalty a plain mapping; and the one naming of a condition by its penalty terms:

    l2_0.001   l1_l2_1e-05+0.0001   l2_1e-06@kernel+recurrent   l2_0.001~schedule   adamw_0.0005@kernel
"""

from __future__ import annotations

import itertools
from typing import Any, List

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.config import Condition, Penalty, RegularizerConfig
from weightreg.errors import ConfigError
from weightreg.params import BASELINE, omegaconf_message
from weightreg.penalties import placement_of


def conditions(cfg: DictConfig, typed: bool = False) -> List[Condition]:
    """The baseline (no penalty, the study's optimizer), then the regularizer and optimizer crossed with every sweep axis.
    typed (the stacked trainers' spec): each penalty is checked against, and completed with the defaults of, the short
    form they train (weightreg.config.RegularizerConfig) before it is named."""
    base_regularizer, base_optimizer = plain(cfg.regularizer), plain(cfg.get("optimizer"))
    complete = typed_penalty if typed else (lambda reg, where: reg)
    found = [Condition(BASELINE, complete({"kind": "none", "placement": []}, "baseline"), base_optimizer)] if cfg.baseline else []
    base = complete(base_regularizer, "regularizer")
    axes = [str(axis) for axis in cfg.sweep]
    for values in itertools.product(*[list(v) for v in cfg.sweep.values()]):
        spec = OmegaConf.create({"regularizer": base_regularizer, "optimizer": base_optimizer})
        regularizer = base
        for axis, value in zip(axes, values):
            where = f"sweep.{axis}={value!r}"
            try:
                OmegaConf.update(spec, axis, value, merge=True)
            except (OmegaConfBaseException, ValueError, KeyError, IndexError) as error:
                message = omegaconf_message(error) if isinstance(error, OmegaConfBaseException) else str(error).splitlines()[0]
                raise ConfigError(f"{where}: {message}; expected a key and value that fit the study's {axis.split('.')[0]}") from None
            regularizer = complete(plain(spec.regularizer), where)  # so that an error names the first axis that breaks it
        optimizer = plain(spec.optimizer)
        name = condition_name(regularizer, optimizer, base_optimizer)
        if name not in [c.name for c in found]:  # e.g. regularizer=none beside the baseline
            found.append(Condition(name, regularizer, optimizer))
    return found


def plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True) if OmegaConf.is_config(node) else node


def typed_penalty(regularizer: dict, where: str) -> dict:
    """A penalty in the short form the stacked trainers take, every default filled in; one error naming the sweep."""
    try:
        return plain(OmegaConf.merge(OmegaConf.structured(RegularizerConfig), regularizer))
    except OmegaConfBaseException as error:
        raise ConfigError(f"{where}: {omegaconf_message(error)}") from None


def penalty_pair(reg) -> tuple[float, float]:
    """(l1, l2) coefficients of a short-form penalty (a mapping: kind, strength, l1, l2, schedule); the schedule's final
    strength where one is set."""
    schedule = reg.get("schedule") or []
    strength = schedule[-1]["strength"] if len(schedule) else reg.get("strength", 0.0)
    kind = Penalty(reg.get("kind", "none"))
    l1 = strength if reg.get("l1") is None else reg.get("l1")
    l2 = strength if reg.get("l2") is None else reg.get("l2")
    return {Penalty.l1: (float(strength), 0.0), Penalty.l2: (0.0, float(strength)),
            Penalty.l1_l2: (float(l1), float(l2))}.get(kind, (0.0, 0.0))


TERM_KEYS = ("placement", "extra", "schedule")  # a penalty term's keys that are not the penalty's own
SHORT_FORM_KEYS = ("kind", "strength", "l1", "l2", "weight_decay")  # not passed to a `_target_` regularizer


def arguments_text(values: dict) -> str:
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(values.items()))


def term_name(term) -> str:
    """One penalty term: `l2_0.001`, `l1_l2_1e-05+0.0001`, `L1L2(l1=0.01,l2=0)` (a `_target_`), then `@<placement>` unless
    it is the hidden kernel alone of a single term, and `~schedule` for a scheduled strength."""
    from weightreg.placement import placement_text

    if "_target_" in term:
        name = f"{term['_target_'].rsplit('.', 1)[-1]}({arguments_text({k: v for k, v in term.items() if k not in (*TERM_KEYS, *SHORT_FORM_KEYS, '_target_')})})"
    else:
        l1, l2 = penalty_pair(term)
        kind = Penalty(term.get("kind", "none")).value
        name = {"l1": f"l1_{l1:g}", "l2": f"l2_{l2:g}", "l1_l2": f"l1_l2_{l1:g}+{l2:g}"}.get(kind, BASELINE)
    placement = placement_text(placement_of(term))
    if placement != "kernel" or len(term.get("extra") or []):
        name += f"@{placement}"
    return name + ("~schedule" if len(term.get("schedule") or []) else "")


def condition_name(regularizer, optimizer=None, base_optimizer=None) -> str:
    """The one name of a condition, built-in or of your own model: its penalty terms joined by `&`, decoupled weight decay
    on placements as `adamw_<rate>@<placement>`, and an optimizer that differs from the study's as `+<Class>(<changes>)`.
    E.g. `l2_0.001`, `l2_1e-06@kernel+recurrent`, `l2_0.001~schedule`, `l1_l2_1e-05+0.0001@kernel&l2_0.0001@bias`,
    `adamw_0.0005@kernel+output`, `l2_0.001@hidden*:kernel+bias`, `none+AdamW(weight_decay=0.0004)`."""
    from weightreg.placement import placement_text

    terms = penalty_terms(regularizer)
    if not terms and (regularizer.get("weight_decay") or 0) > 0:
        name = f"adamw_{regularizer['weight_decay']:g}@" + placement_text(placement_of(regularizer))
    else:
        name = "&".join(term_name(term) for term in terms) if terms else BASELINE
    if optimizer is not None and optimizer != base_optimizer:
        changed = {k: v for k, v in optimizer.items() if base_optimizer.get(k) != v and k not in ("_target_", "_partial_")}
        name += f"+{optimizer['_target_'].rsplit('.', 1)[-1]}({arguments_text(changed)})"
    return name


def penalty_terms(reg) -> list:
    """The spec's penalties: itself (unless kind none; a `_target_` regularizer always), then each extra term."""
    main = [] if "_target_" not in reg and Penalty(reg.get("kind", "none")) == Penalty.none else [reg]
    return main + list(reg.get("extra") or [])
