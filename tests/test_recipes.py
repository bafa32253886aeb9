"""README's recipes run as written, on the tiny pipeline: the commands are read from the documentation itself (the fenced
```sh blocks and the commands quoted in the recipe bullets of README.md or a docs/*.md page, tests/project_docs.py), so
that the documentation and the test cannot drift."""

import re
import shlex

import pandas as pd
import pytest

from conftest import ROOT, link_venv, make_repo, run
from project_docs import bullet, quoted, section, sh_commands

NEW_STUDY = "imdb_cnn_small"


def readme_command(commands: list[str], start: str) -> str:
    matching = [c for c in commands if c.startswith(start)]
    assert len(matching) == 1, f"README: expected one command starting {start!r}, found {matching}"
    return matching[0]


def run_readme(command: str, repo, check=True):
    """A README command in the repository. `make` is told that the venv is made (it is the one running the tests,
    linked as .venv): a clone's fresh file times must not make it reinstall the packages."""
    args = shlex.split(command)
    if args[0] == "make":
        args = ["make", "-o", ".venv/.installed", *args[1:]]
    return run(args, repo, check=check)


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def status(repo) -> set[str]:
    import json

    return set(json.loads(run(["dvc", "status", "--json"], repo).stdout))


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


# --- ## Recipes ----------------------------------------------------------------------------------------------------


def recipe_commands(recipe: str) -> list[str]:
    commands = [c for c in quoted(recipe) if c.startswith(("make ", "dvc "))]
    assert commands == ["make params", "dvc repro"], recipe
    return commands


def add_a_strength(repo) -> set[str]:
    """The README's "Add a strength" on imdb_mlp, up to `make params`; the stages it must rerun."""
    commands = recipe_commands(bullet("Add a strength:"))
    edit(repo / "conf" / "experiment" / "imdb_mlp.yaml", "regularizer.strength: [0.1, 0.01, 0.001, 0.0001]",
         "regularizer.strength: [0.1, 0.01, 0.001, 0.0001, 0.05]")
    run_readme(commands[0], repo)
    assert status(repo) == {"train@imdb_mlp", "report"}  # the report lists every study's settings
    return {"train@imdb_mlp", "aggregate@imdb_mlp"}


def add_a_study(repo) -> set[str]:
    """The README's "Add a study", step by step (an IMDB CNN by the groups it names), up to `make params`."""
    recipe = bullet("Add a study:")
    parts = quoted(recipe)
    header, name_line, defaults = parts[1], parts[2], next(p for p in parts if p.startswith("defaults:"))
    assert header == "# @package _global_" and name_line == "study: <name>"
    entries = [p.replace("<name>", NEW_STUDY) for p in parts if p.startswith("- ")]
    assert entries == [f"- study@studies.{NEW_STUDY}", f"- experiment@studies.{NEW_STUDY}: {NEW_STUDY}"]
    commands = recipe_commands(recipe)
    # the study states only what differs from conf/study.yaml: the README's groups, and the tests' tiny sizes
    data = next(p for p in parts if p.startswith("data:"))
    assert data == "data: {encoding: sequences}"
    training = next(p for p in parts if p.startswith("<name>: {data:")).replace("<name>", NEW_STUDY)
    (repo / "conf" / "experiment" / f"{NEW_STUDY}.yaml").write_text(
        f"{header}\n{defaults}\n{name_line.replace('<name>', NEW_STUDY)}\nn_seeds: 2\ntrain: {{epochs: 1}}\n"
        "data: {encoding: sequences, max_train: 200, max_test: 200, val_size: 200, maxlen: 30, vocab_size: 300, num_words: 100}\n")
    pipeline = repo / "conf" / "pipeline.yaml"
    edit(pipeline, "  - _self_\n", "".join(f"  {entry}\n" for entry in entries) + "  - _self_\n")
    edit(pipeline, "\ntraining:\n", f"\ntraining:\n  {training}\n")
    text = pipeline.read_text()
    end = text.index("]", text.index("  imdb: ["))  # the dataset's list
    pipeline.write_text(text[:end] + f", {NEW_STUDY}" + text[end:])
    before = status(repo)
    run_readme(commands[0], repo)
    new = {f"encode@{NEW_STUDY}", f"train@{NEW_STUDY}", f"aggregate@{NEW_STUDY}"}
    assert status(repo) == before | new
    return new


