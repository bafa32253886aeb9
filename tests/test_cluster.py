"""Training on a real SLURM scheduler (tests/slurm_cluster.py, nothing mocked): a study's stacks as SLURM jobs
give the local run's bytes, a Hydra multirun through hydra/launcher=slurm gives the basic launcher's runs, and a
job cancelled mid-training is submitted again and the final bytes are the same."""

import json
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, SWEEP, TINY_PIPELINE, TINY_IMDB_SIZES, clone_built, commit_all, make_repo, project_env, run
from weightreg.cluster import job_groups
from weightreg.slurm_settings import settings_from_environment
from weightreg.compose import composed_params
from weightreg.errors import ConfigError

BYTES = ("runs.csv", "correct.npz", "histories.csv.gz", "surfaces.csv.gz")
# 2 conditions x 2 variations x 3 seeds = 12 members in 3 stacks of 4: two jobs (stacks 1-2, stack 3)
SLURM = {"WEIGHTREG_LAUNCHER": "slurm", "WEIGHTREG_SLURM_JOBS": "2", "WEIGHTREG_SLURM_CPUS": "1", "WEIGHTREG_SLURM_POLL_S": "1"}


def test_bad_launcher_settings_name_the_variable_the_value_and_what_is_expected():
    with pytest.raises(ConfigError, match=r"^WEIGHTREG_LAUNCHER='bogus': expected one of local, slurm"):
        settings_from_environment({"WEIGHTREG_LAUNCHER": "bogus"})
    with pytest.raises(ConfigError, match=r"^WEIGHTREG_SLURM_JOBS='0': expected an integer >= 1$"):
        settings_from_environment({"WEIGHTREG_LAUNCHER": "slurm", "WEIGHTREG_SLURM_JOBS": "0"})
    with pytest.raises(ConfigError, match=r"^WEIGHTREG_SLURM_MEM_GB='lots': expected a number of GB > 0$"):
        settings_from_environment({"WEIGHTREG_LAUNCHER": "slurm", "WEIGHTREG_SLURM_MEM_GB": "lots"})
    assert settings_from_environment({}) is None and settings_from_environment({"WEIGHTREG_LAUNCHER": "local"}) is None
    settings = settings_from_environment({"WEIGHTREG_LAUNCHER": "slurm", "WEIGHTREG_SLURM_PARTITION": "cpu"})
    assert settings.partition == "cpu" and settings.jobs is None and settings.retries == 3
    bounds = [(0, 4), (4, 8), (8, 12)]
    assert job_groups(bounds, None) == [[b] for b in bounds]
    assert job_groups(bounds, 2) == [[(0, 4), (4, 8)], [(8, 12)]]
    assert job_groups(bounds, 9) == [[b] for b in bounds]


