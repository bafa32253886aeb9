"""Bad input on the own-model path (and the names and numbers every path reads): one error line naming the file or
key, the value and what was expected, exit 2, nothing written. Each message is asserted whole."""

import os
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import run
from test_custom import USER_MODULE
from weightreg.train import run_study
from weightreg.schema import from_mapping
from weightreg.errors import ConfigError, exit_on_error

USER_CODE = USER_MODULE + '''
import numpy as np


def three_way(input_shape):
    """Three softmax outputs (each 1/3: zero weights), whatever the task."""
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", kernel_initializer="zeros", name="head")(inputs))


def arrays(fault="none"):
    """40 points in 2-D with 0/1 labels, or the same with one fault."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    out = {"x_train": x[:30], "y_train": y[:30], "x_test": x[30:], "y_test": y[30:]}
    if fault == "feature counts":
        out["x_test"] = np.zeros((10, 3), np.float32)
    elif fault == "nan features":
        out["x_train"][[3, 7], 1] = np.nan
    elif fault == "inf features":
        out["x_test"][2, 0] = np.inf
    elif fault == "nan label":
        out["y_train"] = out["y_train"].astype(np.float64)
        out["y_train"][4] = np.nan
    elif fault == "lone x_val":
        out["x_val"] = x[:5]
    elif fault == "not a mapping":
        return [x, y]
    return out
'''
TARGET = "data._target_='user_code.arrays'"
BASE = {"study": "faulty", "n_seeds": 1, "train": {"epochs": 1, "batch_size": 8},
        "data": {"_target_": "user_code.arrays"}, "model": {"_target_": "user_code.small_net"},
        "regularizer": {"kind": "l2", "strength": 0.01, "placement": ["kernel"]}}


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "user_code.py").write_text(USER_CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def study(**changes):
    return from_mapping({**BASE, **changes})


def error_line(cfg, out, capsys) -> str:
    """What the command line does with the study: the one `error:` line on stderr (beside the progress bar), after
    checking the exit status (2) and that neither the results nor any checkpoint was written."""
    checkpoints = out.parent / "checkpoints"
    with pytest.raises(SystemExit) as exited, exit_on_error():
        run_study(cfg, out, checkpoints)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if "error:" in line]
    assert len(lines) == 1 and err.strip().splitlines()[-1] == lines[0], err[-2000:]  # a line of its own, the last
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))  # nor its temporary folder
    assert not checkpoints.exists() or not any(checkpoints.iterdir())
    return lines[0].removeprefix("error: ")


DATA_FAULTS = [
    ("feature counts", f"{TARGET}: x_test has feature shape (3,) but x_train has (2,); expected the same shape in every split"),
    ("nan features", f"{TARGET}: x_train holds 2 non-finite value(s) (nan) in 2 row(s), first rows [3, 7]; expected finite features"),
    ("inf features", f"{TARGET}: x_test holds 1 non-finite value(s) (inf) in 1 row(s), first rows [2]; expected finite features"),
    ("nan label", f"{TARGET}: y_train holds 1 non-finite value(s) (nan) in 1 row(s), first rows [4]; expected finite labels"),
    ("lone x_val", f"{TARGET} returned only one of x_val, y_val; expected both or neither"),
    ("not a mapping", f"{TARGET} returned list; expected a mapping with ['x_train', 'y_train', 'x_test', 'y_test'] "
                      "(and optionally x_val, y_val)"),
]


@pytest.mark.parametrize("fault, message", DATA_FAULTS, ids=[fault for fault, _ in DATA_FAULTS])
def test_a_data_target_fault_is_one_error_before_training(user_dir, capsys, fault, message):
    assert error_line(study(data={"_target_": "user_code.arrays", "fault": fault}), user_dir / "out", capsys) == message


def test_the_fault_free_data_target_trains(user_dir):
    """The control for the faults above: the same target and model without a fault make a study."""
    runs = run_study(study(), user_dir / "out")
    assert len(runs) == 2 and not runs.diverged.any() and (user_dir / "out" / "runs.csv").is_file()


