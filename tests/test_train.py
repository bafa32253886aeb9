"""Real training with tiny budgets: determinism, stacked-vs-alone equivalence, the command line."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run
from weightreg.conditions import conditions
from weightreg.validation import from_mapping
from weightreg.data import make_draws
from omegaconf import OmegaConf

from weightreg.members import chunk_bounds
from weightreg.trainers.study import train

pytestmark = pytest.mark.slow


def tiny(**values):
    base = {"n_seeds": 3, "train": {"epochs": 40, "history_every": 5}, "regularizer": {"kind": "l2", "strength": 0.01}}
    return from_mapping({**base, **values})


def train_tiny(cfg):
    return train(cfg, conditions(cfg, typed=True), make_draws(cfg))


def test_same_seed_is_bitwise_identical_and_another_seed_is_not():
    first, second = train_tiny(tiny()), train_tiny(tiny())
    pd.testing.assert_frame_equal(first["histories"], second["histories"], check_exact=True)
    columns = ["train/loss", "test/loss", "weights/l2/all_kernels"]
    pd.testing.assert_frame_equal(first["runs"][columns], second["runs"][columns], check_exact=True)
    other = train_tiny(tiny(seed=7))
    assert not np.array_equal(first["runs"]["train/loss"], other["runs"]["train/loss"])


def test_the_seeding_block_leaves_pythonhashseed_as_the_interpreter_started(monkeypatch):
    """Python reads PYTHONHASHSEED only at start: writing it later changes nothing here, yet run.json would record it."""
    from weightreg.members import seed_everything

    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    seed_everything(7, 2)
    assert "PYTHONHASHSEED" not in os.environ


def test_an_identical_rerun_writes_identical_files(tmp_path):
    """Only run.json (its clock) may differ, so DVC reruns nothing downstream of an identical retrain."""
    from conftest import moons_study
    from weightreg.train import run_study

    cfg = moons_study(n_seeds=2, train={"epochs": 30, "history_every": 5})
    for folder in ("first", "second"):
        run_study(cfg, tmp_path / folder, tmp_path / "checkpoints")
    for name in ("runs.csv", "histories.csv.gz", "surfaces.csv.gz", "correct.npz"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name


def test_a_member_trains_the_same_alone_and_inside_a_stack():
    placement = {"sweep": {"regularizer.placement": [["kernel"], ["kernel", "bias", "output"], ["activity"]]}}
    stacked = train_tiny(tiny(seed=2, n_seeds=3, **placement))["runs"].query("seed == 3")
    alone = train_tiny(tiny(seed=3, n_seeds=1, **placement))["runs"]
    plain = train_tiny(tiny(seed=3, n_seeds=1, train={"epochs": 40, "history_every": 5, "ensemble": False}, **placement))["runs"]
    metrics = [c for c in stacked.columns if c.split("/")[0] in ("train", "val", "test", "weights")]
    assert len(metrics) == 12  # test/n, loss and accuracy of 3 splits, l1 and l2 norms of 2 layers, all kernels
    assert list(stacked.condition) == list(alone.condition) == list(plain.condition)
    # Alone and inside a stack: the same XLA arithmetic per member, so every metric and norm is bitwise equal.
    pd.testing.assert_frame_equal(stacked[metrics].reset_index(drop=True), alone[metrics].reset_index(drop=True), check_exact=True)
    # As a plain keras.Sequential: float32 sums in another order. Measured (40 epochs, these 3 conditions): losses
    # within 1.4e-7 relative (val/loss), weight norms within 2.6e-9, every accuracy equal. Tolerance: 1e-6.
    accuracies = [c for c in metrics if c.endswith("/accuracy") or c == "test/n"]
    pd.testing.assert_frame_equal(stacked[accuracies].reset_index(drop=True), plain[accuracies].reset_index(drop=True), check_exact=True)
    others = [c for c in metrics if c not in accuracies]
    np.testing.assert_allclose(stacked[others].to_numpy(), plain[others].to_numpy(), rtol=1e-6, atol=0)


def test_compiled_blocks_report_progress_and_give_the_same_numbers_as_one_block(monkeypatch):
    """The compiled trainer runs EPOCHS_PER_CALL epochs per call and reports each block's member-epochs;
    how the epochs are cut into calls changes no number (the schedule crosses a block boundary here)."""
    import weightreg.trainers.full_batch as trainer
    from weightreg.members import member_arrays, study_members

    sweep = {"regularizer.schedule": [[], [{"epoch": 0, "strength": 0.0}, {"epoch": 23, "strength": 0.1}]]}
    cfg = tiny(sweep=sweep, train={"epochs": 47, "history_every": 5})
    members = study_members(cfg, conditions(cfg, typed=True))
    arrays = member_arrays(make_draws(cfg), members)
    whole = trainer.train_stacked(cfg, members, arrays)
    monkeypatch.setattr(trainer, "EPOCHS_PER_CALL", 20)  # 4 records a call: epochs 0-19, 20-39, 40-46
    reported = []
    blocks = trainer.train_stacked(cfg, members, arrays, reported.append)
    assert reported == [len(members) * 20, len(members) * 20, len(members) * 7]
    np.testing.assert_array_equal(blocks.history, whole.history)
    for key in whole.final:
        np.testing.assert_array_equal(blocks.final[key], whole.final[key])


STACKS_OF_A_SIZE = """
import weightreg.trainers.full_batch as trainer
from test_train import tiny
from weightreg.data import make_draws
from weightreg.conditions import conditions
from weightreg.members import chunk_bounds, member_arrays, penalty_specs, study_members