@pytest.mark.slow
def test_a_bad_launcher_stops_the_command_with_one_line(tmp_path):
    result = run(["python", "-m", "weightreg.train", "n_seeds=1", "train.epochs=2", f"hydra.run.dir={tmp_path}"], ROOT,
                 check=False, env={"WEIGHTREG_LAUNCHER": "bogus"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: WEIGHTREG_LAUNCHER='bogus': expected one of local, slurm "
        "(local: train in this process; slurm: submit each stack as a SLURM job)")
    assert not list(tmp_path.glob("result-*/runs.csv"))


def study_bytes(folder):
    return {name: (folder / name).read_bytes() for name in BYTES}


TARGET = "train@moons_case_study"


@pytest.fixture(scope="module")
def trained_stacks(tmp_path_factory):
    """A repository with moons_case_study in stacks of 4 (3 stacks, so that its stacks can go to different jobs),
    trained locally (`dvc repro train@moons_case_study`) and committed: built once for the tests below, which share
    an xdist group, so that one worker builds it."""
    repo = make_repo(tmp_path_factory.mktemp("stacks") / "repo")
    (repo / "params.yaml").write_text(composed_params([*TINY_PIPELINE, "studies.moons_case_study.train.max_stack=4"]))
    commit_all(repo, "stacks of 4")
    run(["dvc", "repro", TARGET], repo)
    commit_all(repo, "trained locally")
    return repo


@pytest.fixture
def small_stacks(trained_stacks, tmp_path):
    """A clone of trained_stacks as its author has it (the locally trained outputs checked out, its own copy of the
    cache): what `dvc repro train@moons_case_study` leaves in a fresh repository."""
    return clone_built(trained_stacks, tmp_path / "repo", shared_cache=False, targets=("--with-deps", TARGET))


def trained_locally_then_removed(repo):
    """The study's folder, its locally trained result bytes and run.json, then the folder removed (the next repro runs
    with --no-run-cache: DVC would restore the outputs from its run cache instead of training)."""
    folder = repo / "results" / "moons_case_study"
    local, record = study_bytes(folder), json.loads((folder / "run.json").read_text())
    shutil.rmtree(folder)
    return folder, local, record


@pytest.mark.slow
@pytest.mark.xdist_group("slurm_stacks")
def test_dvc_repro_with_the_stacks_on_slurm_writes_the_local_bytes(small_stacks, slurm):
    repo, target = small_stacks, TARGET
    folder, local, record = trained_locally_then_removed(repo)
    lock, local_keys = (repo / "dvc.lock").read_text(), set(record)

    run(["dvc", "repro", "--force", "--no-run-cache", target], repo, env=SLURM)
    assert study_bytes(folder) == local  # byte for byte
    launcher = json.loads((folder / "run.json").read_text())["launcher"]
    assert launcher["kind"] == "slurm" and [job["stacks"] for job in launcher["jobs"]] == [[[0, 4], [4, 8]], [[8, 12]]]
    assert all(job["host"] == slurm.host and job["job_id"] == job["submitted"][-1] for job in launcher["jobs"])
    assert all(job["PYTHONHASHSEED"] == "0" for job in launcher["jobs"])  # set before each job's interpreter started
    assert set(json.loads((folder / "run.json").read_text())) == local_keys | {"launcher"}  # every local key kept
    # what DVC tracks is unchanged, apart from run.json's clocks
    changed = [line for line in set((repo / "dvc.lock").read_text().splitlines()) ^ set(lock.splitlines())]
    assert all("md5" in line or "size" in line for line in changed)
    assert "up to date" in run(["dvc", "status", target], repo).stdout
    assert not list(repo.glob(".checkpoints/*/slurm"))  # submitit's folder goes with the checkpoints


def job_runs(folder) -> dict[str, bytes]:
    return {p.parent.parent.name: p.read_bytes() for p in sorted(folder.glob("*/result-*/runs.csv"))}


@pytest.mark.slow
@pytest.mark.xdist_group("basic_sweep")
def test_a_multirun_through_the_slurm_launcher_gives_the_basic_launchers_runs(basic_sweep, tmp_path, slurm):
    resources = [f"hydra.launcher.partition={slurm.partition}", "hydra.launcher.mem_gb=1", "hydra.launcher.cpus_per_task=1"]
    run(["python", "-m", "weightreg.train", "-m", "hydra/launcher=slurm", *resources, *SWEEP, f"hydra.sweep.dir={tmp_path / 'slurm'}"], ROOT)
    results = {"basic": job_runs(basic_sweep), "slurm": job_runs(tmp_path / "slurm")}
    assert len(results["basic"]) == 2 and results["slurm"] == results["basic"]
    logs = list((tmp_path / "slurm" / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2  # two SLURM jobs ran them
    submitted = {p.parent.name for p in logs}  # the folder names are the SLURM job ids (array jobs: <id>_<index>)
    accounted = subprocess.run(["scontrol", "show", "job", next(iter(submitted)).split("_")[0]], capture_output=True, text=True,
                               env=project_env()).stdout
    # the scheduler knows the job (still RUNNING while submitit's process exits after writing the result)
    assert f"Partition={slurm.partition}" in accounted and f" NodeList={slurm.host}" in accounted, accounted


def squeue(name: str) -> list[tuple[str, str]]:
    out = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True, text=True, env=project_env()).stdout
    return [tuple(line.split()) for line in out.splitlines()]


def cancel_once_running(stage: subprocess.Popen, job_name: str, seconds: float, poll: float, ready=lambda: True) -> str | None:
    """scancel the first job of `job_name` seen RUNNING once `ready()` holds, while `stage` runs; its id, or None."""
    deadline = time.time() + seconds
    while time.time() < deadline and stage.poll() is None:
        running = [job for job, state in squeue(job_name) if state == "RUNNING"]
        if running and ready():
            subprocess.run(["scancel", running[0]], check=True, env=project_env())
            return running[0]
        time.sleep(poll)
    return None


@pytest.mark.slow
@pytest.mark.xdist_group("slurm_stacks")
def test_a_job_cancelled_mid_training_is_submitted_again_and_the_bytes_are_the_same(small_stacks, slurm):
    """scancel on a running job: weightreg.cluster sees it leave the queue without a result and submits it again."""
    repo, target = small_stacks, TARGET
    folder, local, _ = trained_locally_then_removed(repo)

    stage = subprocess.Popen(["dvc", "repro", "--force", "--no-run-cache", target], cwd=repo, env={**project_env(), **SLURM},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cancelled = cancel_once_running(stage, "weightreg-moons_case_study", seconds=300, poll=0.2)
    output = stage.communicate(timeout=600)[0]
    assert stage.returncode == 0, output[-3000:]
    assert cancelled is not None, "no job of the stage was ever seen running"
    assert f"job {cancelled} ended" in output and "submitted again" in output
    assert study_bytes(folder) == local
    jobs = json.loads((folder / "run.json").read_text())["launcher"]["jobs"]
    again = [job for job in jobs if job["submitted"][0] == cancelled]
    assert len(again) == 1 and len(again[0]["submitted"]) == 2 and again[0]["job_id"] == again[0]["submitted"][1]


@pytest.mark.slow
def test_an_imdb_stack_cancelled_after_a_checkpoint_resumes_from_it_with_the_same_bytes(tmp_path, slurm):
    """A tiny IMDB stack checkpoints after every epoch: a job cancelled once a checkpoint exists resumes from it."""
    # long enough that the scancel lands before the job ends (at 120 epochs it once finished first under load); one
    # seed: 10 members (5 conditions, both variations) in 5 stacks of 2
    sizes = [o.replace("train.epochs=1", "train.epochs=500").replace("n_seeds=2", "n_seeds=1") for o in TINY_IMDB_SIZES]
    args = ["python", "-m", "weightreg.train", "experiment=imdb_mlp", *sizes, "train.max_stack=2"]
    run([*args, f"hydra.run.dir={tmp_path / 'local'}"], ROOT)
    (local,) = (tmp_path / "local").glob("result-*")

    stage = subprocess.Popen([*args, f"hydra.run.dir={tmp_path / 'slurm'}"], cwd=ROOT,
                             env={**project_env(), **SLURM, "WEIGHTREG_SLURM_JOBS": "1", "WEIGHTREG_SLURM_FOLDER": str(tmp_path / "jobs")},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cancelled = cancel_once_running(stage, "weightreg-imdb_mlp", seconds=600, poll=0.1,
                                    ready=lambda: any((tmp_path / "slurm" / ".checkpoints").glob("*/stack_*/state.npz")))
    output = stage.communicate(timeout=600)[0]
    assert stage.returncode == 0, output[-3000:]
    assert cancelled is not None, "the job was never seen running with a checkpoint"
    assert f"job {cancelled} ended" in output
    (resumed,) = (tmp_path / "slurm").glob("result-*")
    (second,) = json.loads((resumed / "run.json").read_text())["launcher"]["jobs"]
    assert second["submitted"][0] == cancelled and len(second["submitted"]) == 2
    log = (tmp_path / "jobs" / f"{second['job_id']}_0_log.err").read_text()
    assert "stack 0-2: resuming after epoch" in log, log[-2000:]
    for name in ("runs.csv", "correct.npz", "histories.csv.gz"):
        assert (resumed / name).read_bytes() == (local / name).read_bytes(), name
