"""The report for any folder of runs (a command-line sweep, an own-model study, an answer): the pipeline report's
summary-first page (answer table and forest plot, then a section per study) with nothing of the built-in studies.

    weightreg report sweeps/iris_study/basic/2026-12-04_10-00-00      # writes <folder>/report/report.html
    weightreg report answers/iris_study/confirm --out somewhere     # an answer's confirmation runs (its own report: weightreg answer)
    weightreg report --results results --out reports                  # the pipeline's report (weightreg.report)

Every folder below with a run.json and a runs.csv is a run of its study (run.json's `study`); the runs of one study
from several jobs of a multirun are joined, each run once (as `weightreg aggregate` joins them), and judged with the
margin their configs declare. The title is the study's name. What the report says of a study (its question, figures
and checks) is the `report:` block of the Hydra config recorded with its runs (.hydra/config.yaml), else the
schema's defaults.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from weightreg.artifacts import CORRECT_FILE, atomic_path, load_correct, save_correct
from weightreg.errors import DataError
from weightreg.render import Section, render_html, render_markdown

HISTORY_KEY = ["condition", "variation", "seed", "epoch", "metric"]
OVERVIEW = ("Each study's question and its verdicts against no penalty, paired by seed: the effect on the study's "
            "metric with the interval that decided it. Better/worse: Holm-adjusted p < 0.05 and a 95% interval excluding 0; "
            "equivalent: the Holm-adjusted TOST p < 0.05, its 90% interval inside the study's declared margin; "
            "inconclusive: neither. On a fixed test set the test counts seeds and test points as random together "
            "(crossed random effects); on redrawn data it is an exact sign-flip test over seeds.")


def study_folders(folder: Path, out: Path) -> dict[str, list[Path]]:
    """The folders below `folder` (itself included, the report's own `out` not) holding a run.json and a runs.csv,
    by study name."""
    groups: dict[str, list[Path]] = {}
    for record in sorted(folder.rglob("run.json")):
        if (record.parent / "runs.csv").is_file() and out.resolve() not in record.resolve().parents:
            groups.setdefault(json.loads(record.read_text())["study"], []).append(record.parent)
    return groups


def recorded_report(folders: list[Path]) -> dict | None:
    """The `report:` block of the Hydra config recorded nearest above a study's runs (Hydra writes .hydra/ into the
    job's folder, the run.json is in its result-<hash>/); None where no run has one."""
    from omegaconf import OmegaConf

    for folder in folders:
        for parent in (folder, *folder.resolve().parents):
            config = parent / ".hydra" / "config.yaml"
            if config.is_file():
                block = OmegaConf.load(config).get("report")
                return None if block is None else OmegaConf.to_container(block)
    return None


def prepared_study(name: str, folders: list[Path], into: Path) -> Path:
    """One study's runs as report.study_section reads a results folder: runs (each once), histories, summary and
    comparisons at the declared margin, test-point data where one job holds them all, and one run.json."""
    from weightreg.aggregate import comparison_table, declared_margin, mean_curves, summary_table

    paths = [f / "runs.csv" for f in folders]
    margin = declared_margin(paths)
    runs, correct = joined_runs(folders)
    histories = pd.concat([pd.read_csv(f / "histories.csv.gz") for f in folders], ignore_index=True).drop_duplicates(HISTORY_KEY)
    records = [json.loads((f / "run.json").read_text()) for f in folders]
    record = {**records[0], "wall_seconds": sum(r["wall_seconds"] for r in records), "config": {**records[0]["config"], "margin": margin}}
    target = into / name
    target.mkdir(parents=True, exist_ok=True)
    tables = {"runs.csv": runs, "summary.csv": summary_table(runs), "comparisons.csv": comparison_table(runs, margin, correct),
              "curves.csv": mean_curves(histories)}
    for filename, table in tables.items():
        table.to_csv(target / filename, index=False)
    histories.to_csv(target / "histories.csv.gz", index=False)
    if len(folders) == 1 and (folders[0] / "surfaces.csv.gz").is_file():
        shutil.copyfile(folders[0] / "surfaces.csv.gz", target / "surfaces.csv.gz")
    if correct is not None:
        save_correct(correct, target / CORRECT_FILE)
    (target / "run.json").write_text(json.dumps(record, default=str))
    return target


def joined_runs(folders: list[Path]) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The runs of one study's folders, each once, with their test-point rows where every folder has them (so that
    fixed-data comparisons of a multirun count test points too, as a single study's do)."""
    from weightreg.aggregate import one_copy_of_each_run, read_runs

    parts = [read_runs(f / "runs.csv") for f in folders]
    corrects = [load_correct(f / CORRECT_FILE) for f in folders]
    runs = pd.concat(parts, ignore_index=True)
    if len(folders) > 1:
        runs = one_copy_of_each_run(runs, str(folders[0].parent))
    usable = all(c is not None and len(c) == len(p) for c, p in zip(corrects, parts)) and len({c.shape[1] for c in corrects}) == 1
    correct = np.concatenate(corrects)[runs.index.to_numpy()] if usable else None
    return runs.reset_index(drop=True), correct


def folder_sections(folder: Path, out: Path) -> tuple[list[Section], list[str]]:
    """The answer, summary and study sections of every study below `folder`, and the studies' names."""
    from weightreg.report import answer_section, report_settings, study_section, summary_lines

    groups = study_folders(folder, out)
    if not groups:
        raise DataError(f"{folder}: no run.json with a runs.csv beside it below this folder; expected a folder of "
                        "runs (a study's results, a multirun of weightreg train, an answer's confirm/)")
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    studies, summary, comparisons = [], [], {}
    for name, folders in groups.items():
        prepared = prepared_study(name, folders, out / "studies")
        settings = report_settings(recorded_report(folders), f"{name}: ")
        section, _, table, _ = study_section(name, prepared, figures, out, settings)
        studies.append(section)
        comparisons[name] = (table, settings["question"])
        summary += summary_lines(name, table, settings["question"])
    return [answer_section(comparisons, figures, out), Section("Summary", [OVERVIEW, *summary]), *studies], list(groups)


def write_report(sections: list[Section], out: Path, title: str, lead: str) -> None:
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(render_markdown(sections, lead, title))
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(render_html(sections, out, lead, title))


def build_folder_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """report.md and report.html for the runs below `folder`, into `out` (default <folder>/report). An answer's own
    report (search trace and confirmation) is written by `weightreg answer`."""
    from weightreg.report import environment_section

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; expected a folder of runs (a study's results, a multirun of weightreg train, an answer's confirm/)")
    out = Path(out) if out is not None else folder / "report"
    sections, names = folder_sections(folder, out)
    records = [json.loads((out / "studies" / name / "run.json").read_text()) for name in names]
    write_report([*sections, environment_section(records)], out, ", ".join(names),
                 f"Every number below is computed from the runs in `{folder}`.")
    return out


def main(argv: list[str] | None = None) -> None:
    """`weightreg report`: a folder of runs, or (--results, --out) the pipeline's report."""
    import argparse

    from weightreg.errors import run_stage

    parser = argparse.ArgumentParser(prog="weightreg report", description=__doc__.split("\n\n")[0],
                                     epilog="e.g. weightreg report sweeps/iris_study/basic/<time> (writes <folder>/report/), "
                                            "or the pipeline's: weightreg report --results results --out reports")
    parser.add_argument("folder", nargs="?", help="any folder of runs (a sweep, a study of your own, an answer)")
    parser.add_argument("--results", help="the pipeline's results folder (every study, in params.yaml's order)")
    parser.add_argument("--out", help="where to write report.md, report.html and figures/ (default <folder>/report)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    if (args.folder is None) == (args.results is None) or (args.results is not None and args.out is None):
        parser.error("give a folder of runs, or --results and --out (the pipeline's report)")
    if args.results is not None:
        from weightreg.report import main as pipeline_report

        pipeline_report(["--results", args.results, "--out", args.out, "--params", args.params])
        return

    def stage() -> str:
        out = build_folder_report(args.folder, args.out)
        return f"report: wrote {out}/report.md, {out}/report.html and {out}/figures"

    run_stage(stage)


if __name__ == "__main__":
    main()
