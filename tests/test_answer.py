"""`weightreg answer` end to end on tiny studies, with both trainers: the search reads validation data only, the
confirmation runs on fresh seeds and is the only reader of the test split, the paragraph, the files, the resume."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run
from test_custom import USER_MODULE

IRIS_ANSWER = {
    "study": "iris_answer", "margin": 0.05,
    "data": {"_target_": "weightreg.datasets.sklearn_loader", "name": "load_iris"},
    "model": {"_target_": "my_models.small_net", "units": 8},
    "regularizer": {"kind": "l2", "strength": 0.01, "placement": [{"layers": "dense_a", "weights": ["kernel"]}]},
    "sweep": {"regularizer.strength": [0.001, 0.1]},
    "train": {"epochs": 2, "batch_size": 16},
    "answer": {"search_seeds": 2, "min_seeds": 6, "max_seeds": 6, "variations": ["data+model"]},
}
POISONED_DATA = '''
import numpy as np
from weightreg.datasets import sklearn_loader


def iris_with_unreadable_test(seed=0):
    """Iris whose test features are NaN: any check or score of the test split stops the run, naming x_test."""
    arrays = sklearn_loader("load_iris", seed)
    arrays["x_test"] = np.full_like(arrays["x_test"], np.nan)
    return arrays
'''


def study_dir(tmp_path, name: str, spec: dict):
    (tmp_path / "my_models.py").write_text(USER_MODULE)
    (tmp_path / "my_data.py").write_text(POISONED_DATA)
    (tmp_path / "my_conf" / "experiment").mkdir(parents=True, exist_ok=True)
    (tmp_path / "my_conf" / "experiment" / f"{name}.yaml").write_text("# @package _global_\n" + yaml.safe_dump(spec))
    return tmp_path


def answer_cli(folder, *arguments, check=True):
    path = os.pathsep.join([str(folder), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    return run(["env", f"PYTHONPATH={path}", "python", "-m", "weightreg.answer", "--config-dir", str(folder / "my_conf"),
                *arguments], folder, check=check)


def check_answer(out, printed: str, study: str):
    """The paragraph, the files, disjoint seeds, and test data in the confirmation only."""
    result = json.loads((out / "answer.json").read_text())
    [paragraph] = [line for line in printed.splitlines() if line.startswith(f"{study}: the search chose")]
    assert paragraph == result["paragraph"]
    assert "95% [" in paragraph and "90% [" in paragraph and "(disjoint from the search's)" in paragraph
    assert any(f": {v} (margin" in paragraph for v in ("better", "worse", "equivalent", "inconclusive"))
    search, confirm = pd.read_csv(out / "search" / "runs.csv"), pd.read_csv(out / "confirm" / "runs.csv")
    assert set(search.seed) == set(result["search_seeds"]) and set(confirm.seed) == set(result["confirm_seeds"])
    assert not set(search.seed) & set(confirm.seed)
    assert not [c for c in search.columns if c.startswith("test/")]  # the search scored no test split
    with np.load(out / "search" / "correct.npz") as correct:
        assert int(correct["n_test"]) == 0
    assert confirm["test/accuracy"].notna().all() and set(confirm.condition) == {"none", result["chosen"]}
    assert len(confirm) == 2 * len(result["confirm_seeds"]) * len(result["confirm_variations"])
    assert result["chosen"] in set(search.condition) and len(set(search.condition)) == len(result["candidates"]) + 1
    report = (out / "report" / "report.md").read_text()
    assert report.startswith(f"# {study}: answer") and "## Search" in report and "disjoint from the search's" in report
    for builtin in ("Published vs reproduced", "Literature configurations", "moons_case_study", "no baseline"):
        assert builtin not in report, builtin  # nothing of the built-in studies
    html = (out / "report" / "report.html").read_text()
    assert html.index("Answer") < html.index("Search trace") and "search_trace" not in html  # figures are embedded
    return result


@pytest.mark.slow
def test_answer_with_the_fit_trainer_on_an_sklearn_dataset(tmp_path):
    folder = study_dir(tmp_path, "iris_answer", IRIS_ANSWER)
    done = answer_cli(folder, "experiment=iris_answer", "train.trainer=fit")
    out = folder / "answers" / "iris_answer" / "train.trainer=fit"
    result = check_answer(out, done.stdout, "iris_answer")
    assert result["confirm_seeds"] == list(range(2, 8)) and "member-epochs" in done.stderr  # the progress bar
    assert json.loads((out / "confirm" / "run.json").read_text())["trainer"].startswith("fit:")

    again = answer_cli(folder, "experiment=iris_answer", "train.trainer=fit")  # resumed: nothing is retrained
    assert "search: read back" in again.stderr and "confirm: read back" in again.stderr and "member-epochs" not in again.stderr
    assert json.loads((out / "answer.json").read_text())["paragraph"] == result["paragraph"]


@pytest.mark.slow
def test_the_search_never_reads_the_test_split(tmp_path):
    """Test features that stop any run reading them: the search finishes, the confirmation is where the run stops."""
    spec = {**IRIS_ANSWER, "study": "poisoned", "data": {"_target_": "my_data.iris_with_unreadable_test"}}
    folder = study_dir(tmp_path, "poisoned", spec)
    done = answer_cli(folder, "experiment=poisoned", check=False)
    assert done.returncode == 2
    assert "x_test holds" in done.stderr.strip().splitlines()[-1] and "non-finite" in done.stderr
    out = folder / "answers" / "poisoned"
    assert (out / "search" / "runs.csv").is_file() and not (out / "confirm").exists()


@pytest.mark.slow
def test_answer_with_the_stacked_trainer_on_a_moons_study(tmp_path):
    from conftest import MOONS_STUDY

    spec = {**MOONS_STUDY, "study": "moons_answer", "n_seeds": 2, "train": {"epochs": 30, "history_every": 5},
            "sweep": {"regularizer.strength": [1e-3, 1e-2]}, "answer": {"search_seeds": 3, "min_seeds": 6, "max_seeds": 8}}
    folder = study_dir(tmp_path, "moons_answer", spec)
    done = answer_cli(folder, "experiment=moons_answer", "train.trainer=stacked")
    out = folder / "answers" / "moons_answer" / "train.trainer=stacked"
    result = check_answer(out, done.stdout, "moons_answer")
    assert result["confirm_variations"] == ["model", "data+model"]  # the moons target redraws by seed
    assert 6 <= len(result["confirm_seeds"]) <= 8 and result["confirm_seeds"][0] == 3
    assert json.loads((out / "confirm" / "run.json").read_text())["trainer"].startswith("stacked:")


def test_a_finished_fit_run_is_never_retrained(tmp_path, monkeypatch):
    """A run's checkpoint is written after its last epoch whatever train.checkpoint_seconds says, so a resumed study
    reads it back instead of training it again, and ends bitwise as the uninterrupted one."""
    from test_custom import iris_cfg
    from weightreg.fit_runs import train_study

    (tmp_path / "my_models.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = iris_cfg(n_seeds=1, baseline=False, train={"epochs": 2, "batch_size": 16, "checkpoint_seconds": 1e9})
    first = train_study(cfg, tmp_path / "checkpoints")
    [checkpoint] = list((tmp_path / "checkpoints").iterdir())
    assert len(json.loads((checkpoint / "history.json").read_text())["logs"]) == 2
    stamp = (checkpoint / "model.keras").stat().st_mtime_ns
    resumed = train_study(cfg, tmp_path / "checkpoints")
    assert (checkpoint / "model.keras").stat().st_mtime_ns == stamp  # read back, not trained and saved again
    pd.testing.assert_frame_equal(first["runs"], resumed["runs"], check_exact=True)


def test_bad_answer_settings_are_one_clear_error():
    from test_custom import iris_cfg
    from weightreg.errors import ConfigError

    with pytest.raises(ConfigError, match=r"answer.confirm_seed=1: expected null or a first seed whose confirmation seeds miss the search's 0..2"):
        iris_cfg(answer={"confirm_seed": 1})
    with pytest.raises(ConfigError, match=r"answer.min_seeds/max_seeds=\(4, 30\): expected 6 <= min_seeds"):
        iris_cfg(answer={"min_seeds": 4})
    from weightreg.answer import check_fresh_draws, confirm_config
    from weightreg.conditions import conditions

    cfg = iris_cfg(data_seed=4, answer={"search_seeds": 3})
    with pytest.raises(ConfigError, match=r"data_seed=4: among the confirmation's seeds 3..8, so one of its fresh draws"):
        check_fresh_draws(cfg, confirm_config(cfg, conditions(cfg)[1], 6))

