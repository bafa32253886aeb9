"""IMDB data on archives the tests write themselves, the text models' penalties, and bad input."""

import tarfile

import numpy as np
import pytest

from conftest import write_archive
from weightreg.validation import from_mapping
from weightreg.errors import ConfigError, DataError
from weightreg.imdb import (OOV, START, build_vocabulary, capped, encode, fetch_archive, index_words, make_imdb, multi_hot,
                            pad, tokenize, tokenized_reviews)

REVIEWS = {
    "train/pos/0_9.txt": "A great film. Great acting!",
    "train/pos/1_8.txt": "great great fun<br /><br />It's fun",
    "train/neg/0_2.txt": "A dull film, dull dull.",
    "train/neg/1_1.txt": "Not fun at all",
    "test/pos/0_10.txt": "Great fun, brilliant",  # `brilliant` appears in the test split only
    "test/neg/0_3.txt": "dull and boring",
}


def imdb_data(archive, **values):
    return from_mapping({"train": {"mode": "minibatch"}, "data": {"name": "imdb", "archive": str(archive), "vocab_size": 8, "num_words": 6, "maxlen": 5,
                                  "val_size": 2, **values},
                         "model": {"name": "mlp", "hidden_units": [4]}}).data


def test_tokenize_lowercases_drops_tags_and_keeps_inner_apostrophes():
    assert tokenize("Great movie!<br /><br />It's 10/10, 'isn't' it?") == ["great", "movie", "it's", "10", "10", "isn't", "it"]


def test_vocabulary_ranks_training_words_by_count_then_alphabetically():
    tokenized = [tokenize(REVIEWS[name]) for name in REVIEWS if name.startswith("train")]
    # counts: great 4, dull 3, fun 3, a 2, film 2, acting 1, all 1, at 1, it's 1, not 1
    assert build_vocabulary(tokenized) == ["great", "dull", "fun", "a", "film", "acting", "all", "at", "it's", "not"]


def test_word_indices_follow_keras_convention_and_cut_at_vocab_size():
    vocabulary = ["great", "dull", "fun", "a", "film"]
    (sequence,) = index_words([["great", "fun", "film", "brilliant"]], vocabulary, vocab_size=7)
    # 1 = start; great 3, fun 5; film is rank 4 -> index 7 >= vocab_size -> OOV; brilliant unseen -> OOV
    assert sequence.tolist() == [START, 3, 5, OOV, OOV]


def test_multi_hot_is_binary_and_marks_oov_for_words_beyond_num_words():
    matrix = multi_hot([np.array([1, 3, 3, 9])], num_words=5)
    assert matrix.tolist() == [[0, 1, 1, 1, 0]]  # start (1), word 3 once, index 9 >= 5 counts as OOV (2)


@pytest.mark.parametrize("maxlen", [1, 4, 30])
def test_padding_is_keras_pad_sequences_with_its_defaults(maxlen):
    import keras

    rng = np.random.default_rng(maxlen)
    sequences = [rng.integers(0, 10_000, size=n) for n in (0, 1, 3, 4, 5, 29, 30, 31, 200)]
    ours, theirs = pad(sequences, maxlen), keras.utils.pad_sequences(sequences, maxlen=maxlen, dtype="int32")
    assert ours.dtype == np.int32 and ours.shape == (len(sequences), maxlen)
    np.testing.assert_array_equal(ours, theirs)


def test_archive_and_folder_give_identical_arrays_and_no_test_word_enters_the_vocabulary(tmp_path):
    archive = write_archive(tmp_path / "tiny.tar.gz", REVIEWS)
    folder = tmp_path / "extracted"
    with tarfile.open(archive) as handle:
        handle.extractall(folder, filter="data")
    from_archive, from_folder = make_imdb(imdb_data(archive)), make_imdb(imdb_data(folder))
    for name in from_archive:
        np.testing.assert_array_equal(from_archive[name], from_folder[name])
    assert "brilliant" not in from_archive["vocabulary"]
    assert from_archive["vocabulary"].tolist() == ["great", "dull", "fun", "a", "film"]
    assert from_archive["sequences_train"].shape == (2, 5) and from_archive["multi_hot_test"].shape == (2, 6)
    # the validation split is carved from the training reviews, one of each class here, and never overlaps training
    assert sorted(from_archive["y_train"].tolist()) == [0, 1] and sorted(from_archive["y_val"].tolist()) == [0, 1]
    rows = {tuple(r) for r in from_archive["sequences_train"]} | {tuple(r) for r in from_archive["sequences_val"]}
    assert len(rows) == 4


