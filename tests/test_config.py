"""Real Hydra composition of every config; params.yaml; bad settings rejected with the key named."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from conftest import composed_study, stacked_spec
from weightreg.compose import composed_params
from weightreg.conditions import conditions
from weightreg.data_rules import DATA
from weightreg.errors import ConfigError
from weightreg.schema import resolve_study
from weightreg.stacked_spec import stacked_config, trains_stacked

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))


def cli(overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_matches_the_pipeline(experiment):
    from_cli = composed_study([f"experiment={experiment}"])
    from_pipeline = resolve_study(OmegaConf.load(ROOT / "params.yaml"), experiment)
    assert OmegaConf.to_container(from_cli) == OmegaConf.to_container(from_pipeline)
    assert len(conditions(stacked_config(from_cli), typed=True) if trains_stacked(from_cli) else conditions(from_cli)) >= 2


def test_every_experiment_is_in_the_pipeline():
    assert sorted(OmegaConf.load(ROOT / "params.yaml").studies) == EXPERIMENTS


def test_pipeline_lists_each_study_under_the_dataset_it_reads():
    """dvc.yaml makes data per dataset from params.yaml:datasets; every study must be there, under its own."""
    params = OmegaConf.load(ROOT / "params.yaml")
    by_dataset = {name: sorted(s for s in params.studies if DATA.get(params.studies[s].data._target_) == name) for name in ("moons", "imdb")}
    assert {name: sorted(studies) for name, studies in params.datasets.items()} == by_dataset


def test_pipeline_trains_each_study_on_its_data_and_each_refined_study_after_the_study_its_rule_reads():
    """dvc.yaml's one `train` stage depends on each study's data file (own/ for a study of its own code) and on the summary
    a refined study's rule reads."""
    params = OmegaConf.load(ROOT / "params.yaml")
    expected = {}
    for name, study in params.studies.items():
        data = f"data/{name}.npz" if study.data._target_ in DATA else "own"
        after = f"results/{study.refine.study}/summary.csv" if study.get("refine") else data
        expected[name] = {"data": data, "after": after}
    assert OmegaConf.to_container(params.training) == expected


def test_params_yaml_equals_what_conf_composes():
    assert (ROOT / "params.yaml").read_text() == composed_params()


def test_case_study_is_the_tutorial():
    cfg = stacked_spec(["experiment=moons_case_study"])
    assert [c.name for c in conditions(cfg, typed=True)] == ["none", "l2_0.001"]
    assert (cfg.data.n_samples, cfg.data.noise, cfg.data.random_state, cfg.data.n_train) == (100, 0.2, 1, 30)
    assert (list(cfg.model.hidden_units), cfg.train.epochs, cfg.train.batch_size) == ([500], 4000, 32)
    assert cfg.n_seeds >= 30


def test_l1_l2_takes_its_own_strengths():
    cfg = stacked_spec(["regularizer=l1_l2", "regularizer.l1=0.01", "regularizer.l2=0.02"])
    assert conditions(cfg, typed=True)[1].name == "l1_l2_0.01+0.02"


@pytest.mark.parametrize(
    "overrides, named",
    [
        (["regularizer=l3"], "regularizer"),
        (["regularizer.strength=abc"], "strength"),
        (["regularizer.placement=[kernel,wings]"], "wings"),
        (["regularizer.color=red"], "color"),
    ],
)
def test_composition_or_the_schema_rejects_bad_settings(overrides, named):
    """A wrong group or type fails in Hydra's composition; a penalty's keys (any mapping in the schema, as a `_target_`
    regularizer's are) fail where the stacked trainers' spec types them."""
    with pytest.raises((ConfigCompositionException, ValidationError, ConfigError)) as error:
        stacked_spec(overrides)
    assert named in str(error.value) + str(error.value.__cause__)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["regularizer.strength=-0.1"], "regularizer.strength=-0.1: expected a finite number >= 0"),
        (["data.n_train=100", "train.batch_size=100"], "data.n_train=100: expected an integer in 1..99"),
        (["n_seeds=0"], "n_seeds=0: expected an integer >= 1"),
        (["variations=[model,weather]"], "variations=['model', 'weather']: expected a non-empty list of model, data+model"),
        (["+regularizer.schedule=[{epoch:0,strength:-1.0}]"], "regularizer.schedule[0]="),  # + : a key its group file lacks
    ],
)
def test_validation_names_key_value_and_what_is_allowed(overrides, message):
    with pytest.raises(ConfigError) as error:
        stacked_spec(overrides)
    assert message in str(error.value)
