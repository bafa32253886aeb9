"""Hydra `_target_`s of a study (data, model, optimizer, regularizer, callbacks): imported and called with the
keywords each declares, and every failure turned into one ConfigError naming the key, the path and why."""

from __future__ import annotations

import inspect
import logging
from typing import Callable

from omegaconf import DictConfig

from weightreg.errors import ConfigError, UserError


def target(spec: DictConfig, key: str) -> Callable:
    from hydra.utils import get_object

    path = spec["_target_"]
    hydra_log = logging.getLogger("hydra.utils")  # it logs the failure at length before raising it: one line here instead
    disabled, hydra_log.disabled = hydra_log.disabled, True
    try:
        found = get_object(path)
    except Exception:  # ImportError, AttributeError, ... : Hydra wraps them
        raise ConfigError(f"{key}._target_={path!r}: cannot be imported ({import_failure(str(path))}); expected a dotted "
                          "path to a callable on PYTHONPATH") from None
    finally:
        hydra_log.disabled = disabled
    if not callable(found):
        raise ConfigError(f"{key}._target_={path!r}: not callable; expected a function or class")
    return found


def import_failure(path: str) -> str:
    """Why a dotted path does not import, in a few words: the longest importable module and the missing name after it,
    or the error the module raised while importing."""
    import importlib

    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is not None and (module == error.name or module.startswith(f"{error.name}.")):
                continue  # this prefix is not a module: try a shorter one
            return f"importing {module} failed: ModuleNotFoundError: {error}"
        except Exception as error:  # the module exists but fails to import
            return f"importing {module} failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        for name in parts[end:]:
            if not hasattr(found, name):
                return f"{'.'.join(parts[:parts.index(name, end)]) or module} has no attribute {name!r}"
            found = getattr(found, name)
        return "Hydra could not resolve it"
    return f"no module named {parts[0]!r}"


def declared(function: Callable, offered: dict) -> dict:
    """The keywords among `offered` that the callable declares (all of them if it takes **kwargs)."""
    parameters = inspect.signature(function).parameters
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return offered
    return {k: v for k, v in offered.items() if k in parameters}


def call_target(spec: DictConfig, key: str, offered: dict):
    from hydra.utils import instantiate

    function = target(spec, key)
    try:
        return instantiate(spec, **declared(function, offered), _convert_="all")
    except UserError:  # a built-in target's own one-line error (e.g. csv_file's), already naming what is wrong
        raise
    except Exception as error:
        if isinstance(error.__cause__, UserError):  # Hydra wraps what the target raised
            raise error.__cause__ from None
        # the user's code failed: say where, keep its message
        cause = error.__cause__ or error
        raise ConfigError(f"{key}._target_={spec['_target_']!r} failed: {type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}") from None
