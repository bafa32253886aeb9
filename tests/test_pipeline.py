"""A real DVC repository in a temporary folder: repro with a tiny budget, no-op second repro, partial reruns. The
pipeline is built once (conftest.built_pipeline); each test works on its own clone."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import IMDB_STUDIES, MOONS_STUDIES, OWN_STUDIES, TINY_PIPELINE, run
from project_docs import section, sh_commands
from weightreg.verdicts import VERDICTS
from weightreg.compose import composed_params

pytestmark = pytest.mark.slow
BUILT = pytest.mark.xdist_group("built_pipeline")
SHARED = ["study", "condition", "model", "regularizer", "strength", "placement", "seed", "data_seed", "variation",
          "test/n", "train/accuracy", "val/accuracy", "test/accuracy", "train/loss", "val/loss", "test/loss",
          "weights/l2/all_kernels"]


@BUILT
def test_repro_builds_everything_then_is_up_to_date(built_copy):
    repo_copy = built_copy
    for study in (*MOONS_STUDIES, *IMDB_STUDIES):
        runs = pd.read_csv(repo_copy / "results" / study / "runs.csv")
        assert set(SHARED) <= set(runs.columns)
        assert runs.groupby(["condition", "variation"]).size().eq(2 if study in IMDB_STUDIES else 3).all()
        assert json.loads((repo_copy / "metrics" / f"{study}.json").read_text())
    for study in IMDB_STUDIES:
        check_imdb_results(repo_copy, study)
    own = pd.read_csv(repo_copy / "results" / "digits_mlp" / "runs.csv")  # the example study of a user's own model
    assert own.groupby("condition").size().eq(2).all() and set(own.task) == {"multiclass"}
    assert json.loads((repo_copy / "metrics" / "digits_mlp.json").read_text())
    figures = {p.name for p in (repo_copy / "reports" / "figures").glob("*.png")}
    assert {"moons_case_study__curves__model.png", "moons_case_study__curves__data_model.png"} <= figures
    report = (repo_copy / "reports" / "report.md").read_text()
    assert report.index("## Summary") < report.index("## Published vs reproduced") < report.index("## moons_case_study")
    assert "0.943 = 66/70" in report
    assert "Krizhevsky et al. 2012" in report.split("## imdb_cnn")[0]  # the literature table has its row
    assert "## digits_mlp" in report and "`models.two_layer_net(units=32)`" in report
    comparisons = pd.read_csv(repo_copy / "results" / "moons_case_study" / "comparisons.csv")
    written = json.loads((repo_copy / "metrics" / "moons_case_study.json").read_text())
    assert len(comparisons) == 4  # l2_0.001 against none, in 2 variations, on test/accuracy and test/loss
    accuracy = comparisons[comparisons.metric == "test/accuracy"]  # the metrics file DVC shows: its headline and counts
    headline = accuracy[accuracy.variation == "data+model"].iloc[0]
    assert written["headline"] == f"{headline.condition} (data+model)" and written["verdict"] == headline.verdict
    assert written["effect"] == headline.diff_mean and sum(written[v] for v in VERDICTS) == len(accuracy)
    assert {"imdb_cnn__confusion.png", "imdb_lstm__layer_norms.png"} <= figures
    assert not any("imdb_lstm__curves" in name for name in figures)  # 2 epochs: left out, with the line saying why
    assert "Learning curves left out: 2 recorded epochs" in report.split("## imdb_lstm")[1]
    assert (repo_copy / "reports" / "environment.txt").read_text().count("==") > 50
    fine = json.loads((repo_copy / "results" / "moons_fine_grid" / "run.json").read_text())["config"]["sweep"]
    assert len(fine["regularizer.strength"]) == 11  # 0.2x .. 9x the grid's best on validation data
    confirm = json.loads((repo_copy / "results" / "moons_confirm" / "run.json").read_text())["config"]
    chosen = confirm["sweep"]["regularizer.strength"]
    assert len(chosen) == 1 and chosen[0] in fine["regularizer.strength"] and confirm["seed"] == 1000
    html = (repo_copy / "reports" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == report.count("![")

    second = run(["dvc", "repro"], repo_copy)
    assert "Running stage" not in second.stdout
    assert "up to date" in run(["dvc", "status"], repo_copy).stdout
    shown = next(iter(json.loads(run(["dvc", "metrics", "show", "--json"], repo_copy).stdout).values()))
    written = json.loads((repo_copy / "metrics" / "moons_case_study.json").read_text())
    # the file's values as DVC reads them (DVC leaves out a null: an interval end too few seeds cannot bound)
    assert shown["data"]["metrics/moons_case_study.json"]["data"] == {k: v for k, v in written.items() if v is not None}


def check_imdb_results(repo, study):
    """An IMDB study built end to end on the tests' synthetic reviews: every run, each test review scored once, learning
    curves on training and validation data only. (Retrained bitwise from its cache: the reviewer's verify, test_recipes.py.)"""
    settings = yaml.safe_load((repo / "params.yaml").read_text())["studies"][study]
    runs = pd.read_csv(repo / "results" / study / "runs.csv")
    assert runs.condition.iloc[0] == "none" and sorted(runs.variation.unique()) == sorted(settings["variations"])
    assert (runs[["test/tn", "test/fp", "test/fn", "test/tp"]].sum(axis=1) == settings["data"]["max_test"]).all()
    assert runs["test/accuracy"].between(0, 1).all() and np.isfinite(runs["weights/l2/all_kernels"]).all()
    histories = pd.read_csv(repo / "results" / study / "histories.csv.gz")
    assert sorted(histories.epoch.unique()) == list(range(1, settings["train"]["epochs"] + 1))
    assert set(histories.metric) == {"train/loss", "train/accuracy", "val/loss", "val/accuracy"}  # test: scored once, at the end


def changed_stages(repo) -> set[str]:
    return set(json.loads(run(["dvc", "status", "--json"], repo).stdout))


def edit_conf(repo, path, old, new):
    """Edit a file of conf/ and compose params.yaml again, as `make repro` does."""
    text = (repo / path).read_text()
    assert old in text
    (repo / path).write_text(text.replace(old, new, 1))
    (repo / "params.yaml").write_text(composed_params(TINY_PIPELINE, root=repo))


@BUILT
def test_only_changed_studies_rerun(built_copy):
    """Editing one study's sweep, or a default only the moons studies use, changes only those studies' stages; editing an
    error message or a default of the stacked trainers' spec changes no aggregate or report stage."""
    repo = built_copy
    assert changed_stages(repo) == set()
    original = (repo / "conf" / "experiment" / "imdb_cnn.yaml").read_text()
    edit_conf(repo, "conf/experiment/imdb_cnn.yaml", "- {strength: 2.0e-5}", "- {strength: 3.0e-5}")
    assert changed_stages(repo) == {"train@imdb_cnn", "report"}  # the report lists every study's settings
    (repo / "conf" / "experiment" / "imdb_cnn.yaml").write_text(original)
    (repo / "params.yaml").write_text(composed_params(TINY_PIPELINE, root=repo))
    assert changed_stages(repo) == set()

    rules = repo / "src" / "weightreg" / "validation.py"  # an error message: no data, aggregate or report stage reruns
    text = rules.read_text()
    rules.write_text(text.replace('"train.epochs", cfg.train.epochs, "an integer >= 1"', '"train.epochs", cfg.train.epochs, "a whole number >= 1"'))
    assert changed_stages(repo) == {f"train@{study}" for study in (*MOONS_STUDIES, *IMDB_STUDIES, *OWN_STUDIES)}
    rules.write_text(text)
    assert changed_stages(repo) == set()

    spec = repo / "src" / "weightreg" / "config.py"  # a default of the stacked trainers' spec: no aggregate or report reruns
    text = spec.read_text()
    spec.write_text(text.replace("    threads: int = 2", "    threads: int = 1"))
    assert changed_stages(repo) == ({f"draws@{study}" for study in MOONS_STUDIES} | {f"encode@{study}" for study in IMDB_STUDIES}
                                    | {f"train@{study}" for study in (*MOONS_STUDIES, *IMDB_STUDIES, *OWN_STUDIES)})
    spec.write_text(text)

    edit_conf(repo, "conf/data/moons.yaml", "noise: 0.2", "noise: 0.3")
    moons = {f"draws@{study}" for study in MOONS_STUDIES} | {f"train@{study}" for study in MOONS_STUDIES}
    assert changed_stages(repo) == moons | {"report"}  # and no IMDB stage
    rebuild = next(c for c in sh_commands(section("Recipes")) if c.startswith(".venv/bin/dvc repro train@"))  # as written
    assert rebuild == ".venv/bin/dvc repro train@moons_case_study"
    ran = run(rebuild.split(), repo).stdout
    assert set(re.findall(r"Running stage '([^']+)'", ran)) == {"draws@moons_case_study", "train@moons_case_study"}
    assert "draws@moons_case_study" not in changed_stages(repo) and "draws@moons_l2_grid" in changed_stages(repo)


def test_stage_reports_bad_params_and_leaves_no_output(repo_copy):
    good = (repo_copy / "params.yaml").read_text()
    (repo_copy / "params.yaml").write_text(good.replace("n_train: 30", "n_train: 300", 1))
    result = run(["python", "-m", "weightreg.data", "moons_case_study", "--out", "data/x.npz"], repo_copy, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: data.n_train=300: expected an integer in 1..99 (below data.n_samples)"
    assert not (repo_copy / "data" / "x.npz").exists()
    (repo_copy / "params.yaml").write_text(good)
    result = run(["python", "-m", "weightreg.train", "stage", "moons_case_study", "--data-dir", "missing", "--out", "results/x"],
                 repo_copy, check=False)
    assert result.returncode == 2 and not (repo_copy / "results" / "x").exists()
    assert result.stderr.strip().splitlines()[-1] == ("error: missing/moons_case_study.npz: data file not found; expected the "
                                                      "output of `python -m weightreg.data moons_case_study`")

    params = yaml.safe_load(good)
    params["studies"]["imdb_mlp"]["data"]["archive"] = "other.tar.gz"  # would be ignored: the pipeline fetches once
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(["python", "-m", "weightreg.data", "imdb_mlp", "--reviews", "data/imdb_reviews.npz", "--out", "data/y.npz"],
                 repo_copy, check=False)
    assert result.returncode == 2 and not (repo_copy / "data" / "y.npz").exists()
    assert result.stderr.strip().splitlines()[-1].startswith("error: studies.imdb_mlp.data.archive='other.tar.gz': the pipeline reads")
