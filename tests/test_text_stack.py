"""IMDB's stacked trainer against one Keras model per seed, on small synthetic reviews (seconds).

- A member starts from exactly the weights of its own `build_text_model`, and its first gradient equals
  Keras's to float32 rounding.
- A member trained alone and the same member inside a stack of other conditions end equal within 1e-6
  relative (measured: up to 2e-8). The members never mix; what differs with K is the blocking of the
  operations that span the member axis (XLA's batched matmul over members, the embedding table's
  segment sums), i.e. the order of a few float32 sums, seen in the last bits of the weights.
- A stacked member and `keras.Sequential` + `model.fit` with the same initial weights and batch order end
  within float32 rounding (rtol 1e-5): the same operations per member, in the same order but for the
  LSTM, whose step sums its input and recurrent products in one matmul where Keras adds two. That includes
  a quirk of Keras's Adam on TensorFlow: an Embedding's gradient arrives as tf.IndexedSlices and its
  second moment sums the squares of each looked-up word's slices instead of squaring their sum; the
  stacked embedding keeps that gradient form, and without it the drift after 3 epochs was 1e-4.
"""

import numpy as np
import pytest

from weightreg.validation import from_mapping

pytestmark = pytest.mark.slow  # each compiles its stacks and Keras models: 5-30 s on 2 cores

ARCHITECTURES = ("mlp", "cnn", "lstm")
# (architecture, train.compiled): both ways of compiling a minibatch epoch, for the models with a table
TRAINERS = [("mlp", "epoch"), ("cnn", "epoch"), ("cnn", "step"), ("lstm", "epoch"), ("lstm", "step")]
N, T, V, WORDS = 320, 12, 60, 20


def reviews(seed: int = 0) -> dict[str, np.ndarray]:
    """Word-index sequences whose label is whether low-index words outnumber mid-index ones."""
    rng = np.random.default_rng(seed)
    data = {}
    for split, n in (("train", N), ("val", 96), ("test", 100)):
        sequences = rng.integers(1, V, size=(n, T)).astype(np.int32)
        multi_hot = np.zeros((n, WORDS), np.float32)
        np.put_along_axis(multi_hot, sequences % WORDS, 1.0, axis=1)
        data[f"sequences_{split}"], data[f"multi_hot_{split}"] = sequences, multi_hot
        data[f"y_{split}"] = ((sequences < 20).sum(1) > ((sequences >= 20) & (sequences < 40)).sum(1)).astype(np.int64)
    return data


def study(architecture: str, epochs: int = 3, n_seeds: int = 2, compiled: str = "epoch"):
    recurrent = ["recurrent"] if architecture == "lstm" else []
    return from_mapping({
        "study": f"tiny_{architecture}", "n_seeds": n_seeds,
        "train": {"mode": "minibatch", "epochs": epochs, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.01, "max_stack": 40,
                  "compiled": compiled},
        "data": {"name": "imdb", "vocab_size": V, "num_words": WORDS, "maxlen": T},
        "model": {"name": architecture, "hidden_units": [5] if architecture == "mlp" else [], "embedding_dim": 4, "filters": 3,
                  "kernel_size": 2, "recurrent_units": 3},
        "regularizer": {"kind": "l2", "strength": 0.01, "placement": ["kernel", "output"]},
        "sweep": {"regularizer": [{}, {"kind": "l1", "placement": ["kernel", "bias", "activity", *recurrent]},
                                  {"kind": "none", "weight_decay": 0.05}]},
    })


def members_of(cfg):
    from weightreg.conditions import conditions
    from weightreg.members import seed_everything, study_members

    seed_everything(cfg.seed, cfg.train.threads)
    return study_members(cfg, conditions(cfg, typed=True))


