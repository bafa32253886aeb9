"""Your own model and data (the fit trainer, weightreg.fit_runs): the README walkthrough with a module outside the package, penalty
placement by glob and type, tasks, and bad input stopped before training."""

import json
import os
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import commit_all, moons_study, run
from weightreg.compose import composed_params
from weightreg.fit_runs import prepared_model, train_study
from weightreg.schema import from_mapping
from weightreg.conditions import conditions
from weightreg.study_inputs import load_data
from weightreg.errors import ConfigError, DataError
from weightreg.members import Member
from weightreg.tasks import TASKS, infer_task

USER_MODULE = '''
import keras


def small_net(input_shape, n_outputs, seed, units=8):
    """A user's functional model with named layers: dense_a -> dense_b -> head."""
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Dense(units, activation="relu", name="dense_a", kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    x = keras.layers.Dense(units, activation="relu", name="dense_b", kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    activation = "softmax" if n_outputs > 1 else "sigmoid"
    return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=activation, name="head")(x), name="small_net")


def not_a_model(input_shape):
    return "a string"
'''
IRIS_STUDY = '''
# @package _global_
study: iris_study
n_seeds: 2
margin: 0.05
data: {_target_: weightreg.datasets.sklearn_loader, name: load_iris}
model: {_target_: my_models.small_net, units: 8}
regularizer: {kind: l2, strength: 0.01, placement: [{layers: dense_a, weights: [kernel]}]}
train: {epochs: 3, batch_size: 16}
'''
TINY = ["n_seeds=2", "train.epochs=3"]


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A user's project outside the package: my_models.py and my_conf/experiment/iris_study.yaml."""
    (tmp_path / "my_models.py").write_text(USER_MODULE)
    (tmp_path / "my_conf" / "experiment").mkdir(parents=True)
    (tmp_path / "my_conf" / "experiment" / "iris_study.yaml").write_text(IRIS_STUDY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def cli(user_dir, *arguments, check=True):
    return run(["env", f"PYTHONPATH={os.pathsep.join([str(user_dir), *filter(None, os.environ.get('PYTHONPATH', '').split(os.pathsep))])}", "python", "-m", "weightreg.train", "--config-dir", str(user_dir / "my_conf"),
                *arguments], user_dir, check=check)


def iris_cfg(**changes):
    import yaml

    spec = yaml.safe_load(IRIS_STUDY)
    spec.update(changes)
    return from_mapping(spec)


@pytest.mark.slow
def test_walkthrough_command_line_single_run_aggregate_and_report(user_dir):
    cli(user_dir, "experiment=iris_study", "hydra.run.dir=single")
    [result] = list((user_dir / "single").glob("result-*"))
    runs = pd.read_csv(result / "runs.csv")
    assert set(runs.condition) == {"none", "l2_0.01@dense_a:kernel"} and set(runs.task) == {"multiclass"}
    assert {"weights/l2/dense_a.kernel", "weights/l2/dense_b.kernel", "weights/l2/head.kernel"} <= set(runs.columns)
    run(["python", "-m", "weightreg.aggregate", str(result), "--metrics", "metrics.json"], user_dir)
    comparisons = pd.read_csv(result / "comparisons.csv")
    assert set(comparisons.metric) == {"test/accuracy", "test/loss"} and comparisons.verdict.notna().all()
    assert json.loads((user_dir / "metrics.json").read_text())["headline"] == "l2_0.01@dense_a:kernel (model)"

    from weightreg.report import build_report

    (user_dir / "results").mkdir()
    result.rename(user_dir / "results" / "iris_study")
    build_report(user_dir / "results", user_dir / "reports")
    report = (user_dir / "reports" / "report.md").read_text()
    assert "## iris_study" in report and "`my_models.small_net(units=8)`" in report and "task multiclass" in report
    # a multirun of your own study and the aggregate of its folder: test_readme_walkthrough_runs_as_written


@pytest.mark.slow
def test_walkthrough_csv_file_binary(user_dir):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(label=np.where(x[:, 0] + x[:, 1] > 0, "yes", "no"))
    frame.to_csv(user_dir / "points.csv", index=False)
    study = IRIS_STUDY.replace("iris_study", "csv_study").replace(
        "{_target_: weightreg.datasets.sklearn_loader, name: load_iris}", "{_target_: weightreg.datasets.csv_file, path: points.csv, label: label}")
    (user_dir / "my_conf" / "experiment" / "csv_study.yaml").write_text(study)
    cli(user_dir, "experiment=csv_study", "hydra.run.dir=csv")
    runs = pd.read_csv(next((user_dir / "csv").glob("result-*/runs.csv")))
    assert set(runs.task) == {"binary"} and int(runs["test/n"].iloc[0]) == 30 and runs["test/accuracy"].between(0, 1).all()


@pytest.mark.slow
def test_walkthrough_as_a_dvc_stage(repo_copy):
    (repo_copy / "own" / "my_models.py").write_text(USER_MODULE)
    (repo_copy / "conf" / "experiment" / "iris_study.yaml").write_text(IRIS_STUDY)
    pipeline = (repo_copy / "conf" / "pipeline.yaml").read_text()
    pipeline = pipeline.replace("  - _self_\n", "  - study@studies.iris_study\n  - experiment@studies.iris_study: iris_study\n  - _self_\n", 1)
    (repo_copy / "conf" / "pipeline.yaml").write_text(pipeline.replace("  digits_mlp: {data: own, after: own}\n",
                                                                      "  digits_mlp: {data: own, after: own}\n  iris_study: {data: own, after: own}\n"))
    (repo_copy / "params.yaml").write_text(composed_params(["studies.digits_mlp.n_seeds=2"], root=repo_copy))
    commit_all(repo_copy, "a study of my own")
    run(["dvc", "repro", "aggregate@iris_study"], repo_copy)
    runs = pd.read_csv(repo_copy / "results" / "iris_study" / "runs.csv")
    assert len(runs) == 4 and set(runs.task) == {"multiclass"}
    metrics = json.loads((repo_copy / "metrics" / "iris_study.json").read_text())
    comparisons = pd.read_csv(repo_copy / "results" / "iris_study" / "comparisons.csv")
    assert len(comparisons) == 2  # one penalized condition, one variation, test/accuracy and test/loss
    [row] = comparisons[comparisons.metric == "test/accuracy"].itertuples()  # the metrics file DVC shows (the study's metric)
    assert metrics["headline"] == f"{row.condition} (model)" and metrics["verdict"] == row.verdict
    status = json.loads(run(["dvc", "status", "--json"], repo_copy).stdout)
    assert not {"train@iris_study", "aggregate@iris_study"} & set(status)


@pytest.mark.slow
def test_penalty_lands_only_where_its_pattern_says(user_dir):
    cfg = iris_cfg(sweep={"regularizer.placement": [[{"type": "Dense", "layers": "dense_*", "weights": ["kernel", "bias"]}]]})
    arrays = load_data(cfg, 0)
    task = TASKS["multiclass"]
    [baseline, glob_only, both] = conditions(iris_cfg()) + conditions(cfg)[1:]
    assert glob_only.name == "l2_0.01@dense_a:kernel" and both.name == "l2_0.01@dense_*:type=Dense:kernel+bias"
    plain = prepared_model(cfg, task, arrays, Member(baseline, "model", 3, 0))
    assert plain.losses == []
    model = prepared_model(cfg, task, arrays, Member(glob_only, "model", 3, 0))
    [loss] = model.losses
    kernel = keras.ops.convert_to_numpy(model.get_layer("dense_a").kernel)
    assert float(loss) == pytest.approx(0.01 * np.sum(kernel**2), rel=1e-5)
    for a, b in zip(plain.get_weights(), model.get_weights()):  # same initial weights: conditions are paired
        np.testing.assert_array_equal(a, b)
    wider = prepared_model(cfg, task, arrays, Member(both, "model", 3, 0))
    assert len(wider.losses) == 4 and wider.get_layer("head").kernel_regularizer is None

    strong = iris_cfg(sweep={"regularizer.strength": [1.0]}, n_seeds=1, train={"epochs": 15, "batch_size": 16},
                      optimizer={"learning_rate": 0.05})
    runs = train_study(strong)["runs"].set_index("condition")
    penalized = "l2_1@dense_a:kernel"
    assert runs.loc[penalized, "weights/l2/dense_a.kernel"] < 0.5 * runs.loc["none", "weights/l2/dense_a.kernel"]


def test_short_placements_keep_their_meaning(user_dir):
    cfg = iris_cfg(regularizer={"kind": "l1", "strength": 0.1, "placement": ["kernel", "output"],
                                "extra": [{"kind": "l2", "strength": 0.2, "placement": ["bias"]}]})
    arrays = load_data(cfg, 0)
    [_, condition] = conditions(cfg)
    model = prepared_model(cfg, TASKS["multiclass"], arrays, Member(condition, "model", 0, 0))
    assert [type(model.get_layer(n).kernel_regularizer).__name__ for n in ("dense_a", "dense_b", "head")] == ["L1"] * 3
    assert [type(model.get_layer(n).bias_regularizer).__name__ for n in ("dense_a", "dense_b", "head")] == ["L2", "L2", "NoneType"]


@pytest.mark.slow
def test_same_config_and_seed_give_bitwise_identical_runs(user_dir):
    first, second = (train_study(iris_cfg(train={"epochs": 2, "batch_size": 16}))["runs"] for _ in range(2))
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_resumed_run_ends_as_one_never_stopped(user_dir, tmp_path):
    short = iris_cfg(n_seeds=1, baseline=False, train={"epochs": 2, "batch_size": 16, "checkpoint_seconds": 0})
    full = iris_cfg(n_seeds=1, baseline=False, train={"epochs": 4, "batch_size": 16, "checkpoint_seconds": 0})
    checkpoints = tmp_path / "checkpoints"
    train_study(short, checkpoints)  # leaves each run's checkpoint after epoch 2, as a stopped run would
    resumed = train_study(full, checkpoints)["runs"]
    fresh = train_study(full)["runs"]
    pd.testing.assert_frame_equal(resumed, fresh, check_exact=True)


def test_a_callback_that_stops_a_run_stops_it_and_the_run_has_not_diverged(user_dir, tmp_path):
    """`train.callbacks` act on the whole run: EarlyStopping asking for an improvement of 10 in val_loss with patience 1
    ends every run after its second epoch; the epochs not run are empty, and the run's results stand. With
    restore_best_weights the run is scored and checkpointed with its first epoch's weights, so that a resumed study
    reads the same run back."""
    stop = {"_target_": "keras.callbacks.EarlyStopping", "monitor": "val_loss", "patience": 1, "min_delta": 10.0,
            "restore_best_weights": True}
    cfg = iris_cfg(n_seeds=1, train={"epochs": 6, "batch_size": 16, "callbacks": [stop]})
    done = train_study(cfg, tmp_path / "checkpoints")
    runs, curves = done["runs"], done["histories"]
    assert len(runs) == 2 and not runs.diverged.any() and runs["test/accuracy"].notna().all()
    ran = curves.dropna().groupby("condition").epoch.unique().map(sorted)
    assert ran.to_dict() == {condition: [1, 2] for condition in runs.condition}
    assert curves.value.isna().sum() == len(runs) * 4 * 4  # epochs 3-6, four metrics each
    saved = [json.loads((run / "history.json").read_text()) for run in (tmp_path / "checkpoints").iterdir()]
    assert [(len(s["logs"]), s["stopped"], s["diverged"]) for s in saved] == [(2, True, False)] * 2
    again = train_study(cfg, tmp_path / "checkpoints")["runs"]  # every run read back from its checkpoint
    pd.testing.assert_frame_equal(again, runs, check_exact=True)


def test_tasks_are_inferred_from_labels():
    assert infer_task(np.array([0, 1, 1])) == "binary"
    assert infer_task(np.array([0, 2, 1])) == "multiclass"
    assert infer_task(np.array([0.5, 1.25])) == "regression"
    assert infer_task(np.array([151.0, 75.0])) == "regression"  # e.g. load_diabetes: whole numbers, as floats
    assert infer_task(np.array([1.0, 0.0])) == "binary"


@pytest.mark.parametrize("changes, error, message", [
    ({"model": {"_target_": "no_such_module.build"}}, ConfigError, "model._target_='no_such_module.build': cannot be imported"),
    ({"model": {"_target_": "my_models.not_a_model"}}, ConfigError, "returned str; expected an uncompiled keras.Model"),
    ({"data": {"_target_": "weightreg.datasets.sklearn_loader", "name": "load_nothing"}}, ConfigError, "data.name='load_nothing'"),
    ({"regularizer": {"kind": "l2", "strength": 0.1, "placement": [{"layers": "conv*", "weights": ["kernel"]}]}}, ConfigError,
     "'conv*:kernel' matches no layer taking ['kernel']; the model's layers are"),
    ({"task": "binary"}, DataError, "does not fit task='binary'; expected labels 0 and 1"),
    ({"objective": "test/accuracy"}, ConfigError, "objective='test/accuracy': expected a validation metric"),
])
def test_bad_input_is_one_clear_error_before_training(user_dir, changes, error, message):
    with pytest.raises(error) as raised:
        train_study(iris_cfg(**changes))
    assert message in str(raised.value)


def test_mismatched_arrays_are_refused(user_dir):
    (user_dir / "my_data.py").write_text(textwrap.dedent('''
        import numpy as np
        def uneven():
            return {"x_train": np.zeros((10, 2)), "y_train": np.zeros(9), "x_test": np.zeros((4, 2)), "y_test": np.zeros(4)}
    '''))
    with pytest.raises(DataError, match="x_train has 10 rows but y_train has 9"):
        load_data(iris_cfg(data={"_target_": "my_data.uneven"}), 0)


@pytest.mark.slow
def test_command_line_error_exits_non_zero_and_writes_nothing(user_dir):
    result = cli(user_dir, "experiment=iris_study", "model.units=4", "+model.depth=2", "hydra.run.dir=bad", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == ("error: model._target_='my_models.small_net' failed: TypeError: small_net() "
                                                      "got an unexpected keyword argument 'depth'")
    assert not list((user_dir / "bad").glob("result-*"))


def test_builtin_mlp_target_is_the_builtin_model():
    from omegaconf import OmegaConf

    from weightreg.architectures import NO_PENALTY, mlp
    from weightreg.models import build_mlp

    ours = mlp(input_shape=(2,), n_outputs=1, seed=5, hidden_units=[16])
    builtin = build_mlp(OmegaConf.create({"hidden_units": [16], "activation": "relu"}), NO_PENALTY, 5, 2)
    for a, b in zip(ours.get_weights(), builtin.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert mlp(input_shape=(4,), n_outputs=3, seed=0, task="multiclass", hidden_units=[8]).output.shape == (None, 3)


@pytest.mark.slow
def test_optuna_searches_a_strength_on_validation_data(user_dir):
    import yaml

    cli(user_dir, "-m", "experiment=iris_study", "hydra/sweeper=optuna_strength", "hydra.sweeper.n_trials=2", "baseline=false",
        "n_seeds=1", "train.epochs=2")
    [search] = list((user_dir / "sweeps" / "iris_study" / "optuna_strength").iterdir())  # apart from grids and single runs
    assert list((user_dir / "sweeps" / "iris_study").iterdir()) == [search.parent]
    found = yaml.safe_load((search / "optimization_results.yaml").read_text())
    best = found["best_params"]["regularizer.strength"]
    assert 1e-6 <= best <= 1e-1
    trials = {float(json.loads((p.parent / "run.json").read_text())["config"]["regularizer"]["strength"]): pd.read_csv(p)
              for p in search.glob("*/result-*/runs.csv")}
    assert len(trials) == 2 and found["best_value"] == pytest.approx(trials[best]["val/accuracy"].mean())
    assert found["best_value"] == max(t["val/accuracy"].mean() for t in trials.values())


def test_regression_compares_mean_absolute_error(user_dir):
    from weightreg.aggregate import comparison_table, read_runs, summary_table

    cfg = from_mapping({"study": "diabetes", "n_seeds": 2, "margin": 5.0, "train": {"epochs": 2}, "regularizer": L2,
                        "data": {"_target_": "weightreg.datasets.sklearn_loader", "name": "load_diabetes"},
                        "model": {"_target_": "weightreg.architectures.mlp", "hidden_units": [8]}})
    runs = train_study(cfg)["runs"]
    assert set(runs.task) == {"regression"} and {"test/mae", "test/rmse"} <= set(runs.columns) and "test/accuracy" not in runs
    path = user_dir / "runs.csv"
    runs.to_csv(path, index=False)
    table = comparison_table(read_runs(path), cfg.margin)
    assert list(table.metric) == ["test/loss", "test/mae"] and np.isfinite(table.set_index("metric").loc["test/mae", "p_tost"])
    assert "test/mae" in set(summary_table(read_runs(path)).metric)


def test_moons_target_is_the_tutorials_draw():
    from sklearn.datasets import make_moons

    from weightreg.datasets import moons

    arrays = moons()
    x, y = make_moons(n_samples=100, noise=0.2, random_state=1)
    np.testing.assert_array_equal(arrays["x_train"], x[:30].astype(np.float32))
    np.testing.assert_array_equal(arrays["y_test"], y[30:])
    assert len(arrays["x_val"]) == 100 and infer_task(arrays["y_train"]) == "binary"


# --- which trainer trains a study (weightreg.stacked_spec) ---------------------------------------------------


def test_every_pipeline_study_trains_on_the_trainer_auto_picks():
    """The built-in studies name built-in targets the stacked trainers know; the study of a user's own model does not."""
    from omegaconf import OmegaConf

    from weightreg.schema import resolve_study
    from weightreg.stacked_spec import stacked_config, stacked_reason

    params = OmegaConf.create(composed_params())
    assert len(params.studies) == 11
    for name in params.studies:
        cfg = resolve_study(params, name)
        if name == "digits_mlp":
            assert "model._target_='models.two_layer_net' is not one of the stackable families" in stacked_reason(cfg)
            continue
        assert cfg.model["_target_"].startswith("weightreg.architectures.") and stacked_reason(cfg) is None, name
        assert stacked_config(cfg).train.ensemble, name


L2 = {"kind": "l2", "strength": 1e-3, "placement": ["kernel"]}


def test_a_stacked_study_records_its_config_and_the_spec_that_trained_it(tmp_path):
    from weightreg.train import run_study

    run_study(moons_study(n_seeds=2, variations=["model", "data+model"], train={"epochs": 40, "history_every": 5}), tmp_path / "moons")
    record = json.loads((tmp_path / "moons" / "run.json").read_text())
    assert record["trainer"] == "stacked: the compiled full-batch stack (weightreg.trainers.full_batch)"
    assert record["study_config"]["model"]["_target_"] == "weightreg.architectures.mlp"
    assert record["config"]["model"]["name"] == "mlp" and record["config"]["data"]["random_state"] == 1
    assert set(pd.read_csv(tmp_path / "moons" / "runs.csv").condition) == {"none", "l2_0.001"}


@pytest.mark.slow
def test_an_imdb_study_trains_stacked_or_by_fit(tmp_path):
    from conftest import write_archive
    from test_imdb import REVIEWS
    from weightreg.train import run_study

    archive = write_archive(tmp_path / "tiny.tar.gz", REVIEWS)
    study = from_mapping({"study": "imdb", "n_seeds": 2, "data_seed": 1, "regularizer": L2,
                          "data": {"_target_": "weightreg.datasets.imdb", "encoding": "sequences", "archive": str(archive), "vocab_size": 8,
                                   "num_words": 6, "maxlen": 5, "val_size": 2},
                          "model": {"_target_": "weightreg.architectures.text_cnn", "hidden_units": [], "embedding_dim": 4, "filters": 3,
                                    "kernel_size": 2},
                          "train": {"epochs": 2, "batch_size": 2, "history_every": 1}})
    stacked = run_study(study, tmp_path / "stacked")
    assert json.loads((tmp_path / "stacked" / "run.json").read_text())["trainer"] == "stacked: the minibatch text stacks (weightreg.trainers.text_stack)"
    study.train.trainer = "fit"  # the IMDB data target, run by run
    by_fit = run_study(study, tmp_path / "fit")
    assert json.loads((tmp_path / "fit" / "run.json").read_text())["trainer"].startswith("fit: one keras.Model per run")
    assert set(stacked.condition) == set(by_fit.condition) == {"none", "l2_0.001"} and len(stacked) == len(by_fit) == 4


def test_trainer_setting_picks_the_trainer(user_dir, tmp_path):
    from weightreg.train import run_study

    with pytest.raises(ConfigError, match=r"train.trainer=stacked: data._target_=.*sklearn_loader' is not .*; model._target_='my_models.small_net' is not one of the stackable"):
        run_study(iris_cfg(train={"trainer": "stacked"}), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    runs = run_study(moons_study(train={"epochs": 3, "history_every": 1, "trainer": "fit"}), tmp_path / "fit")
    assert json.loads((tmp_path / "fit" / "run.json").read_text())["trainer"].startswith("fit: one keras.Model per run")
    assert set(runs.condition) == {"none", "l2_0.001"} and runs["test/accuracy"].notna().all()
    # minibatches: not the full-batch moons stack, so model.fit
    run_study(moons_study(train={"epochs": 3, "history_every": 1, "batch_size": 8}), tmp_path / "auto")
    assert json.loads((tmp_path / "auto" / "run.json").read_text())["trainer"].startswith("fit:")


@pytest.mark.parametrize("changes, message", [
    ({"sweep": {"regularizer.schedule": [[{"epoch": 0, "strength": 1e-3}]]}}, r"regularizer.schedule=.* model.fit cannot apply it"),
    ({"regularizer": {"kind": "l2", "strength": 1e-3, "weight_decay": 4e-4}}, r"regularizer.weight_decay=0.0004 .*optimizer._target_=keras.optimizers.AdamW"),
    ({"train": {"bce_from_logits": False}}, r"train.bce_from_logits=false: the 2018 clipped loss exists in the stacked trainers only"),
])
def test_fit_lane_refuses_what_only_the_stacked_lane_does(user_dir, changes, message):
    with pytest.raises(ConfigError, match=message):
        train_study(iris_cfg(**changes))


def test_keras_dataset_names_a_module_of_keras_datasets():
    from weightreg.datasets import keras_dataset

    with pytest.raises(ConfigError, match=r"data.name='no_such_set': not a keras.datasets module; expected e.g. mnist"):
        keras_dataset("no_such_set")


@pytest.mark.slow
def test_report_of_a_folder_of_runs_is_the_studys_own(user_dir):
    """`weightreg report <folder>` over a multirun of a study of one's own: its jobs joined, the summary-first page
    titled by the study, nothing of the built-in studies."""
    from weightreg.train import run_study
    from weightreg.folder_report import main as report_main

    for strength in (0.01, 0.1):  # two jobs of one multirun, each with its own baseline on the same seeds
        run_study(iris_cfg(regularizer={"kind": "l2", "strength": strength, "placement": [{"layers": "dense_a", "weights": ["kernel"]}]},
                           train={"epochs": 2, "batch_size": 16}), user_dir / "multi" / f"strength={strength}" / "result-x")
    report_main([str(user_dir / "multi")])
    report = (user_dir / "multi" / "report" / "report.md").read_text()
    assert report.startswith("# iris_study\n")
    sections = [line for line in report.splitlines() if line.startswith("## ")]
    assert sections == ["## Answer", "## Summary", "## iris_study", "## Environment"]
    comparisons = pd.read_csv(user_dir / "multi" / "report" / "studies" / "iris_study" / "comparisons.csv")
    assert set(comparisons.condition) == {"l2_0.01@dense_a:kernel", "l2_0.1@dense_a:kernel"}  # one baseline, both jobs
    accuracy = comparisons[comparisons.metric == "test/accuracy"]
    assert set(accuracy.unit) == {"seeds x test points"} and (accuracy.test_points == 38).all()  # each job's test rows
    for builtin in ("moons", "no baseline", "Published vs reproduced", "Literature configurations", "config hash title"):
        assert builtin not in report, builtin
    html = (user_dir / "multi" / "report" / "report.html").read_text()
    assert "<title>iris_study</title>" in html and html.index("One row per study") < html.index("Paired differences")
    report_main([str(user_dir / "multi")])  # again: its own report/ is not read as runs
    assert (user_dir / "multi" / "report" / "report.md").read_text() == report


# --- the README walkthrough, read from the documentation and run as written ------------------------------------------

SIZE = ["n_seeds=2", "train.epochs=2", "answer.search_seeds=2", "answer.min_seeds=6", "answer.max_seeds=6",
        "answer.variations=[data+model]"]  # appended to the Hydra commands only: the walkthrough's files, at test size


def walkthrough_blocks() -> tuple[list[tuple[str, str]], list[str]]:
    """The fenced blocks of README's "Your own model and data" walkthrough: the files, each with the name the
    sentence before it gives (`my_models.py`, `my_conf/experiment/<name>.yaml`), and the shell commands."""
    import re

    from project_docs import section as doc_section

    section = doc_section("Your own model and data")
    section = section[section.index("Walkthrough"):]
    files, commands, end = [], [], 0
    for block in re.finditer(r"(?s)```(\w+)\n(.*?)```", section):
        before, language, body = section[end: block.start()], block.group(1), block.group(2)
        end = block.end()
        if language in ("python", "yaml"):
            files.append((re.findall(r"`(my_[\w/]+\.(?:py|yaml))`", before)[0], body))  # the user's file it names
        elif language == "sh":
            commands += [line for line in body.replace("\\\n", " ").splitlines() if line.strip()]
    return files, commands


def interpreter_shim(folder) -> None:
    """`.venv/bin/python` and `.venv/bin/weightreg` in `folder`, running this interpreter on the code under test (the
    README's commands set PYTHONPATH=. and would otherwise import the installed checkout)."""
    import stat
    import sys

    import weightreg

    source = os.path.dirname(os.path.dirname(weightreg.__file__))
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, tail in (("python", '"$@"'), ("weightreg", '-m weightreg.cli "$@"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{source}" exec {sys.executable} {tail}\n')
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)


@pytest.mark.slow
def test_readme_walkthrough_runs_as_written(tmp_path):
    files, commands = walkthrough_blocks()
    assert [name for name, _ in files] == ["my_models.py", "my_conf/experiment/noisy_digits.yaml"]
    assert [c.split()[0] for c in commands] == ["PYTHONPATH=.", "PYTHONPATH=.", ".venv/bin/weightreg", ".venv/bin/weightreg", "PYTHONPATH=."]
    for name, body in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    interpreter_shim(tmp_path)
    outputs = []
    for command in commands:
        hydra_command = " train " in command or " answer " in command
        done = run(["bash", "-c", command + (" " + " ".join(SIZE) if hydra_command else "")], tmp_path)
        outputs.append(done.stdout)
    [single] = list((tmp_path / "sweeps" / "noisy_digits" / "run").rglob("result-*"))  # run/<the overrides>/
    assert set(pd.read_csv(single / "runs.csv").condition) == {"none", "l2_0.003@hidden_*:kernel"}
    [multirun] = list((tmp_path / "sweeps" / "noisy_digits" / "basic").iterdir())
    assert len(list(multirun.glob("*/result-*/runs.csv"))) == 2
    assert "verdict" in outputs[2].splitlines()[0] and outputs[2].splitlines()[-1].startswith(f"wrote {multirun.relative_to(tmp_path)}/all_runs.csv")
    assert (multirun / "report" / "report.md").read_text().startswith("# noisy_digits\n")
    [answer_file] = list((tmp_path / "answers" / "noisy_digits").rglob("answer.json"))
    answer = json.loads(answer_file.read_text())
    assert answer["paragraph"] in outputs[4] and len(answer["candidates"]) == 4
