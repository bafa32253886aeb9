"""What a person sees while a stage runs: progress with an ETA and a summary line on stderr, no
TensorFlow start-up noise unless asked for, no retracing; and nothing of the clock in runs.csv."""

import json
import os
import re

import pytest

from conftest import run

pytestmark = pytest.mark.slow
NOISE = ("I0000", "absl::InitializeLog", "cpu_feature_guard", "oneDNN", "StreamExecutor", "retracing")


def train_stage(repo, **env):
    command = ["python", "-m", "weightreg.train", "stage", "moons_case_study", "--out", "results/moons_case_study"]
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run(command, repo)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_stages_show_progress_and_a_summary_and_stay_quiet(repo_copy):
    data = run(["python", "-m", "weightreg.data", "moons_case_study", "--out", "data/moons_case_study.npz"], repo_copy)
    assert "data moons_case_study: wrote data/moons_case_study.npz" in data.stderr
    first = train_stage(repo_copy)
    assert not [line for line in first.stderr.splitlines() if any(n in line for n in NOISE)], first.stderr
    assert re.search(r"moons_case_study.*\| *([\d.]+k?)/\1 \[[\d:]+<[\d:]+, +[\d.]+k? member-epochs/s\]", first.stderr)  # tqdm, at its end: total/total [elapsed<ETA, rate]
    assert re.search(r"train moons_case_study: wrote results/moons_case_study \(\d+ runs\) in [\d.]+ s", first.stderr)
    runs = (repo_copy / "results" / "moons_case_study" / "runs.csv").read_bytes()
    record = json.loads((repo_copy / "results" / "moons_case_study" / "run.json").read_text())
    assert b"seconds" not in runs.splitlines()[0] and len(record["fit_seconds"]) == runs.count(b"\n") - 1

    again = train_stage(repo_copy, WEIGHTREG_VERBOSE="1")
    assert (repo_copy / "results" / "moons_case_study" / "runs.csv").read_bytes() == runs  # the clock lives in run.json
    assert any("I0000" in line or "cpu_feature_guard" in line for line in again.stderr.splitlines())  # verbose: back
