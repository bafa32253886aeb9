"""Command-line typo hints: the closest schema key for an override the schema lacks."""

from __future__ import annotations

import difflib

from omegaconf import OmegaConf

from weightreg.config import Published, RefineConfig, RegularizerConfig
from weightreg.schema import Study


def unknown_keys(overrides: list[str]) -> list[str]:
    """A line for each `key=value` command-line override whose key the schema lacks, with the closest valid
    key (Hydra's own message follows, suggesting `+key` to add one)."""
    valid = schema_keys(OmegaConf.to_container(OmegaConf.structured(Study(refine=RefineConfig(), published=Published()))))
    valid.update({f"regularizer.{key}": "value" for key in RegularizerConfig.__dataclass_fields__})  # the short form's keys
    # sweep, sources: any key below; data, model, optimizer: the keywords of their targets
    open_ended = [key for key, value in valid.items() if value == "dict" and key != "regularizer"] + list(TARGETS)
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
TARGETS = ("data", "model", "optimizer")


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
