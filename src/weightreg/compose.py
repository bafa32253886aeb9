"""Compose conf/ into params.yaml exactly as `dvc exp run` does (DVC's own function), for `dvc repro`.

    python -m weightreg.compose            # conf/pipeline.yaml -> params.yaml (both in the current folder)
    python -m weightreg.compose --check    # exit 1 if params.yaml differs from what conf/ composes, naming what differs

DVC composes conf/ only on `dvc exp run`, never on `dvc repro` (treeverse/dvc #10750), so the
committed params.yaml is kept equal to the composition by this command and a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

from weightreg.artifacts import atomic_path

ROOT = Path(__file__).resolve().parents[2]


def composed_params(overrides: list[str] | None = None, root: Path = ROOT, config_name: str = "pipeline") -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose_and_dump(out, str(root / "conf"), None, config_name, str(root), overrides or [])
        return out.read_text()


def stale_parts(written: str, composed: str) -> list[str]:
    """The studies (`studies.<name>`) and other top-level keys whose settings differ."""
    import yaml

    old, new = yaml.safe_load(written) or {}, yaml.safe_load(composed) or {}
    parts = []
    for key in dict.fromkeys([*new, *old]):
        if key == "studies" and isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            parts += [f"{key}.{name}" for name in dict.fromkeys([*new[key], *old[key]]) if old[key].get(name) != new[key].get(name)]
        elif old.get(key) != new.get(key):
            parts.append(key)
    return parts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weightreg.compose", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="params.yaml")
    parser.add_argument("--root", default=".", help="the project folder whose conf/ is composed (default: the current one)")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = composed_params(root=Path(args.root).resolve())
    out = Path(args.out)
    if args.check:
        if not out.is_file():
            sys.exit(f"{out}: not found; run `make params`")
        if out.read_text() != text:
            parts = stale_parts(out.read_text(), text) or ["its formatting"]
            sys.exit(f"{out} differs from what conf/ composes ({', '.join(parts)}); run `make params`")
        return
    with atomic_path(out) as tmp:
        tmp.write_text(text)


if __name__ == "__main__":
    main()