trainer.EPOCHS_PER_CALL = 20
schedule = [{"epoch": 0, "strength": 0.0}, {"epoch": 30, "strength": 0.1}]
cfg = tiny(n_seeds=4, train={"epochs": 47, "history_every": 5}, sweep={"regularizer.schedule": [[], schedule]})
members = study_members(cfg, conditions(cfg, typed=True))
arrays = member_arrays(make_draws(cfg), members)
bounds = chunk_bounds(len(members), 4)
assert [b - a for a, b in bounds] == [4, 4, 4], bounds
stack = trainer.FullBatchStack(cfg, 4, penalty_specs(members), arrays)
for a, b in bounds:
    stack.train(members[a:b], {name: value[a:b] for name, value in arrays.items()})
print("traces", stack.run.block.experimental_get_tracing_count())
"""


def test_one_compiled_block_serves_every_moons_stack_of_a_size(tmp_path):
    """Stacks of one size reuse one traced block and XLA compiles it once per block length, not once per chunk
    or per block: three stacks of four members (one of the three conditions scheduled), over 47 epochs in blocks of 20, trace
    the block twice (a full block and the shorter last one) and compile it twice. The compilations are counted
    in XLA's dump, which needs a fresh process (XLA reads its flags once)."""
    dump = tmp_path / "xla"
    result = run([sys.executable, "-c", STACKS_OF_A_SIZE], ROOT / "tests",
                 env={"XLA_FLAGS": f"--xla_dump_to={dump} --xla_dump_hlo_as_text"})
    assert result.stdout.split()[-2:] == ["traces", "2"]
    assert len(list(dump.glob("*_inference_block_*after_optimizations.txt"))) == 2


def test_penalty_shrinks_weights_and_schedule_takes_effect():
    sweep = {"regularizer.strength": [1e-1], "regularizer.schedule": [[], [{"epoch": 0, "strength": 0.0}, {"epoch": 30, "strength": 0.1}]]}
    runs = train_tiny(tiny(sweep=sweep, train={"epochs": 60, "history_every": 5}))["runs"]
    norm = runs.groupby("condition")["weights/l2/all_kernels"].mean()
    assert norm["l2_0.1"] < norm["l2_0.1~schedule"] < norm["none"]


def test_command_line_single_run_and_multirun(tmp_path):
    args = ["python", "-m", "weightreg.train", "train.epochs=5", "n_seeds=1", f"hydra.run.dir={tmp_path}/one"]
    run([*args[:3], "experiment=moons_case_study", "seed=3", *args[3:]], ROOT)
    runs = pd.read_csv(next((tmp_path / "one").glob("result-*/runs.csv")))
    assert runs.seed.tolist() == [3, 3, 3, 3] and set(runs.condition) == {"none", "l2_0.001"}
    run(["python", "-m", "weightreg.train", "-m", "seed=0,100", "regularizer=l1,l2", "train.epochs=5", "n_seeds=1",
         f"hydra.sweep.dir={tmp_path}/multi"], ROOT)
    folders = sorted(p.parent.parent.name for p in (tmp_path / "multi").glob("*/result-*/runs.csv"))
    assert folders == [f"n_seeds=1,regularizer={r},seed={s},train.epochs=5" for r in ("l1", "l2") for s in (0, 100)]