CSV_FAULTS = [
    ("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(12)), "species",
     "data.label='species': {path} has no such column; its columns are ['a', 'b', 'label']"),
    ("a,b,label\n" + "".join(f"{i},{i % 3},{'' if i == 5 else 'xy'[i % 2]}\n" for i in range(12)), "label",
     "{path}: column 'label' (data.label) is blank on line(s) [7]; expected a label on every line"),
    ("a,b,label\n" + "".join(f"{i},{i % 3},{'' if i in (2, 9) else i % 2}\n" for i in range(12)), "label",
     "{path}: column 'label' (data.label) is blank on line(s) [4, 11]; expected a label on every line"),
    ("a,b,label\n" + "".join(f"{i},{'xy'[i % 2]}\n" if i == 4 else f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(12)), "label",
     "{path}: column 'label' (data.label) is blank on line(s) [6]; expected a label on every line"),  # a short row
    ("a,b,label\n" + "".join(f"{i},{'' if i == 3 else i % 3},{'xy'[i % 2]}\n" for i in range(12)), "label",
     "{path}: columns ['b'] are not numbers (or have gaps); expected numeric features beside the label column"),
]


@pytest.mark.parametrize("text, label, message", CSV_FAULTS,
                         ids=["no label column", "blank text label", "blank numeric labels", "short row", "blank feature"])
def test_a_csv_file_fault_names_the_file_the_column_and_the_line(user_dir, capsys, text, label, message):
    path = user_dir / "points.csv"
    path.write_text(text)
    cfg = study(data={"_target_": "weightreg.datasets.csv_file", "path": str(path), "label": label})
    assert error_line(cfg, user_dir / "out", capsys) == message.format(path=path)


SETTING_FAULTS = [
    ({"model": {"_target_": "user_code.three_way"}},
     "model._target_='user_code.three_way': the model returns shape (8, 3) with values in [0.333, 0.333] for task='binary'; "
     "expected one probability per example (sigmoid), shape (n, 1)"),
    ({"model": {"_target_": "user_code.three_way"}, "task": "regression"},
     "model._target_='user_code.three_way': the model returns shape (8, 3) with values in [0.333, 0.333] for "
     "task='regression'; expected one value per example, shape (n, 1)"),
    ({"regularizer": {"kind": "l2", "strength": 0.01, "placement": ["kernel"],
                      "extra": [{"kind": "l1", "strength": 0.1, "placement": [{"layers": "dense_a", "weights": ["kernel"]}]}]}},
     "regularizer.extra[0].placement[0]='dense_a:kernel' places a second penalty on dense_a.kernel, already penalized by "
     "regularizer.placement[0]='kernel'; expected each weight in one term"),
    ({"regularizer": {"kind": "l2", "strength": 0.01, "placement": [{"layers": "dense_*", "weights": ["bias"]},
                                                                   {"type": "Dense", "weights": ["bias"]}]}},
     "regularizer.placement[1]='type=Dense:bias' places a second penalty on dense_a.bias, already penalized by "
     "regularizer.placement[0]='dense_*:bias'; expected each weight in one term"),
    ({"sweep": {"optimizer._target_": ["keras.optimizers.Adamm"]}},
     "optimizer._target_='keras.optimizers.Adamm': cannot be imported (keras.optimizers has no attribute 'Adamm'); "
     "expected a dotted path to a callable on PYTHONPATH"),
    ({"optimizer": {"_target_": "no_such_package.Adam", "_partial_": True}},
     "optimizer._target_='no_such_package.Adam': cannot be imported (no module named 'no_such_package'); "
     "expected a dotted path to a callable on PYTHONPATH"),
    ({"optimizer": {"_target_": "keras.losses.MeanSquaredError", "_partial_": True}},
     "optimizer._target_='keras.losses.MeanSquaredError' failed when called: TypeError: MeanSquaredError.__init__() got an "
     "unexpected keyword argument 'learning_rate'; expected a keras optimizer (with _partial_: true)"),  # the default's rate
    ({"optimizer": {"_target_": "keras.optimizers.Adam", "_partial_": True, "learning_rte": 0.1}},
     "optimizer._target_='keras.optimizers.Adam' failed when called: ValueError: Argument(s) not recognized: "
     "{'learning_rte': 0.1}; expected a keras optimizer (with _partial_: true)"),
    ({"regularizer": {"_target_": "keras.regularizers.L3", "placement": ["kernel"]}},
     "regularizer._target_='keras.regularizers.L3': cannot be imported (keras.regularizers has no attribute 'L3'); "
     "expected a dotted path to a callable on PYTHONPATH"),
    ({"regularizer": {"_target_": "keras.losses.MeanSquaredError", "placement": ["kernel"]}},
     "regularizer._target_='keras.losses.MeanSquaredError' gives MeanSquaredError; expected a keras regularizer"),
    ({"regularizer": {"_target_": "keras.regularizers.OrthogonalRegularizer", "factr": 0.1, "placement": ["kernel"]}},
     "regularizer._target_='keras.regularizers.OrthogonalRegularizer' failed: TypeError: OrthogonalRegularizer.__init__() "
     "got an unexpected keyword argument 'factr'"),
]


