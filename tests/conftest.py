import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = ["train.epochs=30", "train.history_every=5", "n_seeds=3"]
SHARED_ARCHIVE = ROOT.parent / "shared" / "data" / "aclImdb_v1-labeled.tar.gz"
MOONS_STUDIES = ("moons_case_study", "moons_l2_grid", "moons_penalties", "moons_placement", "moons_fine_grid",
                 "moons_confirm", "moons_schedule")
IMDB_STUDIES = ("imdb_mlp", "imdb_cnn", "imdb_lstm")
TINY_IMDB_SIZES = ["n_seeds=2", "train.epochs=1", "data.max_train=200", "data.max_test=200", "data.val_size=200",
                   "data.maxlen=30", "data.vocab_size=300", "data.num_words=100"]


def tiny_study(study: str) -> list[str]:
    """One study of the pipeline at a tiny size (every study states its own sizes, so each is overridden)."""
    if study in IMDB_STUDIES:
        overrides = TINY_IMDB_SIZES
    elif study == "moons_schedule":
        overrides = ["train.epochs=40", *TINY[1:]]  # longer than the others: its schedule has steps
    else:
        overrides = TINY
    return [f"studies.{study}.{override}" for override in overrides]


CUSTOM_STUDIES = ("digits_mlp",)
TINY_PIPELINE = [override for study in (*MOONS_STUDIES, *IMDB_STUDIES) for override in tiny_study(study)] + [
    f"custom_studies.{study}.{override}" for study in CUSTOM_STUDIES for override in ("n_seeds=2", "train.epochs=2")]


def project_env():
    """The environment `make` gives commands: the project's venv first on PATH, the shared IMDB archive."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    if SHARED_ARCHIVE.is_file():
        env.setdefault("WEIGHTREG_IMDB_ARCHIVE", str(SHARED_ARCHIVE))
    return env


def run(args, cwd, check=True, env=None):
    """Run a command with the project's environment (as `make` does), plus any `env` variables."""
    result = subprocess.run(args, cwd=cwd, env={**project_env(), **(env or {})}, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture
def repo_copy(tmp_path):
    """A fresh git + DVC repository holding this project's pipeline files, with tiny params."""
    from weightreg.compose import composed_params

    dest = tmp_path / "repo"
    dest.mkdir()
    for name in ("conf", "src", "own", "dvc.yaml", ".gitignore", ".dvcignore", "pyproject.toml", "constraints.txt"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, dest / name)
    shutil.rmtree(dest / "src" / "weightreg.egg-info", ignore_errors=True)
    (dest / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    (dest / "params.yaml").write_text(composed_params(TINY_PIPELINE))
    run(["git", "init", "-q"], dest)
    commit_all(dest, "init")
    return dest


def commit_all(repo, message):
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], repo)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real single-node SLURM scheduler (tests/slurm_cluster.py) for the session; SLURM_CONF points at it. Where it
    cannot start: skipped on a developer's machine, a failure under CI=true or WEIGHTREG_REQUIRE_SLURM=1 (.ci/run
    installs the packages and sets the latter)."""
    from slurm_cluster import SlurmCluster, SlurmUnavailable

    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmUnavailable as error:
        if os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get("WEIGHTREG_REQUIRE_SLURM") == "1":
            pytest.fail(f"the SLURM test cluster did not start (CI / WEIGHTREG_REQUIRE_SLURM): {error}", pytrace=False)
        pytest.skip(f"no SLURM test cluster here: {str(error).splitlines()[0]}")
    yield cluster
    cluster.stop()
