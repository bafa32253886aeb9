"""Settings a trainer would otherwise accept and ignore: each stops before training with one message naming
the key, the value and what is allowed (or works as asked)."""

import subprocess
import sys

import pytest

from conftest import ROOT, project_env
from weightreg.aggregate import main as aggregate_main
from weightreg.errors import ConfigError


def cli(overrides):
    """The spec the chosen trainer reads: the stacked trainers' (weightreg.config.Config) where they train the study."""
    from conftest import composed_study
    from weightreg.stacked_spec import stacked_config, trains_stacked

    cfg = composed_study(overrides)
    return stacked_config(cfg) if trains_stacked(cfg) else cfg


@pytest.mark.parametrize("overrides, message", [
    (["optimizer._target_=keras.optimizers.RMSprop"],
     "optimizer._target_ (rmsprop): the stacked moons trainer trains with Adam; expected keras.optimizers.Adam (or "
     "train.trainer=fit: model.fit takes any optimizer)"),
    (["regularizer=l1_l2", "+regularizer.strength=0.01"],
     "regularizer.strength=0.01: l1_l2 takes regularizer.l1=1e-05 and regularizer.l2=0.0001, so the strength would "
     "be ignored; expected regularizer.l1=... and regularizer.l2=... (or null l1 and l2 to use the strength)"),
    (["train.trainer=stacked", "optimizer._target_=keras.optimizers.SGD"],
     "train.trainer=stacked: optimizer={'_target_': 'keras.optimizers.SGD', '_partial_': True, 'learning_rate': 0.001} is not "
     "Adam or RMSprop with only a learning_rate; expected a study the stacked trainers know (or train.trainer=auto/fit)"),
    (["model.activation=relux"],
     "model.activation='relux': not a Keras activation; expected one of"),
])
def test_silent_traps_stop_with_one_message(overrides, message):
    with pytest.raises(ConfigError) as error:
        cli(overrides)
    assert str(error.value).startswith(message)


def test_imdb_with_its_own_group_defaults_composes():
    cfg = cli(["data=imdb", "train=minibatch", "model.hidden_units=[16,16]"])
    assert cfg.train.mode == "minibatch" and cfg.train.ensemble is True and cfg.train.optimizer == "adam"  # the trainer picks the mode


def test_home_in_the_archive_path_is_expanded(tmp_path, monkeypatch):
    from weightreg.imdb_source import archive_location

    monkeypatch.setenv("HOME", str(tmp_path))
    data = cli(["data=imdb", "train=minibatch", "data.archive='~/aclImdb.tar.gz'"]).data
    assert archive_location(data.archive) == str(tmp_path / "aclImdb.tar.gz")


def one_seed_runs():
    from test_aggregate import synthetic_runs

    return synthetic_runs().query("seed == 0")


def refused(argv, capsys) -> str:
    """Run the aggregate command, expect exit 2, return its one error line."""
    with pytest.raises(SystemExit) as stop:
        aggregate_main(argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_aggregate_refuses_statistics_from_one_seed(tmp_path, capsys):
    one_seed_runs().to_csv(tmp_path / "runs.csv", index=False)
    line = refused([str(tmp_path), "--margin", "0.01"], capsys)
    assert line.endswith("l2_0.001 has 1 seed paired with the baseline in variation model; intervals and tests need "
                         "at least 2 (n_seeds >= 2)")


def test_aggregate_refuses_runs_of_different_studies(tmp_path, capsys):
    from test_aggregate import synthetic_runs

    for study in ("moons_case_study", "moons_l2_grid"):
        (tmp_path / study).mkdir()
        synthetic_runs(study).to_csv(tmp_path / study / "runs.csv", index=False)
    line = refused([str(tmp_path), "--margin", "0.01"], capsys)
    assert "runs of different studies ['moons_case_study', 'moons_l2_grid']" in line


def test_aggregate_refuses_a_multirun_over_other_settings(tmp_path, capsys):
    """Two jobs of one study that differ in train.epochs: same conditions and seeds, different numbers."""
    from test_aggregate import synthetic_runs

    for epochs, shift in ((20, 0.0), (21, 0.01)):
        (tmp_path / f"train.epochs={epochs}").mkdir()
        runs = synthetic_runs()
        runs["test/accuracy"] += shift
        runs.to_csv(tmp_path / f"train.epochs={epochs}" / "runs.csv", index=False)
    line = refused([str(tmp_path), "--margin", "0.01"], capsys)
    assert "condition none, variation model, seed 0 differ between runs.csv files" in line


def test_a_misspelled_key_gets_our_line_with_the_closest_valid_key_before_hydras(tmp_path):
    result = subprocess.run([sys.executable, "-m", "weightreg.train", "regularizer.strenght=0.1", f"hydra.run.dir={tmp_path}"],
                            cwd=ROOT, env=project_env(), capture_output=True, text=True)
    assert result.returncode == 1  # Hydra's exit status: it refuses the override after our line
    lines = result.stderr.strip().splitlines()
    ours = next(i for i, line in enumerate(lines) if line.startswith("error: regularizer.strenght"))
    assert lines[ours] == "error: regularizer.strenght=0.1: no such key; did you mean regularizer.strength?"
    assert any("Could not override 'regularizer.strenght'" in line for line in lines[ours + 1:])  # then Hydra's own
