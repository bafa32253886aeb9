"""Train built-in studies through the open path (weightreg.custom, each study's open form from weightreg.families)
and compare each result with the pipeline's own (results/<study>/runs.csv from `dvc repro`), byte for byte.

    python benchmarks/open_forms.py moons_case_study imdb_mlp      # after dvc repro (or dvc pull)

Not a test: it trains full-size studies (the seven moons studies take about 6 minutes on 2 cores).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from weightreg.config import load_params
from weightreg.validation import resolve_study
from weightreg.custom import run_study
from weightreg.custom_schema import from_mapping
from weightreg.families import open_form


def main(studies: list[str]) -> int:
    params = load_params("params.yaml")
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        for study in studies:
            start = time.perf_counter()
            out = Path(tmp) / study
            run_study(from_mapping(open_form(resolve_study(params, study))), out)
            same = (out / "runs.csv").read_bytes() == (Path("results") / study / "runs.csv").read_bytes()
            differ += not same
            print(f"{study}: open path {'equals' if same else 'DIFFERS FROM'} results/{study}/runs.csv "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