def test_redrawn_splits_share_the_test_reviews_and_the_fixed_draw_is_the_fixed_split():
    """data+model on IMDB: one pool of training reviews; each data seed's split is class-balanced, disjoint, and drawn
    as the fixed split is drawn, so the draw of data.random_state is the fixed split, row for row."""
    rng = np.random.default_rng(0)
    sequences = [rng.integers(3, 30, size=rng.integers(2, 9)) for _ in range(40)]
    labels, test = np.arange(40) % 2, [rng.integers(3, 30, size=4) for _ in range(10)]
    data = imdb_data("unused", vocab_size=30, num_words=30, val_size=10, max_train=20)
    arrays = encode(sequences, labels, test, np.arange(10) % 2, [], data, redraws=[5, 6])
    assert arrays["draw_seed"].tolist() == [data.random_state, 5, 6]
    fixed = arrays["draw_seed"].tolist().index(data.random_state)
    for split in ("train", "val"):
        assert np.array_equal(arrays["multi_hot_pool"][arrays[f"{split}_rows"][fixed]], arrays[f"multi_hot_{split}"])
        assert np.array_equal(arrays["y_pool"][arrays[f"{split}_rows"][fixed]], arrays[f"y_{split}"])
    for train, val in zip(arrays["train_rows"], arrays["val_rows"]):
        assert len(train) == 20 and len(val) == 10 and not set(train) & set(val) and labels[val].sum() == 5
    assert len({tuple(sorted(v)) for v in arrays["val_rows"]}) == 3
    plain = encode(sequences, labels, test, np.arange(10) % 2, [], data)
    assert set(arrays) - set(plain) == {"multi_hot_pool", "sequences_pool", "y_pool", "draw_seed", "train_rows", "val_rows"}
    assert all(np.array_equal(arrays[name], plain[name]) for name in plain if name != "vocabulary")


def test_keras_and_aclimdb_sources_produce_the_same_structure(tmp_path):
    """keras.datasets.imdb.load_data's form (lists of indices from 3 after a start 1) goes through the same encoder."""
    ours = make_imdb(imdb_data(write_archive(tmp_path / "tiny.tar.gz", REVIEWS)))
    keras_form = ([[1, 3, 5, 2], [1, 4, 4], [1, 6], [1, 3, 7, 2]], np.array([1, 0, 1, 0]), [[1, 3], [1, 4, 2]], np.array([1, 0]))
    theirs = encode(*keras_form, [], imdb_data("unused"))
    assert set(ours) == set(theirs)
    for name in ours:
        if name != "vocabulary":
            assert ours[name].dtype == theirs[name].dtype and ours[name].shape[1:] == theirs[name].shape[1:], name


@pytest.mark.parametrize("fault, expected", [
    ("missing", "not found"),
    ("truncated", "not a readable .tar.gz"),
    ("empty class", "no reviews in aclImdb/train/neg/"),
    ("wrong layout", "no reviews in aclImdb/train/neg/"),
    ("not utf-8", "is not UTF-8 text"),
])
def test_every_archive_fault_is_one_clear_error_naming_the_path(tmp_path, fault, expected):
    path = tmp_path / "reviews.tar.gz"
    if fault == "truncated":
        write_archive(path, REVIEWS, truncate=True)
    elif fault == "empty class":
        write_archive(path, {k: v for k, v in REVIEWS.items() if not k.startswith("train/neg")})
    elif fault == "wrong layout":
        write_archive(path, {k.replace("train/", "training/"): v for k, v in REVIEWS.items()})
    elif fault == "not utf-8":
        write_archive(path, {**REVIEWS, "train/pos/2_7.txt": b"caf\xe9 \xff"})
    with pytest.raises(DataError, match=expected) as error:
        make_imdb(imdb_data(path))
    assert str(path) in str(error.value)


def test_the_environment_variable_selects_the_archive(tmp_path, monkeypatch):
    archive = write_archive(tmp_path / "tiny.tar.gz", REVIEWS)
    monkeypatch.setenv("WEIGHTREG_IMDB_ARCHIVE", str(archive))
    data = make_imdb(from_mapping({"train": {"mode": "minibatch"}, "data": {"name": "imdb", "vocab_size": 8, "num_words": 6, "maxlen": 5}}).data)
    assert data["vocabulary"].tolist() == ["great", "dull", "fun", "a", "film"]


