"""The environment stage: a pip-freeze-style record of every installed distribution, kept as a DVC output.

    python -m weightreg.environment --out reports/environment.txt
"""

from __future__ import annotations

import argparse
from importlib import metadata

from weightreg.artifacts import atomic_path
from weightreg.errors import run_stage


def installed() -> list[str]:
    return sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]}, key=str.lower)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weightreg.environment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    def stage() -> str:
        lines = installed()
        with atomic_path(args.out) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        return f"environment: wrote {args.out} ({len(lines)} distributions)"

    run_stage(stage)


if __name__ == "__main__":
    main()