@pytest.mark.parametrize("changes, message", SETTING_FAULTS, ids=[
    "binary task, 3 outputs", "regression, 3 outputs", "second penalty (extra)", "second penalty (two rules)",
    "optimizer not importable (swept)", "optimizer module missing", "optimizer not an optimizer", "optimizer argument",
    "regularizer not importable", "regularizer not a regularizer", "regularizer argument"])
def test_a_bad_setting_is_one_error_before_training(user_dir, capsys, changes, message):
    assert error_line(study(**changes), user_dir / "out", capsys) == message


def test_a_refined_study_run_before_its_source_study_names_the_missing_summary(user_dir, capsys):
    cfg = study(results_dir=str(user_dir / "results"), refine={
        "study": "grid", "metric": "val/accuracy", "variation": "model", "axis": "regularizer.strength", "multipliers": [1.0]})
    assert error_line(cfg, user_dir / "out", capsys) == (
        f"{user_dir / 'results' / 'grid' / 'summary.csv'}: not found; study 'faulty' refines 'grid', so that study must "
        "be aggregated first")


def test_a_builtin_refined_study_run_before_its_source_study_names_the_missing_summary(tmp_path):
    from omegaconf import OmegaConf

    from weightreg.compose import composed_params
    from weightreg.schema import resolve_study
    from weightreg.errors import DataError
    from weightreg.refine import apply_refinement

    cfg = resolve_study(OmegaConf.create(composed_params()), "moons_fine_grid")
    cfg.results_dir = str(tmp_path / "results")
    with pytest.raises(DataError) as raised:
        apply_refinement(cfg)
    assert str(raised.value) == (f"{tmp_path / 'results' / 'moons_l2_grid' / 'summary.csv'}: not found; study "
                                 "'moons_fine_grid' refines 'moons_l2_grid', so that study must be aggregated first")


@pytest.mark.parametrize("margin, message", [
    (float("inf"), "margin=inf: expected a finite number > 0 in the task's metric"),
    (float("nan"), "margin=nan: expected a finite number > 0 in the task's metric"),
    (0.0, "margin=0.0: expected a finite number > 0 in the task's metric"),
    (-0.1, "margin=-0.1: expected a finite number > 0 in the task's metric"),
])
def test_a_margin_that_cannot_bound_a_difference_is_refused(margin, message):
    with pytest.raises(ConfigError) as raised:
        study(margin=margin)
    assert str(raised.value) == message


def test_a_builtin_margin_of_inf_is_refused():
    from weightreg.validation import from_mapping as builtin_mapping

    with pytest.raises(ConfigError) as raised:
        builtin_mapping({"margin": float("inf")})
    assert str(raised.value) == "margin=inf: expected a number in (0, 1), the equivalence margin in accuracy"