def member_part(stacked, k: int, members: int) -> np.ndarray:
    """Member k's slice of a stacked weight: (K, ...) or, for the embedding table, (K * vocab, dim)."""
    import keras

    value = keras.ops.convert_to_numpy(stacked)
    return value.reshape(members, -1, *value.shape[1:])[k] if value.shape[0] != members else value[k]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_member_starts_from_its_keras_models_weights_and_takes_its_first_gradient(architecture):
    import keras
    import tensorflow as tf

    from weightreg.models import build_text_model, logits_model
    from weightreg.trainers.stacked_models import build_stacked_text_model

    cfg = study(architecture)
    data = reviews()
    x = data["multi_hot_train" if architecture == "mlp" else "sequences_train"][:32]
    y = data["y_train"][:32].astype("float32")
    seeds = [4, 9]
    stack = build_stacked_text_model(cfg.model, cfg.data, seeds, {})
    stacked_x = np.broadcast_to(x, (2, *x.shape))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras.ops.mean(keras.ops.binary_crossentropy(np.broadcast_to(y, (2, 32)), stack(stacked_x)[..., 0],
                                                                           from_logits=True), axis=-1))
    stacked_gradients = tape.gradient(loss, stack.trainable_weights)
    for k, seed in enumerate(seeds):
        single = logits_model(build_text_model(cfg.model, cfg.regularizer, seed, cfg.data))
        for own, stacked in zip(single.trainable_weights, stack.trainable_weights, strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(own), member_part(stacked, k, len(seeds)))
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.binary_crossentropy(y, single(x)[:, 0], from_logits=True))
        for own, stacked in zip(tape.gradient(loss, single.trainable_weights), stacked_gradients):
            own, stacked = tf.convert_to_tensor(own).numpy(), member_part(tf.convert_to_tensor(stacked), k, len(seeds))
            assert np.abs(own - stacked).max() <= 1e-6 * np.abs(own).max() + 1e-12


@pytest.mark.parametrize(("architecture", "compiled"), TRAINERS)
def test_a_member_alone_and_inside_a_stack_of_other_conditions_end_equal(architecture, compiled):
    from weightreg.trainers.text_stack import train_text_stacked

    cfg = study(architecture, epochs=2, compiled=compiled)
    members = members_of(cfg)
    data = reviews()
    together = train_text_stacked(cfg, members, data)
    rtol = 1e-6
    for k in (1, len(members) - 1):  # an unpenalized member and one with decoupled weight decay
        alone = train_text_stacked(cfg, members[k : k + 1], data)
        np.testing.assert_allclose(alone.history[..., 0], together.history[..., k], rtol=rtol, atol=0)
        for key, values in alone.final.items():
            np.testing.assert_allclose(values[0], together.final[key][k], rtol=rtol, atol=0, err_msg=key)
        np.testing.assert_array_equal(alone.correct[0], together.correct[k])


def redrawn(data: dict[str, np.ndarray], seeds: list[int]) -> dict[str, np.ndarray]:
    """`data` with a pool of its training and validation reviews and, per data seed, its own split of them."""
    n_train, n_val = len(data["y_train"]), len(data["y_val"])
    pooled = {f"{name}_pool": np.concatenate([data[f"{name}_train"], data[f"{name}_val"]])
              for name in ("multi_hot", "sequences", "y")}
    orders = [np.random.default_rng(seed).permutation(n_train + n_val) for seed in seeds]
    return {**data, **pooled, "draw_seed": np.asarray(seeds), "train_rows": np.stack([o[:n_train] for o in orders]),
            "val_rows": np.stack([o[n_train:] for o in orders])}


def split_of(data: dict[str, np.ndarray], draw: int) -> dict[str, np.ndarray]:
    """One draw's split written out as a fixed split (no pool)."""
    fixed = {name: value for name, value in data.items() if not name.endswith(("_pool", "_rows")) and name != "draw_seed"}
    for split in ("train", "val"):
        for name in ("multi_hot", "sequences", "y"):
            fixed[f"{name}_{split}"] = data[f"{name}_pool"][data[f"{split}_rows"][draw]]
    return fixed


@pytest.mark.parametrize(("architecture", "compiled"), [("mlp", "epoch"), ("cnn", "step")])
def test_a_member_on_its_own_draw_of_the_pool_ends_as_on_that_split_written_out(architecture, compiled):
    """Variation data+model on IMDB: each member of one stack reads its own training and validation rows of the
    pool; it ends as it does trained alone on its split written out as a fixed split (to the stack tolerance)."""
    from omegaconf import OmegaConf

    from weightreg.trainers.text_stack import train_text_stacked

    cfg = study(architecture, epochs=2, compiled=compiled)
    OmegaConf.update(cfg, "variations", ["model", "data+model"])
    OmegaConf.update(cfg, "data.random_state", 7)  # a fixed split apart from the seeds' own draws
    members = members_of(cfg)
    seeds = sorted({m.data_seed for m in members})
    assert len(seeds) == 3  # the fixed split (data.random_state) and one draw per seed
    data = redrawn(reviews(), seeds)
    together = train_text_stacked(cfg, members, data)
    for k in (0, 3, len(members) - 1):  # model and data+model members, unpenalized and penalized
        alone = train_text_stacked(cfg, members[k : k + 1], split_of(data, seeds.index(members[k].data_seed)))
        np.testing.assert_allclose(alone.history[..., 0], together.history[..., k], rtol=1e-6, atol=0)
        for key, values in alone.final.items():
            np.testing.assert_allclose(values[0], together.final[key][k], rtol=1e-6, atol=0, err_msg=key)
        np.testing.assert_array_equal(alone.correct[0], together.correct[k])
    by_draw = {m.data_seed: together.final["val/loss"][i] for i, m in enumerate(members) if m.condition.name == "none"}
    assert len(set(by_draw.values())) == 3  # the draws differ: each member really read its own rows


