"""What every stage shares: params.yaml as DVC tracked it, the baseline condition's name, OmegaConf's messages led by
their key, and a config's hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.errors import ConfigError

BASELINE = "none"  # the unpenalized condition, trained on the same seeds for paired comparisons


def load_params(path: str | Path) -> DictConfig:
    """params.yaml as DVC tracked it: every stage reads its settings from here, never from conf/ (dvc #10186)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; expected params.yaml composed from conf/ (make params)")
    return OmegaConf.load(path)


def omegaconf_message(error: OmegaConfBaseException) -> str:
    """OmegaConf's first line, led by the key it concerns (its message names the key on a later line)."""
    first = str(error).splitlines()[0]
    key = getattr(error, "full_key", None)
    return f"{key}: {first}" if key and key not in first else first


def config_hash(cfg: DictConfig) -> str:
    """Short, stable key of a resolved config: two runs share it only if every setting they train by is equal (the
    `report:` block is read by the report alone, so a reworded question keeps the key, run.json's and a result folder's)."""
    settings = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    text = json.dumps({key: value for key, value in settings.items() if key != "report"}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
