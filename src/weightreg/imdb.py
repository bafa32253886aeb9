"""IMDB movie reviews (Maas et al., ACL 2011): read, tokenize, index by a training-split vocabulary, encode.

    python -m weightreg.imdb archive --out data/aclImdb_v1.tar.gz        # the imdb_archive stage
    python -m weightreg.imdb reviews --archive data/aclImdb_v1.tar.gz --out data/imdb_reviews.npz   # imdb_reviews

Sources (`data.source`; read and checked in weightreg.imdb_source):
- `aclimdb`: the Stanford release's layout `aclImdb/{train,test}/{pos,neg}/*.txt`, from a `.tar.gz` or an
  extracted folder. Which one: `data.archive`, else the environment variable WEIGHTREG_IMDB_ARCHIVE, else
  the official URL `data.url`, downloaded once into `data/downloads/` and checked (size, layout).
- `keras`: `keras.datasets.imdb.load_data` (needs the internet once), for parity with Albon's "Neural Network Weight Regularization".

Both give the same in-memory form: word-index sequences in Keras's convention (0 padding, 1 start,
2 out-of-vocabulary, words from 3 by falling frequency) and 0/1 labels (1 = positive).

Tokenization: lower case; `<br />` tags become spaces; a word is a run of letters, digits and
apostrophes with apostrophes at either end removed. The vocabulary ranks words by their count over the
training split only (ties alphabetically), so nothing about the test reviews leaks into the features.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from omegaconf import DictConfig

from weightreg.artifacts import atomic_path, save_arrays
from weightreg.errors import DataError
from weightreg.imdb_source import (ARCHIVE_VARIABLE, SPLITS, aclimdb_path, archive_files, archive_location, collect, download,
                                   read_keras, read_reviews)

PAD, START, OOV, FIRST_WORD = 0, 1, 2, 3
WORD = re.compile(r"[a-z0-9']+")
TAG = re.compile(r"<[^>]+>")


def tokenize(text: str) -> list[str]:
    words = WORD.findall(TAG.sub(" ", text.lower()))
    return [w for w in (word.strip("'") for word in words) if w]


def build_vocabulary(tokenized: Iterable[list[str]]) -> list[str]:
    """Every word of the training texts, most frequent first, ties alphabetically."""
    counts = collections.Counter(word for words in tokenized for word in words)
    return sorted(counts, key=lambda word: (-counts[word], word))


def index_words(tokenized: Iterable[list[str]], vocabulary: list[str], vocab_size: int) -> list[np.ndarray]:
    """Word-index sequences; words ranked at or beyond `vocab_size` (or unseen) become OOV."""
    index = {word: i + FIRST_WORD for i, word in enumerate(vocabulary) if i + FIRST_WORD < vocab_size}
    return [np.asarray([START] + [index.get(w, OOV) for w in words], dtype=np.int32) for words in tokenized]


def multi_hot(sequences: list[np.ndarray], num_words: int) -> np.ndarray:
    """Binary bag of words, (N, num_words): as Keras's Tokenizer.sequences_to_matrix(mode='binary')."""
    matrix = np.zeros((len(sequences), num_words), dtype=np.uint8)
    for row, sequence in enumerate(sequences):
        matrix[row, sequence[sequence < num_words]] = 1
        if (sequence >= num_words).any():  # load_data(num_words=...) maps those words to OOV
            matrix[row, OOV] = 1
    return matrix


def pad(sequences: list[np.ndarray], maxlen: int) -> np.ndarray:
    """Each review's last `maxlen` words, right-aligned in a row of zeros: keras.utils.pad_sequences's defaults (pad and
    truncate at the start), without importing Keras into the data stage."""
    padded = np.zeros((len(sequences), maxlen), dtype=np.int32)
    for row, sequence in zip(padded, sequences):
        kept = np.asarray(sequence[max(len(sequence) - maxlen, 0) :], dtype=np.int32)
        row[maxlen - len(kept) :] = kept
    return padded


# --- the data stage's product -----------------------------------------------------------------------


