"""Where the IMDB reviews come from (`data.source`): the Stanford release (Maas et al., ACL 2011) as a `.tar.gz` or an
extracted folder, named by `data.archive` or $WEIGHTREG_IMDB_ARCHIVE, else downloaded once from `data.url` and checked;
or `keras.datasets.imdb.load_data`. Each read is checked for the release's layout (weightreg.imdb encodes them)."""

from __future__ import annotations

import os
import re
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from omegaconf import DictConfig

from weightreg.artifacts import atomic_path
from weightreg.errors import DataError

ARCHIVE_VARIABLE = "WEIGHTREG_IMDB_ARCHIVE"
SPLITS = ("train", "test")
CLASSES = {"neg": 0, "pos": 1}
DOWNLOAD_MIN_BYTES = 80_000_000  # the official archive is 84,125,825 bytes


@dataclass(frozen=True)
class Reviews:
    """One split: raw texts and labels, in a fixed order (class, then file name)."""

    texts: list[str]
    labels: np.ndarray


def archive_location(given: str | None) -> str | None:
    """The path given (data.archive, imdb_archive.path), else $WEIGHTREG_IMDB_ARCHIVE, with `~` expanded to the
    home folder; None: download."""
    location = given or os.environ.get(ARCHIVE_VARIABLE) or None
    return os.path.expanduser(location) if location else None


def aclimdb_path(data: DictConfig) -> Path:
    """The archive or folder to read: data.archive, else $WEIGHTREG_IMDB_ARCHIVE, else the official URL's download."""
    location = archive_location(data.archive)
    return Path(location) if location else download(data.url, Path("data/downloads") / Path(data.url).name)


def read_reviews(path: Path) -> dict[str, Reviews]:
    """Both splits from an archive or an extracted folder."""
    if not path.exists():
        raise DataError(f"{path}: IMDB archive or folder not found (from data.archive or ${ARCHIVE_VARIABLE}); "
                        "expected aclImdb_v1.tar.gz or a folder holding aclImdb/{train,test}/{pos,neg}/*.txt")
    files = list(folder_files(path) if path.is_dir() else archive_files(path))
    return {split: collect(path, split, files) for split in SPLITS}


def folder_files(path: Path) -> Iterator[tuple[str, bytes]]:
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    for split in SPLITS:
        for name in CLASSES:
            for file in sorted((root / split / name).glob("*.txt")):
                yield f"aclImdb/{split}/{name}/{file.name}", file.read_bytes()


def archive_files(path: Path) -> Iterator[tuple[str, bytes]]:
    pattern = re.compile(r"(?:\./)?aclImdb/(train|test)/(pos|neg)/[^/]+\.txt$")
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile() and pattern.match(member.name):
                    yield member.name.removeprefix("./"), archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{path}: not a readable .tar.gz archive ({error}); expected the aclImdb release") from None


def collect(path: Path, split: str, files: Iterable[tuple[str, bytes]]) -> Reviews:
    """The reviews of one split, checked: both classes present and every file UTF-8 text."""
    files = list(files)
    texts, labels = [], []
    for name, label in CLASSES.items():
        chosen = sorted((n, b) for n, b in files if n.startswith(f"aclImdb/{split}/{name}/"))
        if not chosen:
            raise DataError(f"{path}: no reviews in aclImdb/{split}/{name}/; expected *.txt files for both classes of both splits")
        for file_name, content in chosen:
            try:
                texts.append(content.decode("utf-8"))
            except UnicodeDecodeError as error:
                raise DataError(f"{path}: {file_name} is not UTF-8 text ({error.reason} at byte {error.start})") from None
            labels.append(label)
    return Reviews(texts, np.asarray(labels, dtype=np.int64))


def download(url: str, destination: Path) -> Path:
    """Fetch the official archive once; keep it only if it is complete and has the release's layout."""
    if destination.is_file():
        return destination
    try:
        with atomic_path(destination) as tmp:
            urllib.request.urlretrieve(url, tmp)
            if tmp.stat().st_size < DOWNLOAD_MIN_BYTES:
                raise DataError(f"{url}: downloaded {tmp.stat().st_size} bytes; expected the ~84 MB aclImdb release")
            collect(tmp, "test", archive_files(tmp))
    except OSError as error:
        raise DataError(f"{url}: download failed ({error}); set data.archive or ${ARCHIVE_VARIABLE} to a local copy") from None
    return destination


def read_keras(data: DictConfig) -> tuple[list, np.ndarray, list, np.ndarray]:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=data.vocab_size)
    except Exception as error:  # the network or Keras's cache; say which source failed and the way out
        raise DataError(f"data.source=keras: keras.datasets.imdb.load_data failed ({error}); use data.source=aclimdb") from None
    return list(x_train), np.asarray(y_train), list(x_test), np.asarray(y_test)
