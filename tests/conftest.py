import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = ["train.epochs=30", "train.history_every=5", "n_seeds=3"]
ARCHIVE_VARIABLE = "WEIGHTREG_IMDB_ARCHIVE"
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


OWN_STUDIES = ("digits_mlp",)  # studies of a user's own model (own/)
TINY_PIPELINE = [override for study in (*MOONS_STUDIES, *IMDB_STUDIES) for override in tiny_study(study)] + [
    f"studies.{study}.{override}" for study in OWN_STUDIES for override in ("n_seeds=2", "train.epochs=2")]


def write_archive(path: Path, reviews: dict[str, str | bytes], truncate: bool = False) -> Path:
    """A .tar.gz in the Stanford release's layout (aclImdb/<split>/<class>/<name>.txt), cut in half if `truncate`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in reviews.items():
            content = text if isinstance(text, bytes) else text.encode()
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2] if truncate else data)
    return path


def synthetic_reviews(train_per_class: int = 300, test_per_class: int = 120, seed: int = 0) -> dict[str, str]:
    """Reviews for the end-to-end tests, in place of the 84 MB release: words drawn from a Zipf-like vocabulary of
    800 made-up words, with a few sentiment words more frequent in their class (so a model can learn a little).
    Sizes cover the tests' largest tiny configs (val_size 200 + max_train 300 training reviews, max_test 200)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(800)])
    frequency = 1.0 / np.arange(1, len(words) + 1)
    frequency /= frequency.sum()
    sentiment = {"pos": ["great", "fun", "brilliant", "loved"], "neg": ["dull", "boring", "awful", "hated"]}
    reviews = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        for label in ("neg", "pos"):
            for i in range(per_class):
                text = list(rng.choice(words, size=int(rng.integers(10, 60)), p=frequency))
                for _ in range(int(rng.integers(1, 4))):
                    text.insert(int(rng.integers(0, len(text) + 1)), str(rng.choice(sentiment[label])))
                reviews[f"{split}/{label}/{i}_{7 if label == 'pos' else 3}.txt"] = " ".join(text)
    return reviews


_TINY_ARCHIVE: list[Path] = []