@pytest.mark.parametrize("sweep, message", [
    ({"regularizer.kind": ["l2", "l9"]}, "sweep.regularizer.kind='l9': kind: Invalid value 'l9', expected one of [none, l1, l2, l1_l2]"),
    ({"regularizer.strength": [0.001], "regularizer.kind": ["l9"]},  # the axis that breaks the penalty, not all of them
     "sweep.regularizer.kind='l9': kind: Invalid value 'l9', expected one of [none, l1, l2, l1_l2]"),
    ({"regularizer.extra": [{"kind": "l1"}]}, "sweep.regularizer.extra={'kind': 'l1'}: regularizer.extra: Cannot merge "
     "DictConfig with ListConfig; expected a key and value that fit the study's regularizer"),
    ({"regularizer": [{"kind": "l2", "placement": ["elbow"]}]},
     "sweep.regularizer={'kind': 'l2', 'placement': ['elbow']}: placement[0]: Invalid value 'elbow', expected one of "
     "[kernel, output, bias, activity, recurrent]"),
])
def test_a_bad_sweep_value_of_a_builtin_study_names_the_axis_and_the_value(sweep, message):
    """The stacked trainers' conditions are checked against their penalty form as they are crossed (conditions(typed=True))."""
    from weightreg.validation import from_mapping as builtin_mapping

    with pytest.raises(ConfigError) as raised:
        builtin_mapping({"sweep": sweep})
    assert str(raised.value) == message


@pytest.mark.slow
def test_command_line_bad_data_exits_2_with_one_line_and_writes_nothing(user_dir):
    (user_dir / "conf" / "experiment").mkdir(parents=True)
    (user_dir / "conf" / "experiment" / "faulty.yaml").write_text(textwrap.dedent('''
        # @package _global_
        study: faulty
        n_seeds: 1
        data: {_target_: user_code.arrays, fault: nan features}
        model: {_target_: user_code.small_net}
        train: {epochs: 1}
    '''))
    result = run(["env", f"PYTHONPATH={os.pathsep.join([str(user_dir), *filter(None, os.environ.get('PYTHONPATH', '').split(os.pathsep))])}", "python", "-m", "weightreg.train", "--config-dir", str(user_dir / "conf"),
                  "experiment=faulty", "hydra.run.dir=out"], user_dir, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.replace("\r", "\n").splitlines() if "error:" in line]
    assert errors == [f"error: {DATA_FAULTS[1][1]}"] == result.stderr.strip().splitlines()[-1:], result.stderr[-2000:]
    assert not list((user_dir / "out").glob("*result-*"))


# --- names: an unknown study on each stage's command line -------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command, message", [
    (["python", "-m", "weightreg.train", "stage", "moons_cases", "--out", "results/x"],
     "studies.moons_cases: no such study; expected one of {every}"),
    (["python", "-m", "weightreg.data", "digits", "--out", "data/x.npz"],
     "studies.digits: no such study; expected one of {every}"),
    (["python", "-m", "weightreg.verify", "--study", "moons_case_study", "--study", "imdb_cnnn"],
     "--study 'imdb_cnnn': no such study in params.yaml; expected one of {every}"),
])
def test_an_unknown_study_name_is_one_error_listing_the_studies(tmp_path, command, message):
    from weightreg.compose import composed_params

    (tmp_path / "params.yaml").write_text(composed_params())
    builtin = sorted(["moons_case_study", "moons_l2_grid", "moons_penalties", "moons_placement", "moons_fine_grid",
                      "moons_confirm", "moons_schedule", "imdb_mlp", "imdb_cnn", "imdb_lstm"])
    result = run(command, tmp_path, check=False)
    assert result.returncode == 2
    every = sorted([*builtin, "digits_mlp"])
    assert result.stderr.strip().splitlines()[-1] == "error: " + message.format(builtin=builtin, every=every)
    assert not (tmp_path / "results").exists()


# --- verify: a cached diverged run retrained to the same NaNs is a match -----------------------------


def cached_and_fresh(fresh_loss):
    from weightreg.verify import COMPARED

    row = {"condition": "l2_10", "variation": "model", "seed": 3, "diverged": True, **{m: np.nan for m in COMPARED}}
    fine = {"condition": "none", "variation": "model", "seed": 3, "diverged": False, **{m: 0.5 for m in COMPARED}}
    cached = pd.DataFrame([fine, row])
    fresh = cached.astype({"seed": str}).copy()
    fresh.loc[1, "train/loss"] = fresh_loss
    return cached, fresh


def test_verify_matches_a_diverged_run_that_diverges_again():
    from weightreg.verify import compare

    report = compare(*cached_and_fresh(np.nan), rtol=0.0)
    assert report.verdict.tolist() == ["bitwise", "bitwise"]
    assert report["relative difference"].tolist() == [0.0, 0.0]


