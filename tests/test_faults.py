"""Faults: SIGKILL mid-stage, resuming from checkpoints, two repros at once, a damaged cache."""

import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from conftest import clone_built, commit_all, make_repo, project_env, run

pytestmark = pytest.mark.slow
TABLES = ("runs.csv", "histories.csv.gz", "surfaces.csv.gz")
DVC_LOCK_REFUSALS = ("Unable to acquire lock", "is busy, it is being blocked by")


def start(args, cwd, **env):
    """A command in its own process group, so that SIGKILL reaches DVC and the stage it runs."""
    return subprocess.Popen(args, cwd=cwd, env={**project_env(), **env}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def tables(folder):
    """A study's results without what legitimately differs between runs (time taken)."""
    return {name: pd.read_csv(folder / name) for name in TABLES}


def assert_same_tables(a, b):
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A repository with train@moons_case_study built and committed (and how long its `dvc repro` took), built once
    for the tests below; they share an xdist group, so that one worker builds it."""
    repo = make_repo(tmp_path_factory.mktemp("trained") / "repo")
    began = time.perf_counter()
    run(["dvc", "repro", "train@moons_case_study"], repo)
    duration = time.perf_counter() - began
    commit_all(repo, "trained")
    return repo, duration


@pytest.fixture
def trained_copy(trained, tmp_path):
    """A clone of `trained` as its author has it (outputs checked out; its own copy of the cache and run cache, which
    the test may damage): what `dvc repro train@moons_case_study` leaves in a fresh repository."""
    return clone_built(trained[0], tmp_path / "repo", shared_cache=False, targets=("--with-deps", "train@moons_case_study"))


@pytest.mark.xdist_group("moons_trained")
def test_sigkill_at_random_points_never_leaves_a_finished_looking_result_and_repro_recovers(trained, trained_copy):
    repo_copy, duration = trained_copy, trained[1]
    target, folder = "train@moons_case_study", repo_copy / "results" / "moons_case_study"
    reference = tables(folder)
    for delay in sorted(random.Random(0).uniform(0.5, duration) for _ in range(3)):
        process = start(["dvc", "repro", "--force", target], repo_copy)
        time.sleep(delay)
        kill(process)
        for name in TABLES:  # each file is absent or complete, never partial
            if (folder / name).exists():
                pd.testing.assert_frame_equal(pd.read_csv(folder / name),
                                              reference[name], check_exact=True)
        run(["dvc", "repro", target], repo_copy)
        assert_same_tables(tables(folder), reference)
        # a killed writer's temporary folder sits beside the study's (results/.moons_case_study.*.tmp); it can outlive the
        # repro when DVC restores the outputs from its run cache (no writer runs): DVC and git must ignore it
        for leftover in folder.parent.glob(f".{folder.name}.*.tmp"):
            assert run(["dvc", "check-ignore", str(leftover.relative_to(repo_copy))], repo_copy, check=False).returncode == 0
        assert "up to date" in run(["dvc", "status", target], repo_copy).stdout


@pytest.mark.xdist_group("moons_trained")
def test_sigkill_inside_a_write_leaves_no_finished_looking_file_and_repro_recovers(trained_copy):
    """A kill that lands on purpose between writing runs.csv completely and renaming it into place: the study's
    tables are written in a temporary folder that replaces results/<study> only once all of them are complete."""
    repo_copy = trained_copy
    target, folder = "train@moons_case_study", repo_copy / "results" / "moons_case_study"
    reference = tables(folder)
    process = start(["dvc", "repro", "--force", target], repo_copy, WEIGHTREG_PAUSE_BEFORE_RENAME="runs.csv")
    deadline = time.time() + 300
    pattern = ".moons_case_study.*.tmp/.runs.csv.*.paused.tmp"
    while not list(folder.parent.glob(pattern)) and time.time() < deadline:
        time.sleep(0.2)
    kill(process)
    (marker,) = folder.parent.glob(pattern)
    written = pd.read_csv(str(marker).removesuffix(".paused.tmp"))
    pd.testing.assert_frame_equal(written, reference["runs.csv"], check_exact=True)  # complete, yet not in place
    assert not (folder / "runs.csv").exists()
    assert "runs.csv" in run(["dvc", "status", target], repo_copy).stdout  # DVC sees the missing output
    run(["dvc", "repro", target], repo_copy)  # DVC restores the outputs from its run cache: no writer runs
    assert_same_tables(tables(folder), reference)
    assert "up to date" in run(["dvc", "status", target], repo_copy).stdout
    [leftover] = folder.parent.glob(".moons_case_study.*.tmp")  # the killed writer's folder: ignored by DVC and git
    assert run(["dvc", "check-ignore", str(leftover.relative_to(repo_copy))], repo_copy, check=False).returncode == 0
    run(["dvc", "repro", "--force", target], repo_copy)  # the next writer of the study's folder removes it
    assert not list(folder.parent.glob(".moons_case_study.*"))
    assert_same_tables(tables(folder), reference)


def test_imdb_stage_killed_after_an_epoch_resumes_from_its_checkpoint_to_the_same_result(repo_copy):
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["studies"]["imdb_cnn"]["train"]["epochs"] = 4
    params["studies"]["imdb_cnn"]["n_seeds"] = 1
    params["studies"]["imdb_cnn"]["sweep"] = {"regularizer": [{"strength": 5.0e-4}]}
    params["studies"]["imdb_cnn"]["sources"] = {}  # they name conditions this narrowed sweep no longer has
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params))
    run(["dvc", "repro", "encode@imdb_cnn"], repo_copy)
    stage = [sys.executable, "-m", "weightreg.train", "stage", "imdb_cnn"]
    run([*stage, "--out", "reference"], repo_copy)
    assert not list((repo_copy / ".checkpoints").glob("*/*")), "checkpoints outlived a finished study"

    process = start([*stage, "--out", "resumed"], repo_copy)
    deadline = time.time() + 300
    while not list((repo_copy / ".checkpoints").glob("imdb_cnn-*/stack_*/state.npz")) and time.time() < deadline:
        time.sleep(0.2)
    kill(process)  # the stack has at least one epoch saved; the study is far from done
    assert not (repo_copy / "resumed" / "runs.csv").exists()
    saved = list((repo_copy / ".checkpoints").glob("imdb_cnn-*/stack_*/state.npz"))
    assert saved, "no checkpoint was written before the kill"
    run([*stage, "--out", "resumed"], repo_copy)
    assert_same_tables(tables(repo_copy / "resumed"), tables(repo_copy / "reference"))
    assert not list((repo_copy / ".checkpoints").glob("*/*"))


def test_two_repros_at_once_one_waits_or_stops_with_the_lock_message_and_nothing_is_corrupted(repo_copy):
    target, folder = "aggregate@moons_case_study", repo_copy / "results" / "moons_case_study"
    processes = [start(["dvc", "repro", target], repo_copy) for _ in range(2)]
    outputs = [process.communicate() for process in processes]
    codes = [process.returncode for process in processes]
    assert 0 in codes
    for code, (stdout, stderr) in zip(codes, outputs):
        if code != 0:
            # DVC's own refusal (the repository lock, or the read-write lock on a stage's files), not any other failure
            assert any(message in stdout + stderr for message in DVC_LOCK_REFUSALS), stdout + stderr
    assert "up to date" in run(["dvc", "status", target], repo_copy).stdout
    single = tables(folder)
    run(["dvc", "repro", "--force", "train@moons_case_study"], repo_copy)
    assert_same_tables(tables(folder), single)


@pytest.mark.xdist_group("moons_trained")
def test_a_damaged_cache_file_is_detected(trained_copy):
    repo_copy, target = trained_copy, "train@moons_case_study"
    lock = yaml.safe_load((repo_copy / "dvc.lock").read_text())
    outs = {o["path"]: o["md5"] for o in lock["stages"][target]["outs"]}
    md5 = outs["results/moons_case_study/runs.csv"]
    cached = repo_copy / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.chmod(0o644)
    cached.write_text(cached.read_text().replace("moons_case_study", "moons_case_stud", 1))
    (repo_copy / "results" / "moons_case_study" / "runs.csv").unlink()
    run(["dvc", "checkout", target], repo_copy, check=False)
    status = run(["dvc", "status", target], repo_copy).stdout
    assert [" ".join(line.split()) for line in status.strip().splitlines()] == [
        f"{target}:", "changed outs:", "not in cache: results/moons_case_study/runs.csv"], status  # as README says
    run(["dvc", "repro", target], repo_copy)  # rebuilt, not taken from the damaged copy
    assert "up to date" in run(["dvc", "status", target], repo_copy).stdout
    assert "moons_case_study" in (repo_copy / "results" / "moons_case_study" / "runs.csv").read_text().splitlines()[1]