def subset(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Indices of a class-balanced random subset (all rows, shuffled, when size is None)."""
    rng = np.random.default_rng(seed)
    if size is None or size >= len(labels):
        return rng.permutation(len(labels))
    per_class = [rng.permutation(np.flatnonzero(labels == c))[: size // 2 + (c < size % 2)] for c in (0, 1)]
    return rng.permutation(np.concatenate(per_class))


def tokenized_reviews(path: Path) -> dict[str, np.ndarray]:
    """Every review as word indices over the training split's whole vocabulary (the imdb_reviews stage's
    product): words_<split> (all reviews' indices, concatenated), lengths_<split>, y_<split>, vocabulary.
    Any vocab_size is then a cap (`capped`): the tokenization runs once for every study."""
    reviews = read_reviews(path)
    tokens = {split: [tokenize(t) for t in reviews[split].texts] for split in SPLITS}
    words = build_vocabulary(tokens["train"])
    arrays = {"vocabulary": np.asarray(words, dtype=str)}
    for split in SPLITS:
        sequences = index_words(tokens[split], words, len(words) + FIRST_WORD)
        arrays[f"words_{split}"] = np.concatenate(sequences).astype(np.int32)
        arrays[f"lengths_{split}"] = np.asarray([len(s) for s in sequences], dtype=np.int64)
        arrays[f"y_{split}"] = reviews[split].labels
    return arrays


REVIEW_ARRAYS = ("vocabulary", "words_train", "lengths_train", "y_train", "words_test", "lengths_test", "y_test")


def capped(words: np.ndarray, lengths: np.ndarray, vocab_size: int) -> list[np.ndarray]:
    """Word-index sequences as index_words gives them for `vocab_size`: words ranked beyond it become OOV."""
    return np.split(np.where(words < vocab_size, words, OOV).astype(np.int32), np.cumsum(lengths)[:-1])


def encode_reviews(reviews: dict[str, np.ndarray], data: DictConfig, redraws: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """One study's arrays from the tokenized reviews, at its vocab_size, num_words, maxlen and subsets."""
    train, test = (capped(reviews[f"words_{s}"], reviews[f"lengths_{s}"], data.vocab_size) for s in SPLITS)
    vocabulary = reviews["vocabulary"][: data.vocab_size - FIRST_WORD].tolist()
    return encode(train, reviews["y_train"], test, reviews["y_test"], vocabulary, data, redraws)


def split_rows(y_train: np.ndarray, data: DictConfig, state: int) -> dict[str, np.ndarray]:
    """Rows of the training reviews: a class-balanced validation split of `data.val_size` reviews carved
    first (every choice is made on it), then the training subset (`data.max_train`) from the rest."""
    val_rows = subset(y_train, data.val_size, state + 2)
    rest = np.setdiff1d(np.arange(len(y_train)), val_rows)
    return {"train": rest[subset(y_train[rest], data.max_train, state)], "val": val_rows}


def encoded(sequences, labels: np.ndarray, rows: np.ndarray, data: DictConfig, split: str) -> dict[str, np.ndarray]:
    chosen = [np.asarray(sequences[i], dtype=np.int32) for i in rows]
    return {f"multi_hot_{split}": multi_hot(chosen, data.num_words), f"sequences_{split}": pad(chosen, data.maxlen),
            f"y_{split}": labels[rows]}


def encode(seq_train, y_train, seq_test, y_test, vocabulary: list[str], data: DictConfig,
           redraws: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """The data stage's arrays from either source: multi-hot features, padded sequences, labels.

    The fixed split (variation `model`) is drawn with `data.random_state`; the test subset (`data.max_test`)
    from the test reviews. With `redraws` (the data seeds of variation data+model), every training review is
    encoded once as the `pool`, and each draw, the fixed one included, is its rows of the pool: draw_seed (D,),
    train_rows (D, n_train), val_rows (D, n_val). The test reviews are the same for every draw.
    """
    y_train, y_test = np.asarray(y_train, dtype=np.int64), np.asarray(y_test, dtype=np.int64)
    rows = split_rows(y_train, data, data.random_state) | {"test": subset(y_test, data.max_test, data.random_state + 1)}
    sources = {"train": (seq_train, y_train), "val": (seq_train, y_train), "test": (seq_test, y_test)}
    arrays = {"vocabulary": np.asarray(vocabulary, dtype=str)}
    for split, index in rows.items():
        arrays |= encoded(*sources[split], index, data, split)
    if redraws:
        arrays |= encoded(seq_train, y_train, np.arange(len(y_train)), data, "pool")
        seeds = sorted({int(data.random_state), *map(int, redraws)})
        draws = [split_rows(y_train, data, seed) for seed in seeds]
        arrays |= {"draw_seed": np.asarray(seeds, dtype=np.int64),
                   **{f"{split}_rows": np.stack([draw[split] for draw in draws]) for split in ("train", "val")}}
    return arrays


def make_imdb(data: DictConfig, redraws: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """The command line's IMDB data in one step (the DVC pipeline splits it: archive, reviews, encode)."""
    if data.source == "keras":
        return encode(*read_keras(data), [], data, redraws)
    return encode_reviews(tokenized_reviews(aclimdb_path(data)), data, redraws)


def fetch_archive(source: DictConfig, out: Path) -> None:
    """The imdb_archive stage: the archive (`source.path`, else $WEIGHTREG_IMDB_ARCHIVE) copied into the
    pipeline, else the official `source.url` downloaded; checked for the release's layout before it lands."""
    location = archive_location(source.path)
    if location is None:
        download(source.url, out)
        return
    path = Path(location)
    if not path.is_file():
        raise DataError(f"{path}: IMDB archive not found or not a file (from imdb_archive.path or ${ARCHIVE_VARIABLE}); "
                        "expected aclImdb_v1.tar.gz (the pipeline tracks the archive file's checksum)")
    with atomic_path(out) as tmp:
        shutil.copyfile(path, tmp)
        collect(tmp, "test", archive_files(tmp))


def main(argv: list[str] | None = None) -> None:
    """The two IMDB stages: `archive` (fetch the archive named in params.yaml:imdb_archive) and `reviews`
    (tokenize every review once)."""
    from weightreg.params import load_params
    from weightreg.errors import ConfigError, run_stage

    parser = argparse.ArgumentParser(prog="python -m weightreg.imdb", description=__doc__.split("\n\n")[0])
    stages = parser.add_subparsers(dest="stage", required=True)
    archive = stages.add_parser("archive", help="the imdb_archive stage")
    archive.add_argument("--out", required=True)
    archive.add_argument("--params", default="params.yaml")
    reviews = stages.add_parser("reviews", help="the imdb_reviews stage")
    reviews.add_argument("--archive", required=True)
    reviews.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    def fetch() -> str:
        source = load_params(args.params).get("imdb_archive")
        if source is None:
            raise ConfigError(f"{args.params}: no imdb_archive entry; expected {{path: ..., url: ...}} (conf/pipeline.yaml)")
        fetch_archive(source, Path(args.out))
        return f"imdb_archive: wrote {args.out}"

    def tokenize_all() -> str:
        arrays = tokenized_reviews(Path(args.archive))
        save_arrays(arrays, args.out)
        return (f"imdb_reviews: wrote {args.out} ({len(arrays['y_train'])} + {len(arrays['y_test'])} reviews, "
                f"{len(arrays['vocabulary'])} words)")

    run_stage(fetch if args.stage == "archive" else tokenize_all)


if __name__ == "__main__":
    main()