def test_verify_flags_a_diverged_run_that_no_longer_diverges():
    from weightreg.verify import compare

    report = compare(*cached_and_fresh(0.7), rtol=1e-4)
    assert report.verdict.tolist() == ["bitwise", "MISMATCH"]
    assert report.loc[1, "worst metric"] == "train/loss" and report.loc[1, "relative difference"] == np.inf


# --- aggregate: a damaged runs.csv or a correct.npz that does not match it ------------------------------------------


def damaged_study(tmp_path, fault):
    """A study folder as the training stage writes it (synthetic rows, their test-point bits), with one fault."""
    from test_aggregate import synthetic_study
    from weightreg.artifacts import save_correct

    folder = tmp_path / "results" / "moons_case_study"
    synthetic_study(folder)
    runs_csv = folder / "runs.csv"
    runs = pd.read_csv(runs_csv)
    rows = len(runs)
    correct = np.zeros((rows, 70), dtype=bool)
    if fault == "truncated":
        text = runs_csv.read_bytes()
        runs_csv.write_bytes(text[: text.rindex(b"\n", 0, -1) + 10])  # the last row cut after 9 characters
    elif fault == "empty":
        runs_csv.write_bytes(b"")
    elif fault == "non-numeric":
        runs["test/accuracy"] = runs["test/accuracy"].astype(object)
        runs.loc[5, "test/accuracy"] = "0.9O"
        runs.to_csv(runs_csv, index=False)
    elif fault == "rows":
        correct = correct[:-1]
    elif fault == "test points":
        correct = correct[:, :60]
    save_correct(correct, folder / "correct.npz")
    if fault == "corrupt npz":
        (folder / "correct.npz").write_bytes(b"PK\x03\x04 not a zip archive")
    return folder, rows


RUNS_CSV = "{folder}/runs.csv"
AGGREGATE_FAULTS = [
    ("truncated", RUNS_CSV + ": line {last} ends without a newline (the file is truncated); expected a complete table (rerun the "
                  "study's training or `dvc checkout`)"),
    ("empty", RUNS_CSV + ": line 1 ends without a newline (the file is truncated); expected a complete table (rerun the study's "
              "training or `dvc checkout`)"),
    ("non-numeric", RUNS_CSV + ": column 'test/accuracy', line 7 (run none, model, seed 5): '0.9O' is not a number; expected a "
                    "number (empty only for a diverged run)"),
    ("rows", "{folder}/correct.npz: {short} rows for {rows} runs in runs.csv; expected one row per run, in runs.csv's order (rerun "
             "the study's training)"),
    ("test points", "{folder}/correct.npz: 60 test points per run, but runs.csv's test/n is [70]; expected the same test set "
                    "(rerun the study's training)"),
    ("corrupt npz", "{folder}/correct.npz: not a readable correct.npz (BadZipFile: File is not a zip file); expected the packed "
                    "test-point bits a study writes"),
]


@pytest.mark.parametrize("fault, message", AGGREGATE_FAULTS, ids=[fault for fault, _ in AGGREGATE_FAULTS])
@pytest.mark.parametrize("stage", [True, False], ids=["dvc-stage", "folder"])
def test_aggregate_refuses_a_damaged_study_with_one_line_and_writes_nothing(tmp_path, capsys, fault, message, stage):
    """Both forms of the command (the DVC stage's `--metrics` and a folder of runs): exit 2, one line naming the file,
    the column and line (or the row counts) and the bad value, and no summary, comparisons, curves or metrics."""
    from weightreg.aggregate import main

    folder, rows = damaged_study(tmp_path, fault)
    before = sorted(p.name for p in folder.iterdir())
    metrics = tmp_path / "metrics" / "moons_case_study.json"
    with pytest.raises(SystemExit) as exited:
        main([str(folder), "--metrics", str(metrics)] if stage else [str(folder)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = message.format(folder=folder, rows=rows, short=rows - 1, last=rows + 1)
    assert err == [f"error: {expected}"]
    assert sorted(p.name for p in folder.iterdir()) == before and not metrics.parent.exists()
