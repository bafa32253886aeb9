"""Writing results so that an interrupted run never leaves a file that looks finished.

Every output is written beside its final path under a temporary name and renamed into place
only once complete (a rename is atomic on one file system).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

PAUSE_VARIABLE = "WEIGHTREG_PAUSE_BEFORE_RENAME"  # fault injection for tests: see pause_if_asked
PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "scikit-learn", "pandas", "scipy", "hydra-core", "dvc")


def remove_stale_temporaries(final: Path) -> None:
    """Temporaries of `final` left by a writer that was killed (SIGKILL skips `finally`)."""
    for stale in final.parent.glob(f".{final.name}.*.tmp"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the same folder; move it to `path` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    handle, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(handle)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        pause_if_asked(final, tmp_path)
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


def pause_if_asked(final: Path, tmp: Path) -> None:
    """Fault injection (tests): when $WEIGHTREG_PAUSE_BEFORE_RENAME names this file, say so in a marker beside
    the complete temporary and wait, so that a kill lands inside a write, between writing and renaming."""
    if os.environ.get(PAUSE_VARIABLE) == final.name:
        Path(f"{tmp}.paused.tmp").touch()  # a temporary of `final` too: the next write removes it
        time.sleep(3600)


KEPT_FILES = (".gitignore",)  # what DVC keeps in an output folder (which of its files git ignores): not the block's to drop


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder; it replaces `path` (and whatever was there, but its KEPT_FILES) only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        for name in KEPT_FILES:
            if (final / name).is_file() and not (tmp / name).exists():
                shutil.copy2(final / name, tmp / name)
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_arrays(arrays: dict, path: str | os.PathLike) -> None:
    """Named numpy arrays as one .npz file (a data stage's product), written atomically."""
    import numpy as np

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


CORRECT_FILE = "correct.npz"  # which test points each run (a row of runs.csv, same order) classified correctly


def save_correct(correct, path: Path) -> None:
    """(n_runs, n_test) bool as packed bits: the test-point data of paired bootstraps and tests."""
    import numpy as np

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, bits=np.packbits(correct, axis=1), n_test=np.int64(correct.shape[1]))


def load_correct(path: str | os.PathLike):
    """The matrix save_correct wrote, or None when the study has none."""
    import numpy as np

    path = Path(path)
    if not path.is_file():
        return None
    with np.load(path) as archive:
        return np.unpackbits(archive["bits"], axis=1, count=int(archive["n_test"])).astype(bool)


def write_json(data: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def machine() -> dict[str, str]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(), "cpus": str(os.cpu_count())}