@pytest.mark.parametrize("values, key", [
    ({"train": {"mode": "minibatch"}, "data": {"name": "imdb", "num_words": 20000}}, "data.num_words"),
    ({"train": {"mode": "minibatch"}, "data": {"name": "imdb", "source": "web"}}, "data.source"),
    ({"train": {"mode": "minibatch"}, "data": {"name": "imdb"}, "variations": ["model", "test"]}, "variations"),
    ({"train": {"mode": "minibatch"}, "data": {"name": "imdb"}, "model": {"name": "cnn"}, "regularizer": {"kind": "l2", "placement": ["recurrent"]}}, "recurrent"),
    ({"model": {"name": "lstm"}}, "model.name"),
    ({"regularizer": {"kind": "l2", "placement": ["kernel"], "extra": [{"kind": "l2", "placement": ["kernel"]}]}}, "regularizer.extra"),
])
def test_bad_text_settings_are_rejected_at_composition(values, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        from_mapping(values)


# --- models: each placement adds exactly the expected penalty -----------------------------------------

PLACEMENTS = [["kernel"], ["bias"], ["activity"], ["output"], ["kernel", "recurrent"], ["recurrent"], ["kernel", "recurrent", "bias"]]


@pytest.mark.parametrize("architecture, placement", [
    (architecture, placement) for architecture in ("mlp", "cnn", "lstm") for placement in PLACEMENTS
    if architecture == "lstm" or "recurrent" not in placement  # recurrent exists on the LSTM only (rejected elsewhere)
])
def test_text_models_add_exactly_the_expected_penalties(architecture, placement):
    import keras

    from weightreg.models import build_text_model

    cfg = from_mapping({"train": {"mode": "minibatch"}, "data": {"name": "imdb", "vocab_size": 50, "num_words": 20, "maxlen": 7},
                        "model": {"name": architecture, "hidden_units": [5] if architecture == "mlp" else [],
                                  "embedding_dim": 4, "filters": 3, "kernel_size": 2, "recurrent_units": 3},
                        "regularizer": {"kind": "l2", "strength": 0.5, "placement": placement}})
    model = build_text_model(cfg.model, cfg.regularizer, seed=1, data=cfg.data)
    x = np.random.default_rng(0).integers(0, 2 if architecture == "mlp" else 50, size=(4, 20 if architecture == "mlp" else 7))
    outputs = {layer.name: layer.output for layer in model.layers}
    probe = keras.Model(model.inputs[0], [outputs[name] for name in outputs])
    values = dict(zip(outputs, probe(x)))
    hidden = {"mlp": "hidden_0", "cnn": "conv", "lstm": "lstm"}[architecture]
    weights = {"/".join(dict.fromkeys([w.path.split("/")[1], w.name])): keras.ops.convert_to_numpy(w) for w in model.weights}
    expected = 0.0
    for where in placement:
        if where == "kernel":
            expected += 0.5 * np.sum(weights[f"{hidden}/kernel"] ** 2)
        elif where == "bias":
            expected += 0.5 * np.sum(weights[f"{hidden}/bias"] ** 2)
        elif where == "recurrent":
            expected += 0.5 * np.sum(weights[f"{hidden}/recurrent_kernel"] ** 2)
        elif where == "output":
            expected += 0.5 * np.sum(weights["output/kernel"] ** 2)
        elif where == "activity":
            activity = keras.ops.convert_to_numpy(values[hidden])
            expected += 0.5 * np.sum(activity**2) / activity.shape[0]  # Keras divides by the batch size
    model(x)
    assert len(model.losses) == len(placement)
    np.testing.assert_allclose(float(sum(keras.ops.convert_to_numpy(v) for v in model.losses)), expected, rtol=1e-5)


# --- the archive, read once: tokenized, capped, fetched (each IMDB study end to end: test_pipeline.py's build) --


def test_reviews_tokenized_once_and_capped_equal_indexing_at_each_vocab_size(tmp_path):
    """The pipeline tokenizes once with every word indexed; capping gives what index_words gives at any vocab_size."""
    reviews = tokenized_reviews(write_archive(tmp_path / "tiny.tar.gz", REVIEWS))
    tokens = [tokenize(REVIEWS[name]) for name in sorted(n for n in REVIEWS if n.startswith("train/neg"))] + \
             [tokenize(REVIEWS[name]) for name in sorted(n for n in REVIEWS if n.startswith("train/pos"))]
    vocabulary = reviews["vocabulary"].tolist()
    assert vocabulary == build_vocabulary(tokens)
    for vocab_size in (3, 5, 8, 100):
        expected = index_words(tokens, vocabulary, vocab_size)
        got = capped(reviews["words_train"], reviews["lengths_train"], vocab_size)
        assert [s.tolist() for s in got] == [s.tolist() for s in expected]


def test_fetch_copies_a_checked_archive_and_refuses_a_broken_one(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    good = write_archive(tmp_path / "good.tar.gz", REVIEWS)
    out = tmp_path / "data" / "aclImdb_v1.tar.gz"
    fetch_archive(OmegaConf.create({"path": str(good), "url": "unused"}), out)
    assert out.read_bytes() == good.read_bytes()
    monkeypatch.setenv("WEIGHTREG_IMDB_ARCHIVE", str(good))  # no path: the environment variable's archive
    fetch_archive(OmegaConf.create({"path": None, "url": "unused"}), tmp_path / "from_env.tar.gz")
    assert (tmp_path / "from_env.tar.gz").read_bytes() == good.read_bytes()

    broken = write_archive(tmp_path / "broken.tar.gz", {k: v for k, v in REVIEWS.items() if not k.startswith("test/neg")})
    with pytest.raises(DataError, match="no reviews in aclImdb/test/neg/"):
        fetch_archive(OmegaConf.create({"path": str(broken), "url": "unused"}), tmp_path / "refused.tar.gz")
    assert not list(tmp_path.glob("*refused*"))  # nothing half-written
    with pytest.raises(DataError, match="missing.tar.gz: IMDB archive not found"):
        fetch_archive(OmegaConf.create({"path": str(tmp_path / "missing.tar.gz"), "url": "unused"}), tmp_path / "x.tar.gz")
