"""The three ways people use the pipeline: launcher sweeps, DVC experiments, and the reviewer's path."""

import json

import pandas as pd
import pytest

from conftest import ROOT, SWEEP, TINY_PIPELINE, clone_built, run

pytestmark = pytest.mark.slow


OUTPUTS = ("runs.csv", "histories.csv.gz", "surfaces.csv.gz", "correct.npz")  # all but run.json (its clock)


def sweep_runs(folder):
    """Every job's outputs of a multirun folder as bytes, keyed by the job's overrides and the result folder (the
    resolved config's hash)."""
    return {f"{p.parent.name}/{p.name}": {name: (p / name).read_bytes() for name in OUTPUTS}
            for p in sorted(folder.glob("*/result-*"))}


@pytest.mark.xdist_group("basic_sweep")
def test_every_launcher_gives_the_same_runs_and_aggregation_reads_them(basic_sweep, tmp_path):
    results = {"basic": sweep_runs(basic_sweep)}
    for launcher in ("parallel", "slurm_local"):
        folder = tmp_path / launcher
        run(["python", "-m", "weightreg.train", "-m", f"hydra/launcher={launcher}", *SWEEP, f"hydra.sweep.dir={folder}"], ROOT)
        results[launcher] = sweep_runs(folder)
    assert [job.split("/")[0] for job in results["basic"]] == [
        "n_seeds=2,regularizer=l1,seed=0,train.epochs=20,train.history_every=5",
        "n_seeds=2,regularizer=l2,seed=0,train.epochs=20,train.history_every=5"]
    for launcher in ("parallel", "slurm_local"):  # other processes, same config and seed: bitwise the same files
        assert results[launcher].keys() == results["basic"].keys()
        for job, outputs in results["basic"].items():
            for name, content in outputs.items():
                assert results[launcher][job][name] == content, (launcher, job, name)
    assert list((tmp_path / "slurm_local" / ".submitit").glob("*/*_result.pkl"))  # it really went through submitit

    printed = run(["python", "-m", "weightreg.aggregate", str(tmp_path / "parallel")], ROOT).stdout
    merged = pd.read_csv(tmp_path / "parallel" / "all_runs.csv")
    # 3 conditions (one baseline kept) x 2 seeds x the case study's 2 variations
    assert len(merged) == 3 * 2 * 2 and set(merged.condition) == {"none", "l1_0.001", "l2_0.001"}
    assert "l1_0.001" in printed


def test_two_sweeps_with_different_settings_never_share_an_output_folder(tmp_path):
    for epochs in (20, 21):
        run(["python", "-m", "weightreg.train", "n_seeds=1", f"train.epochs={epochs}", f"hydra.run.dir={tmp_path}"], ROOT)
    assert len(list(tmp_path.glob("result-*/runs.csv"))) == 2  # keyed by the resolved config's hash


@pytest.mark.xdist_group("built_pipeline")
def test_dvc_experiments_queue_a_sweep_and_show_each_result(built_pipeline, tmp_path):
    """`dvc exp run -S` composes conf/ again (so the tiny sizes are passed as -S too) and queues one experiment per choice.
    The baseline: a clone of the tiny pipeline built and committed (conftest.built_pipeline), with its own cache."""
    target = "aggregate@moons_case_study"
    repo_copy = clone_built(built_pipeline, tmp_path / "repo", shared_cache=False, targets=("--with-deps", target))
    tiny = [arg for override in TINY_PIPELINE for arg in ("-S", override)]
    run(["dvc", "exp", "run", target, "--queue", "-S", "regularizer@studies.moons_case_study.regularizer=l1,l2", *tiny], repo_copy)
    run(["dvc", "queue", "start", "-j", "2"], repo_copy)
    run(["dvc", "queue", "status"], repo_copy)
    # polled every 5 s: each `dvc queue status` is an interpreter that starts DVC, on the cores the experiments use
    waited = run(["python", "-c", "import subprocess, time\n"
                  "for _ in range(240):\n"
                  "    out = subprocess.run(['dvc', 'queue', 'status'], capture_output=True, text=True).stdout\n"
                  "    if 'Running' not in out and 'Queued' not in out: break\n"
                  "    time.sleep(5)\n"
                  "print(out)"], repo_copy)
    assert "Failed" not in waited.stdout, (waited.stdout, *[p.read_text()[-2000:] for p in (repo_copy / ".dvc" / "tmp" / "exps").rglob("*.out")])
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo_copy).stdout)
    experiments = {entry["data"]["params"]["params.yaml"]["data"]["studies"]["moons_case_study"]["regularizer"]["kind"]: entry["data"]
                   for entry in experiment_entries(shown)}
    assert sorted(experiments) == ["l1", "l2"]  # two experiments, one per choice
    for kind, data in experiments.items():  # each with its own metrics: its own condition's test accuracy
        metrics = data["metrics"]["metrics/moons_case_study.json"]["data"]
        assert metrics["headline"] == f"{kind}_0.001 (data+model)" and 0 <= metrics["no_penalty"] <= 1


def experiment_entries(shown) -> list[dict]:
    """The experiments (not the workspace or the baseline commit) in `dvc exp show --json` output."""
    found = []
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            found += [rev for rev in experiment.get("revs", []) if rev.get("data")]
    return found