@pytest.mark.slow
@pytest.mark.xdist_group("built_pipeline")
def test_add_a_strength_and_add_a_study_rerun_only_their_stages(built_copy):
    """Each recipe as the README words it, checked with `dvc status` after its `make params`, then one `dvc repro`
    (the report runs once for both): exactly their stages run, and undoing the strength restores its training from
    DVC's run cache (the aggregate and the report, whose outputs are in git, not in the cache, run again)."""
    expected = add_a_strength(built_copy) | add_a_study(built_copy) | {"report"}
    repro = run_readme("dvc repro", built_copy)
    assert ran_stages(repro.stdout) == expected
    runs = pd.read_csv(built_copy / "results" / "imdb_mlp" / "runs.csv")
    assert sorted(runs.condition.unique()) == sorted(["none", "l2_0.1", "l2_0.01", "l2_0.001", "l2_0.0001", "l2_0.05"])
    assert "l2_0.05" in set(pd.read_csv(built_copy / "results" / "imdb_mlp" / "comparisons.csv").condition)
    added = pd.read_csv(built_copy / "results" / NEW_STUDY / "runs.csv")
    assert set(added.model) == {"cnn"} and added.groupby("condition").size().eq(2).all()
    assert f"\n## {NEW_STUDY}" in (built_copy / "reports" / "report.md").read_text()
    assert status(built_copy) == set()

    run(["git", "checkout", "--", "conf/experiment/imdb_mlp.yaml"], built_copy)  # the strength undone
    run_readme("make params", built_copy)
    undone = run_readme("dvc repro", built_copy)
    assert "Stage 'train@imdb_mlp' is cached - skipping run, checking out outputs" in undone.stdout
    assert ran_stages(undone.stdout) == {"aggregate@imdb_mlp", "report"}, undone.stdout
    assert run(["git", "diff", "--stat", "--", "results/imdb_mlp", "metrics/imdb_mlp.json"], built_copy).stdout == ""

    # the first block of "Recipes" as written (test_pipeline.py runs its first line where it rebuilds a study)
    aggregate = readme_command(sh_commands(section("Recipes")), ".venv/bin/dvc repro aggregate@")
    assert aggregate == ".venv/bin/dvc repro aggregate@imdb_cnn report"
    out = run_readme(aggregate, built_copy).stdout
    assert ran_stages(out) == set() and "Stage 'aggregate@imdb_cnn' didn't change, skipping" in out


def test_make_params_then_compose_check_detects_stale_params(tmp_path):
    """`python -m weightreg.compose --check` fails on a params.yaml that conf/ no longer composes, naming the study,
    and passes once `make params` (the README's command) has composed it again."""
    repo = make_repo(tmp_path / "repo")
    check = ["python", "-m", "weightreg.compose", "--check"]
    assert run(check, repo, check=False).returncode == 0
    edit(repo / "conf" / "experiment" / "imdb_mlp.yaml", "margin: 0.01", "margin: 0.02")
    stale = run(check, repo, check=False)
    assert stale.returncode == 1
    assert stale.stderr.strip() == "params.yaml differs from what conf/ composes (studies.imdb_mlp); run `make params`"
    assert "make params" in quoted(section("Sweeping new settings"))
    run_readme("make params", repo)
    assert run(check, repo, check=False).returncode == 0
    assert "margin: 0.02" in (repo / "params.yaml").read_text()
    assert not list(repo.glob(".params.yaml*"))  # written under a temporary name, renamed into place


# --- ## Sweeping new settings: the launcher configs -----------------------------------------------------------------


LAUNCHERS = {
    "parallel": ("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", {"n_jobs": 2, "backend": "loky"}),
    "slurm": ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
              {"partition": "cpu", "timeout_min": 60, "cpus_per_task": 2, "mem_gb": 8, "nodes": 1, "tasks_per_node": 1}),
    "slurm_local": ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
                    {"timeout_min": 60, "cpus_per_task": 2, "mem_gb": 8, "nodes": 1, "tasks_per_node": 1}),
}


def multirun_jobs(overrides: list[str]) -> list[list[str]]:
    """The jobs Hydra's basic sweeper makes of a multirun's overrides: every combination of the swept values."""
    import itertools

    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() else [o.input_line]
               for o in parsed]
    return [list(job) for job in itertools.product(*choices)]


