"""Each penalty term of a condition (weightreg.conditions) that model.fit trains (weightreg.fit_runs) as a Keras
regularizer with the placement rules that put it on the model (weightreg.placement).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from weightreg.conditions import SHORT_FORM_KEYS, TERM_KEYS, penalty_terms
from weightreg.errors import ConfigError
from weightreg.penalties import placement_of
from weightreg.targets import target


def short_form(term: dict, key: str) -> DictConfig:
    """A short-form term (kind, strength, l1, l2) as the built-in studies' penalty spec, checked as theirs is."""
    from omegaconf.errors import OmegaConfBaseException

    from weightreg.config import RegularizerConfig
    from weightreg.params import omegaconf_message
    from weightreg.validation import validate_regularizer

    try:
        spec = OmegaConf.merge(OmegaConf.structured(RegularizerConfig), {k: term[k] for k in ("kind", "strength", "l1", "l2") if k in term})
    except OmegaConfBaseException as error:
        raise ConfigError(f"{key}.{omegaconf_message(error)}") from None
    validate_regularizer(spec, key)
    return spec


def penalty_pair(term: dict) -> tuple[float, float]:
    from weightreg.conditions import penalty_pair as builtin_pair

    return builtin_pair(short_form(term, "regularizer")) if "_target_" not in term else (0.0, 0.0)


def keras_penalty(term: dict, key: str):
    """A Keras regularizer: the l1, l2, l1_l2 short forms (as the built-in studies make them), or any regularizer
    class through `_target_`."""
    import keras
    from hydra.utils import instantiate

    from weightreg.regularizers import keras_regularizer

    if "_target_" in term:
        target(term, key)  # importable and callable, else one error naming the key
        try:
            regularizer = instantiate({k: v for k, v in term.items() if k not in (*TERM_KEYS, *SHORT_FORM_KEYS)})
        except Exception as error:  # e.g. an argument the class does not take
            cause = error.__cause__ or error
            raise ConfigError(f"{key}._target_={term['_target_']!r} failed: {type(cause).__name__}: "
                              f"{str(cause).splitlines()[0] if str(cause) else ''}") from None
        if not isinstance(regularizer, keras.regularizers.Regularizer):
            raise ConfigError(f"{key}._target_={term['_target_']!r} gives {type(regularizer).__name__}; expected a keras regularizer")
        return regularizer
    regularizer = keras_regularizer(short_form(term, key))
    if regularizer is None:
        raise ConfigError(f"{key}.kind={term.get('kind', 'none')!r}: a term placed on the model; expected l1, l2, l1_l2 or a _target_")
    return regularizer


def placed_terms(regularizer: dict) -> list:
    """(Keras regularizer, placement rules) of each penalty term; errors name the term's key."""
    from weightreg.placement import rules

    terms = penalty_terms(regularizer)
    extras = len(regularizer.get("extra", []))
    keys = ["regularizer"] * (len(terms) - extras) + [f"regularizer.extra[{i}]" for i in range(extras)]
    return [(keras_penalty(term, key), rules(placement_of(term), f"{key}.placement")) for term, key in zip(terms, keys)]
