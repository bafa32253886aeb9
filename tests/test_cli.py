"""`weightreg <command>`: the console script dispatches to each module's own `python -m` entry."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

from test_aggregate import synthetic_runs

SCRIPT = Path(sys.executable).parent / "weightreg"


def weightreg(*args, cwd=None):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_every_command_with_an_example():
    from weightreg.cli import COMMANDS

    done = weightreg("--help")
    assert done.returncode == 0
    for name, (module, _, example) in COMMANDS.items():
        assert f"  {name} " in done.stdout and f"e.g. {example}   (= python -m {module})" in done.stdout


def test_an_unknown_command_names_itself_and_the_choices():
    done = weightreg("agregate", "sweeps")
    assert done.returncode == 2
    assert done.stderr.strip() == ("weightreg: unknown command 'agregate'; expected one of train, answer, aggregate, "
                                   "report, verify, compose, calibrate, data, imdb, environment")


def test_aggregate_prints_the_verdicts_and_what_it_wrote(tmp_path):
    synthetic_runs().to_csv(tmp_path / "runs.csv", index=False)
    done = weightreg("aggregate", str(tmp_path), "--margin", "0.02")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["condition", "variation", "n", "test/accuracy", "vs", "none", "p", "(Holm)", "verdict"]
    # every seed +0.02 on both variations: better, shown with its 95% interval
    assert any(line.split()[:3] == ["l2_0.001", "model", "12"] and line.rstrip().endswith("better") for line in lines)
    assert lines[-1] == f"wrote {tmp_path}/all_runs.csv, {tmp_path}/all_summary.csv, {tmp_path}/all_comparisons.csv"
    assert len(pd.read_csv(tmp_path / "all_comparisons.csv")) == 4


def test_report_of_a_missing_folder_is_one_clear_error(tmp_path):
    done = weightreg("report", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and not (tmp_path / "nowhere").exists()
    assert done.stderr.strip().splitlines()[-1] == f"error: {tmp_path}/nowhere: no such folder; expected a folder of runs (a study's results, a multirun of weightreg train, an answer's confirm/)"
    done = weightreg("report", str(tmp_path))  # a folder without runs
    assert done.returncode == 2 and "no run.json with a runs.csv beside it" in done.stderr and not (tmp_path / "report").exists()
