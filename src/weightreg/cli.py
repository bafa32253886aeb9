"""`weightreg`, the command line: one subcommand per stage or tool, each the module's own `python -m` entry.

    weightreg --help
    weightreg aggregate sweeps/moons_case_study
"""

from __future__ import annotations

import runpy
import sys

# subcommand -> (module, what it does, an example)
COMMANDS = {
    "train": ("weightreg.train", "train one study, built-in or of your own model, from Hydra's command line (or "
              "`train stage <study>`, the DVC stage)", "PYTHONPATH=. weightreg train --config-dir my_conf experiment=noisy_digits"),
    "answer": ("weightreg.answer", "search a study's declared penalties on validation data, then confirm the choice against "
               "no penalty on fresh seeds: one paragraph and a report",
               "PYTHONPATH=. weightreg answer --config-dir my_conf experiment=noisy_digits"),
    "aggregate": ("weightreg.aggregate", "paired comparisons and verdicts over every runs.csv below a folder",
                  "weightreg aggregate sweeps/moons_case_study"),
    "report": ("weightreg.folder_report", "the report (markdown and self-contained HTML) of any folder of runs, or the pipeline's "
               "(--results results --out reports)", "weightreg report sweeps/noisy_digits/basic/2026-12-04_10-00-00"),
    "verify": ("weightreg.verify", "check outputs against dvc.lock and retrain a sample of runs",
               "weightreg verify --sample 2"),
    "compose": ("weightreg.compose", "compose conf/pipeline.yaml into params.yaml (what `dvc repro` reads)",
                "weightreg compose --check"),
    "calibrate": ("weightreg.calibration", "false-claim rates of the verdict rule on simulated nulls of our designs",
                  "weightreg calibrate --quick"),
    "data": ("weightreg.data", "the data stage: one study's moons draws or IMDB arrays",
             "weightreg data moons_case_study --out data/moons_case_study.npz"),
    "imdb": ("weightreg.imdb", "the IMDB archive and tokenization stages",
             "weightreg imdb reviews --archive data/aclImdb_v1.tar.gz --out data/imdb_reviews.npz"),
    "environment": ("weightreg.environment", "the installed distributions (a DVC stage)",
                    "weightreg environment --out reports/environment.txt"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: weightreg <command> [arguments]   (`weightreg <command> --help` for its own options)", "",
             "Does weight regularization help this Keras model, by how much, and at which strength?", "", "commands:"]
    for name, (module, text, example) in COMMANDS.items():
        lines += [f"  {name:<{width}}  {text}", f"  {'':<{width}}  e.g. {example}   (= python -m {module})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    if argv[0] not in COMMANDS:
        print(f"weightreg: unknown command {argv[0]!r}; expected one of {', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    module = COMMANDS[argv[0]][0]
    sys.argv = [f"weightreg {argv[0]}", *argv[1:]]  # what the module's own `python -m` entry reads
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