def test_every_launcher_command_in_the_readme_composes_to_its_launcher():
    """Each `-m hydra/launcher=...` command of "Sweeping new settings" composes, job by job (Hydra's compose API, no
    cluster): the launcher class it names imports, and its resources are the config's (and the command line's)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import get_class

    commands = [c for c in sh_commands(section("Sweeping new settings")) if "hydra/launcher=" in c]
    assert sorted(re.search(r"hydra/launcher=(\S+)", c).group(1) for c in commands) == sorted(LAUNCHERS)
    for command in commands:
        launcher = re.search(r"hydra/launcher=(\S+)", command).group(1)
        jobs = multirun_jobs([a for a in shlex.split(command) if "=" in a])
        assert len(jobs) == (4 if "seed=0,100" in command else 2), command
        for job in jobs:
            with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
                cfg = compose(config_name="config", overrides=job, return_hydra_config=True)
            target, resources = LAUNCHERS[launcher]
            assert cfg.hydra.launcher._target_ == target, command
            get_class(target)
            for key, value in resources.items():
                assert cfg.hydra.launcher[key] == value, (command, key)
            assert cfg.regularizer.kind in ("l1", "l2")


# --- ## Checking cached results (reviewers) -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.xdist_group("built_pipeline")
def test_the_reviewer_block_as_written_then_a_hand_edited_result_is_caught(built_copy):
    """The author pushes; the reviewer clones and runs the README's block line by line: pull, status, repro (runs
    nothing), metrics, plots (the HTML with every declared plot), verify in its default form (every study, those of your own model
    included, the sample size of conf/verify.yaml, bitwise). Then hand-edited results are flagged."""
    import yaml
    from omegaconf import OmegaConf

    commands = sh_commands(section("Checking cached results (reviewers)"))
    assert commands[0].startswith("git clone <repo> weightreg && cd weightreg && make test")
    assert "make push" in quoted(section("Checking cached results (reviewers)"))
    run_readme("make push", built_copy)  # the author, after a rebuild
    reviewer = built_copy.parent / "weightreg"
    run(["git", "clone", "-q", str(built_copy), str(reviewer)], built_copy.parent)
    link_venv(reviewer)  # what `make test` (or make .venv/.installed) makes
    ran = {command: run_readme(command, reviewer).stdout for command in commands[1:]}  # each must exit 0

    def output(start):
        return ran[readme_command(list(ran), start)]

    assert len(ran) == 6
    pulled = output(".venv/bin/dvc pull")
    assert "files fetched" in pulled or "files added" in pulled
    assert "Data and pipelines are up to date." in output(".venv/bin/dvc status")
    assert "Running stage" not in output(".venv/bin/dvc repro")
    metrics = output(".venv/bin/dvc metrics show")
    assert "moons_case_study" in metrics and "digits_mlp" in metrics and "test/accuracy" in metrics
    assert "dvc_plots/index.html" in output(".venv/bin/dvc plots show")

    html = (reviewer / "dvc_plots" / "index.html").read_text()
    figures = sorted(p.name for p in (reviewer / "reports" / "figures").glob("*.png"))
    assert len(figures) > 10
    for figure in figures:  # every figure of the report, as an image of the page
        assert figure in html, figure
    declared = [next(iter(p)) for p in yaml.safe_load((reviewer / "dvc.yaml").read_text())["plots"] if isinstance(p, dict)]
    assert len(declared) == 2
    for title in declared:  # the case study's curves, from results/moons_case_study/curves.csv
        assert title in html, title

    assert run(["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "verify"], reviewer).stdout.strip() == commands[-1]  # `make verify`
    settings = OmegaConf.load(reviewer / "conf" / "verify.yaml")
    params = OmegaConf.load(reviewer / "params.yaml")
    studies = list(params.studies)
    assert "digits_mlp" in studies
    lines = output(".venv/bin/python -m weightreg.verify").splitlines()
    assert lines[0] == "0 outputs differ from dvc.lock"
    table = lines[2:-1]  # after the header
    for study in studies:
        assert sum(line.split()[0] == study for line in table) == settings.sample, study
    assert all(line.split()[4] == "bitwise" for line in table)
    total = settings.sample * len(studies)
    assert lines[-1] == f"{total} of {total} sampled runs match (rtol {settings.rtol:g}); 0 mismatch"

    check_hand_edits(reviewer)


def check_hand_edits(reviewer):
    """One hand-edited row that the sample of 1 does not retrain: the hash check still catches it. Every row edited:
    `dvc status` and the retrained sample both flag it."""
    from weightreg.verify import sample_runs

    runs_csv = reviewer / "results" / "moons_case_study" / "runs.csv"
    original = runs_csv.read_bytes()
    table = pd.read_csv(runs_csv)
    sampled = sample_runs(table, size=1, seed=0).index[0]
    table.loc[1 if sampled == 0 else 0, "test/accuracy"] = 0.5
    runs_csv.unlink()  # DVC links outputs from its cache: replace the file, never write through the link
    table.to_csv(runs_csv, index=False)
    caught = run(["python", "-m", "weightreg.verify", "--study", "moons_case_study", "--sample", "1", "--seed", "0"],
                 reviewer, check=False)
    assert caught.returncode == 1
    assert "results/moons_case_study/runs.csv: modified (differs from the hash dvc.lock records)" in caught.stdout
    assert "1 of 1 sampled runs match" in caught.stdout  # the retrained sample alone would have passed
    runs_csv.unlink()
    runs_csv.write_bytes(original)

    table = pd.read_csv(runs_csv)
    table.loc[:, "test/accuracy"] = table["test/accuracy"] + 0.01  # a hand-edited result
    runs_csv.unlink()
    table.to_csv(runs_csv, index=False)
    assert "modified" in run(["dvc", "status"], reviewer).stdout
    caught = run(["python", "-m", "weightreg.verify", "--study", "moons_case_study", "--sample", "3"], reviewer, check=False)
    assert caught.returncode == 1 and "MISMATCH" in caught.stdout
