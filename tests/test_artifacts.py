"""Atomic writes of a study's results folder: it appears complete or not at all, and keeps what DVC keeps there."""

import pytest

from weightreg.artifacts import atomic_dir


def test_a_replaced_folder_keeps_the_gitignore_dvc_wrote_and_drops_the_rest(tmp_path):
    folder = tmp_path / "results" / "study"
    folder.mkdir(parents=True)
    (folder / ".gitignore").write_text("/curves.csv\n")
    (folder / "runs.csv").write_text("old\n")
    with atomic_dir(folder) as tmp:
        (tmp / "runs.csv").write_text("new\n")
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "runs.csv"]
    assert (folder / ".gitignore").read_text() == "/curves.csv\n" and (folder / "runs.csv").read_text() == "new\n"


def test_a_failed_block_leaves_the_folder_as_it_was(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "runs.csv").write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_dir(folder) as tmp:
            (tmp / "runs.csv").write_text("half\n")
            raise RuntimeError("stopped")
    assert [p.name for p in tmp_path.iterdir()] == ["study"] and (folder / "runs.csv").read_text() == "old\n"