@pytest.mark.parametrize(
    "override, code, line",
    [  # exit 2 and our one line, last; exit 1 where Hydra refuses the override itself, with its line naming the value
        ("regularizer=l7", 1, "In 'study': Could not find 'regularizer/l7'"),
        ("regularizer.strength=-1", 2, "error: regularizer.strength=-1.0: expected a finite number >= 0"),
        ("data.n_train=100", 2, "error: data.n_train=100: expected an integer in 1..99 (below data.n_samples)"),
        ("regularizer.placement=[elbow]", 2, "error: regularizer.placement[0]='elbow': expected one of ['kernel', 'output', "
         "'bias', 'activity', 'recurrent'] or a mapping with ['layers', 'type', 'weights']"),
    ],
)
def test_command_line_bad_input_exits_nonzero_and_writes_nothing(tmp_path, override, code, line):
    result = run(["python", "-m", "weightreg.train", override, "train.epochs=5", "n_seeds=1", f"hydra.run.dir={tmp_path}/x"], ROOT, check=False)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert (lines[-1] == line) if code == 2 else (line in lines), result.stderr
    assert not list(tmp_path.rglob("runs.csv"))


@pytest.mark.parametrize("n, most, expected", [(10, 120, [(0, 10)]), (240, 120, [(0, 120), (120, 240)]), (250, 120, [(0, 83), (83, 167), (167, 250)])])
def test_chunk_bounds_cover_every_member_once_in_near_equal_stacks(n, most, expected):
    assert chunk_bounds(n, most) == expected


def test_stacks_split_into_chunks_and_trained_in_parallel_give_the_same_numbers_as_one_stack():
    """Bitwise: a member's arithmetic (training in XLA, final scores in XLA) does not depend on its stack or worker."""
    cfg = from_mapping({"n_seeds": 3, "variations": ["model", "data+model"], "train": {"epochs": 40, "history_every": 5}})
    draws = make_draws(cfg)
    whole = train(cfg, conditions(cfg, typed=True), draws)
    split = {**OmegaConf.to_container(cfg.train), "max_stack": 5, "parallel_stacks": 2}
    chunked = train(from_mapping({**OmegaConf.to_container(cfg), "train": split}), conditions(cfg, typed=True), draws)
    for table in ("runs", "histories", "surfaces"):
        pd.testing.assert_frame_equal(whole[table], chunked[table], check_exact=True)
    np.testing.assert_array_equal(whole["correct"], chunked["correct"])


def test_stacks_trained_in_parallel_and_models_trained_one_by_one_trigger_no_retracing_warning(caplog):
    """Each compiled function is traced once per shape it meets; TensorFlow's warning would say otherwise
    (it counts traces per Python code object, across every stack, split and member that shares the code)."""
    train_tiny(tiny(n_seeds=4, train={"epochs": 40, "history_every": 5, "max_stack": 2, "parallel_stacks": 2}))
    train_tiny(tiny(n_seeds=4, train={"epochs": 40, "history_every": 5, "ensemble": False}))
    retraced = [record.getMessage() for record in caplog.records if "retracing" in record.getMessage()]
    assert not retraced, retraced


def test_a_diverged_run_is_recorded_as_diverged_and_left_out_of_the_statistics():
    from weightreg.aggregate import summary_table

    cfg = tiny(regularizer={"kind": "l2", "strength": 1e38}, baseline=False)  # the penalty overflows float32
    runs = train(cfg, conditions(cfg, typed=True), make_draws(cfg))["runs"]
    assert runs.diverged.all()
    assert runs[["train/loss", "test/loss", "test/accuracy"]].isna().all().all()
    summary = summary_table(runs)
    assert (summary.n == 0).all() and (summary.n_diverged == 3).all()
