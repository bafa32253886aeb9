import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = ["train.epochs=30", "train.history_every=5", "n_seeds=3"]


def run(args, cwd, check=True):
    """Run a command with the project's environment first on PATH (as `make` does)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture
def repo_copy(tmp_path):
    """A fresh git + DVC repository holding this project's pipeline files, with tiny params."""
    from weightreg.compose import composed_params

    dest = tmp_path / "repo"
    dest.mkdir()
    for name in ("conf", "src", "dvc.yaml", ".gitignore"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, dest / name)
    shutil.rmtree(dest / "src" / "weightreg.egg-info", ignore_errors=True)
    (dest / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    (dest / "params.yaml").write_text(composed_params(TINY))
    run(["git", "init", "-q"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], dest)
    return dest