@pytest.mark.parametrize(("architecture", "compiled"), TRAINERS)
def test_a_stacked_member_matches_keras_fit_with_the_same_weights_and_batch_order(architecture, compiled):
    from weightreg.trainers.text_stack import train_text_stacked
    from weightreg.members import HISTORY_COLUMNS
    from weightreg.trainers.fit import train_fit

    cfg = study(architecture, n_seeds=1, compiled=compiled)  # one member per condition: each trains as it would alone
    members = members_of(cfg)
    data = reviews()
    stacked = train_text_stacked(cfg, members, data)
    fitted = train_fit(cfg, members, data)
    rtol = 1e-5
    for i, name in enumerate(HISTORY_COLUMNS):
        if "loss" in name:  # Keras's reported loss: mean over the epoch's batches, penalties included
            np.testing.assert_allclose(stacked.history[:, i], fitted.history[:, i], rtol=rtol, err_msg=name)
    for key in ("train/loss", "val/loss", "test/loss", "weights/l2/all_kernels"):
        np.testing.assert_allclose(stacked.final[key], fitted.final[key], rtol=rtol, err_msg=key)
    np.testing.assert_array_equal(stacked.final["test/accuracy"], fitted.final["test/accuracy"])
    majority = max(data["y_val"].mean(), 1 - data["y_val"].mean())
    assert stacked.final["val/accuracy"].mean() > majority  # it learned something: the comparison is not of two coin flips


@pytest.mark.parametrize("compiled", ["epoch", "step"])
def test_a_stopped_stack_resumes_from_its_checkpoint_to_the_same_numbers(tmp_path, compiled):
    from weightreg.trainers.text_stack import STATE_FILE, train_text_stacked

    cfg = study("cnn", epochs=3, compiled=compiled)
    members = members_of(cfg)
    data = reviews()
    straight = train_text_stacked(cfg, members, data)
    first = study("cnn", epochs=1, compiled=compiled)  # as if killed after epoch 1: its state is on disk
    train_text_stacked(first, members, data, checkpoints=tmp_path)
    saved = list(tmp_path.glob(f"stack_*/{STATE_FILE}"))
    assert len(saved) == 1
    resumed = train_text_stacked(cfg, members, data, checkpoints=tmp_path)
    np.testing.assert_array_equal(resumed.history, straight.history)
    for key, values in straight.final.items():
        np.testing.assert_array_equal(resumed.final[key], values, err_msg=key)


def test_stacks_are_split_at_max_stack_trained_in_parallel_and_joined_in_member_order():
    from weightreg.trainers.text_stack import train_text_stacked

    cfg = study("mlp", epochs=1, n_seeds=3)
    members = members_of(cfg)
    data = reviews()
    whole = train_text_stacked(cfg, members, data)
    cfg.train.max_stack = 4  # 9 members: stacks of 3 (one size, one compiled function per worker)
    cfg.train.parallel_stacks = 2
    split = train_text_stacked(cfg, members, data)
    np.testing.assert_array_equal(split.history, whole.history)
    for key, values in whole.final.items():
        np.testing.assert_array_equal(split.final[key], values, err_msg=key)


@pytest.mark.parametrize("compiled", ["epoch", "step"])
def test_one_compiled_function_serves_every_stack_of_a_size(compiled):
    """Stacks of one size reuse one traced function (no retracing per chunk): the step traces once per batch
    shape, the epoch once, each split's scoring once."""
    from weightreg.members import penalty_specs
    from weightreg.trainers.text_model import Stack
    from weightreg.trainers.text_stack import text_arrays, train_stack

    cfg = study("cnn", epochs=2, compiled=compiled)
    members = members_of(cfg)
    x, y = text_arrays(cfg, reviews())
    stack = Stack(cfg, 1, penalty_specs(members), x, y)
    for member in members:  # six stacks of one member
        train_stack(stack, [member], y)
    batch_shapes = 1 + (N % cfg.train.batch_size > 0)  # full batches, and a last partial one if any
    traced, expected = (stack.step_fn, batch_shapes) if compiled == "step" else (stack.epoch_fn, 1)
    assert traced.experimental_get_tracing_count() == expected
    assert [f.experimental_get_tracing_count() for f in stack.score_fns.values()] == [1, 1, 1]
