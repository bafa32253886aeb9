"""What the report says of a study comes from the study's `report:` block (question, figures, checks), never from
report code; training stages do not track the block, so rewording a question reruns only the report."""
import json

import pandas as pd
import pytest
import yaml
from conftest import ROOT, run
from omegaconf import OmegaConf
from test_aggregate import synthetic_study

from weightreg.aggregate import aggregate_study
from weightreg.errors import ConfigError
from weightreg.folder_report import build_folder_report
from weightreg.report import build_report, report_settings


def figure_names(report: str) -> list[str]:
    return [line.split("](")[1].rstrip(")").split("/")[-1] for line in report.splitlines() if line.startswith("![")]


def test_question_figures_and_checks_come_from_the_block(tmp_path):
    folder = tmp_path / "results" / "any_study"
    synthetic_study(folder)
    aggregate_study(folder, tmp_path / "metrics.json", margin=1 / 70)
    block = {"question": "Is this question read from the config?", "figures": ["layer_norms"],
             "checks": [{"metric": "val/accuracy", "condition": "none", "at_least": 0.95, "why": "a stated reason"},
                        {"metric": "val/accuracy", "condition": "none", "at_most": 0.95, "why": "another reason"}]}
    build_report(tmp_path / "results", tmp_path / "reports", reports={"any_study": block})
    report = (tmp_path / "reports" / "report.md").read_text()
    assert "**any_study**: Is this question read from the config?" in report
    assert "Question: Is this question read from the config?" in report
    assert figure_names(report) == ["answer__forest.png", "any_study__forest.png", "any_study__layer_norms.png"]
    summary = pd.read_csv(folder / "summary.csv")
    means = summary[(summary.condition == "none") & (summary.metric == "val/accuracy")]["mean"]
    assert means.max() < 0.95  # the synthetic baseline's validation accuracy: 0.90 + 0.01 (seed % 3) - 0.01
    values = " and ".join(f"{m:.4f} in {where}" for m, where in zip(means, ("fixed data", "redrawn data")))
    lead = f"Check on validation data: the mean val/accuracy of no penalty is {values}: it"
    assert f"{lead} misses the minimum of 0.95 (a stated reason)." in report
    assert f"{lead} meets the maximum of 0.95 (another reason)." in report


def test_a_study_without_a_block_gets_the_default_question_and_every_figure_its_tables_hold(tmp_path):
    folder = tmp_path / "results" / "any_study"
    synthetic_study(folder)
    aggregate_study(folder, tmp_path / "metrics.json", margin=1 / 70)
    build_report(tmp_path / "results", tmp_path / "reports")
    report = (tmp_path / "reports" / "report.md").read_text()
    assert "**any_study**: Does each condition beat no penalty?" in report
    assert {"any_study__curves__model.png", "any_study__layer_norms.png", "any_study__decision_surface.png"} <= set(figure_names(report))


@pytest.mark.parametrize("block, named", [
    ({"checks": [{"metric": "val/accuracy", "why": "no bound"}]}, "imdb_mlp: report.checks[0]: at_least=None, at_most=None"),
    ({"checks": [{"metric": "accuracy", "at_least": 0.8}]}, "imdb_mlp: report.checks[0].metric='accuracy'"),
    ({"figures": ["histogram"]}, "imdb_mlp: report: figures[0]: Invalid value 'histogram'"),
    ({"question": "q", "colour": "red"}, "imdb_mlp: report: Key 'colour' not in 'Report'"),
])
def test_a_bad_block_is_refused_naming_the_key(block, named):
    with pytest.raises(ConfigError) as error:
        report_settings(block, "imdb_mlp: ")
    assert str(error.value).startswith(named)


def test_every_study_in_conf_states_its_question_and_the_params_carry_it():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, study in params["studies"].items():
        source = ROOT / "conf" / "experiment" / f"{name}.yaml"
        stated = OmegaConf.load(source).report
        assert study["report"]["question"] == stated.question and report_settings(study["report"], f"{name}: ")


def test_the_folder_report_reads_the_block_hydra_recorded(tmp_path):
    job = tmp_path / "sweep" / "job_0"
    synthetic_study(job / "result-abc", study="moons_case_study")
    (job / ".hydra").mkdir()
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(
        {"study": "moons_case_study", "report": {"question": "Recorded with the runs?", "figures": []}}))
    out = build_folder_report(tmp_path / "sweep")
    report = (out / "report.md").read_text()
    assert "**moons_case_study**: Recorded with the runs?" in report
    assert figure_names(report) == ["answer__forest.png", "moons_case_study__forest.png"]
    (job / ".hydra" / "config.yaml").unlink()
    report = (build_folder_report(tmp_path / "sweep", tmp_path / "again") / "report.md").read_text()
    assert "**moons_case_study**: Does each condition beat no penalty?" in report


def test_the_finding_the_readme_quotes_is_in_the_committed_report():
    quoted = [line[2:] for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("> ")]
    report = (ROOT / "reports" / "report.md").read_text().splitlines()
    assert quoted and all(line in report for line in quoted)


def dvc_changes(repo, stages: list[str]) -> dict:
    return json.loads(run(["dvc", "status", "--json", *stages], repo).stdout)


@pytest.mark.slow
def test_rewording_a_question_changes_only_the_report_stage(built_copy):
    """The tiny pipeline built (conftest.built_pipeline): a new question leaves a study's draws, training and aggregate
    up to date and changes the report stage's params; a new `sources:` entry, which run.json records, changes its
    training stage."""
    repo_copy, study = built_copy, "moons_case_study"
    stages = [f"draws@{study}", f"train@{study}", f"aggregate@{study}", "environment", "report"]
    assert dvc_changes(repo_copy, stages) == {}
    config = repo_copy / "conf" / "experiment" / f"{study}.yaml"
    text = config.read_text()
    question = OmegaConf.load(config).report.question
    config.write_text(text.replace(question, "A reworded question?"))
    run(["python", "-m", "weightreg.compose"], repo_copy)
    assert dvc_changes(repo_copy, stages) == {"report": [{"changed deps": {"params.yaml": {"studies": "modified"}}}]}
    config.write_text(text.replace("sources:", "sources:\n  l2_0.001: a new source") if "sources:" in text
                      else text + "sources:\n  l2_0.001: a new source\n")
    run(["python", "-m", "weightreg.compose"], repo_copy)
    assert f"train@{study}" in dvc_changes(repo_copy, stages)
