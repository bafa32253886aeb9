"""Where the training stage trains, from the environment: WEIGHTREG_LAUNCHER and the SLURM settings
(weightreg.cluster submits the jobs).

Variables (read only by the training stage):
    WEIGHTREG_LAUNCHER          local | slurm
    WEIGHTREG_SLURM_PARTITION   partition (default: the cluster's default partition)
    WEIGHTREG_SLURM_JOBS        at most this many jobs per study (default: one per stack)
    WEIGHTREG_SLURM_CPUS        CPUs per job (default: train.threads)
    WEIGHTREG_SLURM_MEM_GB      memory per job in GB (default: the partition's default)
    WEIGHTREG_SLURM_TIME_MIN    time limit per job in minutes (default: 1440)
    WEIGHTREG_SLURM_RETRIES     submissions after the first for a job that ended without a result (default: 3)
    WEIGHTREG_SLURM_FOLDER      submitit's folder (scripts, logs, pickles); default <checkpoints>/slurm, a
                                folder every node must see (the project's own checkpoints live there too)
    WEIGHTREG_SLURM_POLL_S      seconds between looks at the queue (default: 5)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from weightreg.errors import ConfigError

LAUNCHER = "WEIGHTREG_LAUNCHER"
LAUNCHERS = ("local", "slurm")
PREFIX = "WEIGHTREG_SLURM_"


@dataclass(frozen=True)
class SlurmSettings:
    partition: str | None = None
    jobs: int | None = None
    cpus: int | None = None
    mem_gb: float | None = None
    time_min: int = 1440
    retries: int = 3
    folder: Path | None = None
    poll_s: float = 5.0


def _number(environ: Mapping[str, str], name: str, kind, low, what: str):
    text = environ.get(PREFIX + name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value >= low:
        raise ConfigError(f"{PREFIX}{name}={text!r}: expected {what}")
    return value


def settings_from_environment(environ: Mapping[str, str] | None = None) -> SlurmSettings | None:
    """None for a local run; the SLURM settings otherwise. Raises ConfigError naming the variable, its value and
    what is expected, for any value that cannot be used."""
    environ = os.environ if environ is None else environ
    launcher = environ.get(LAUNCHER, "").strip() or "local"
    if launcher not in LAUNCHERS:
        raise ConfigError(f"{LAUNCHER}={environ.get(LAUNCHER)!r}: expected one of {', '.join(LAUNCHERS)} "
                          "(local: train in this process; slurm: submit each stack as a SLURM job)")
    if launcher == "local":
        return None
    defaults = SlurmSettings()
    retries = _number(environ, "RETRIES", int, 0, "an integer >= 0")
    time_min = _number(environ, "TIME_MIN", int, 1, "an integer >= 1 (minutes)")
    poll_s = _number(environ, "POLL_S", float, 0.1, "a number of seconds >= 0.1")
    folder = environ.get(PREFIX + "FOLDER", "").strip()
    return SlurmSettings(
        partition=environ.get(PREFIX + "PARTITION", "").strip() or None,
        jobs=_number(environ, "JOBS", int, 1, "an integer >= 1"),
        cpus=_number(environ, "CPUS", int, 1, "an integer >= 1"),
        mem_gb=_number(environ, "MEM_GB", float, 0.001, "a number of GB > 0"),
        time_min=defaults.time_min if time_min is None else time_min,
        retries=defaults.retries if retries is None else retries,
        folder=Path(folder) if folder else None,
        poll_s=defaults.poll_s if poll_s is None else poll_s,
    )