def tiny_archive() -> Path:
    """The tests' IMDB archive, written once per test process (the real 84 MB archive is for `make repro` only)."""
    if not _TINY_ARCHIVE:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="weightreg-imdb-"))
        _TINY_ARCHIVE.append(write_archive(folder / "aclImdb_tiny.tar.gz", synthetic_reviews()))
    return _TINY_ARCHIVE[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """`--dist loadgroup` (make test): the `@<group>` suffix pytest-xdist gives the ids of `xdist_group` tests, so that
    its scheduler sends a group to one worker. xdist 3.8 sets `item._nodeid`, which pytest 9 no longer reads (a node's
    id is `item._id`): without this every grouped test was scheduled on its own, and each worker built the pipeline."""
    if not getattr(config.option, "loadgroup", False):
        return
    # The scheduler queues the groups first, then single tests in this order, and each worker holds up to three queued
    # tests: slow tests first, so that the run ends on quick ones rather than one worker finishing a long test while
    # the others idle (measured: 120 s of one busy worker at the end); the built pipeline's readers outside its group
    # after the slow ones, by when the group's worker has built it. Its long readers are in the group: queued last
    # they were that tail (the reviewer block, 115 s), and the group's worker is free once its own tests are done.
    def queue_place(item) -> int:
        if "built_pipeline" in item.fixturenames and not item.get_closest_marker("xdist_group"):
            return 1
        return 0 if item.get_closest_marker("slow") else 2

    items.sort(key=queue_place)  # stable: collection order within each place
    from _pytest.nodeid import coerce_node_id

    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")


@pytest.fixture(scope="session", autouse=True)
def _tiny_archive_everywhere():
    """In-process code that reads $WEIGHTREG_IMDB_ARCHIVE (e.g. under `make test`, which exports the shared one)
    reads the tiny archive too; removed at the end of the session."""
    before = os.environ.get(ARCHIVE_VARIABLE)
    os.environ[ARCHIVE_VARIABLE] = str(tiny_archive())
    yield
    os.environ.pop(ARCHIVE_VARIABLE) if before is None else os.environ.__setitem__(ARCHIVE_VARIABLE, before)
    shutil.rmtree(tiny_archive().parent, ignore_errors=True)


def project_env():
    """The environment `make` gives commands (the project's venv first on PATH), with the tests' tiny IMDB archive in
    place of any archive the caller's environment names: no test reads ../shared."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1",
            ARCHIVE_VARIABLE: str(tiny_archive())}


def run(args, cwd, check=True, env=None):
    """Run a command with the project's environment (as `make` does), plus any `env` variables."""
    result = subprocess.run(args, cwd=cwd, env={**project_env(), **(env or {})}, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def tiny_settings() -> str:
    """TINY_PIPELINE as a block of conf/pipeline.yaml (after `_self_`, so it overrides every study's sizes): in a
    repository with it, `make params` composes the tiny pipeline, as the README's recipes expect."""
    import yaml

    tree: dict = {}
    for override in TINY_PIPELINE:
        key, value = override.split("=", 1)
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return "\n# The tests' tiny sizes (tests/conftest.py: TINY_PIPELINE)\n" + yaml.safe_dump(tree, sort_keys=False)


def make_repo(dest: Path) -> Path:
    """A fresh git + DVC repository at `dest` holding this project's pipeline files, its conf/ with tiny sizes, and
    `.venv` linked to the running venv (so the README's `.venv/bin/...` and `make` commands run as written)."""
    from weightreg.compose import composed_params

    dest.mkdir()
    for name in ("conf", "src", "own", "dvc.yaml", ".gitignore", ".dvcignore", "pyproject.toml", "constraints.txt", "Makefile"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, dest / name)
    shutil.rmtree(dest / "src" / "weightreg.egg-info", ignore_errors=True)
    (dest / ".dvc").mkdir()
    shutil.copy(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    with open(dest / "conf" / "pipeline.yaml", "a") as pipeline:
        pipeline.write(tiny_settings())
    verify = dest / "conf" / "verify.yaml"  # one run per study: the reviewer's verify retrains a stack per sampled study
    verify.write_text(re.sub(r"^sample: \d+", "sample: 1", verify.read_text(), count=1, flags=re.M))
    (dest / "params.yaml").write_text(composed_params(root=dest))
    run(["git", "init", "-q"], dest)
    link_venv(dest)
    commit_all(dest, "init")
    return dest


def link_venv(repo: Path) -> None:
    """`.venv` in the repository, a link to the running venv (not committed: an ignore rule of this clone only)."""
    (repo / ".venv").symlink_to(BIN.parent, target_is_directory=True)
    with open(repo / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write("/.venv\n")


@pytest.fixture
def repo_copy(tmp_path):
    """A fresh git + DVC repository holding this project's pipeline files, with tiny params."""
    return make_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def built_pipeline(tmp_path_factory) -> Path:
    """The tiny pipeline built once per test run (`dvc repro` of every stage) and committed. No test changes it: tests
    that need a built pipeline work on their own clone (`built_copy`). Under pytest-xdist the workers share it: the
    first to need it builds it in the run's common temporary folder while holding a lock, and a worker that needs it
    meanwhile waits. The tests that use it are in the xdist group "built_pipeline" (one worker, first in the queue under
    --dist loadgroup), except short ones, queued after the slow tests, by when it is built (`pytest_collection_modifyitems`)."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    folder = shared / "built"
    with FileLock(str(shared / "built.lock")):
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that stopped half-way
            folder.mkdir()
            repo = make_repo(folder / "repo")
            run(["dvc", "repro"], repo)
            commit_all(repo, "results")
            (folder / "done").touch()
    return folder / "repo"


def clone_built(built: Path, dest: Path, shared_cache: bool = True, targets: tuple[str, ...] = ()) -> Path:
    """A git clone of the built pipeline with every output checked out (or those of `dvc checkout <targets>`), as its
    author has it: its cache is the built repository's (objects and run cache; `shared_cache=False`: a copy, for a test
    that damages the cache)."""
    run(["git", "clone", "-q", str(built), str(dest)], dest.parent)
    link_venv(dest)
    if shared_cache:
        run(["dvc", "cache", "dir", "--local", str(built / ".dvc" / "cache")], dest)
    else:
        shutil.copytree(built / ".dvc" / "cache", dest / ".dvc" / "cache")
    run(["dvc", "checkout", *targets], dest)
    return dest


@pytest.fixture
def built_copy(built_pipeline, tmp_path) -> Path:
    """A clone of the built tiny pipeline, up to date (`dvc status` clean), for a test to change."""
    return clone_built(built_pipeline, tmp_path / "repo")


def commit_all(repo, message):
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], repo)


# A small multirun (two jobs): what every Hydra launcher must give bitwise (tests/test_sweeps.py, tests/test_cluster.py)
SWEEP = ["regularizer=l1,l2", "seed=0", "n_seeds=2", "train.epochs=20", "train.history_every=5"]


@pytest.fixture(scope="session")
def basic_sweep(tmp_path_factory) -> Path:
    """SWEEP through Hydra's basic launcher (`hydra.sweep.dir` is the returned folder), run once per test process for the
    tests that compare another launcher's runs with it; they share the xdist group "basic_sweep". No test changes it."""
    folder = tmp_path_factory.mktemp("sweeps") / "basic"
    run(["python", "-m", "weightreg.train", "-m", "hydra/launcher=basic", *SWEEP, f"hydra.sweep.dir={folder}"], ROOT)
    return folder


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


def composed_study(overrides: list[str], config_dir: Path | None = None):
    """A study as the command line composes it (conf/config.yaml), checked against the study schema."""
    from hydra import compose, initialize_config_dir

    from weightreg.schema import from_mapping

    with initialize_config_dir(config_dir=str(config_dir or ROOT / "conf"), version_base="1.3"):
        return from_mapping(compose(config_name="config", overrides=overrides))


def stacked_spec(overrides: list[str]):
    """The stacked trainers' spec (weightreg.config.Config) of a study the command line composes."""
    from weightreg.stacked_spec import stacked_config

    return stacked_config(composed_study(overrides))


# A tiny study of the tutorial's moons and MLP, written as every study is (the targets of conf/data/moons.yaml and
# conf/model/mlp.yaml): the stacked trainers know it.
MOONS_STUDY = {"study": "moons", "n_seeds": 1, "data_seed": 1, "data": {"_target_": "weightreg.datasets.moons"},
               "model": {"_target_": "weightreg.architectures.mlp"},
               "regularizer": {"kind": "l2", "strength": 1e-3, "placement": ["kernel"]}, "train": {"epochs": 3, "history_every": 1}}


def moons_study(**changes):
    from weightreg.schema import from_mapping

    return from_mapping({**MOONS_STUDY, **changes})
