"""Figures and the report a reader opens: reports/report.md and a self-contained reports/report.html.

    python -m weightreg.report --results results --out reports      # the pipeline's report stage
    weightreg report sweeps/iris_study/basic/<time>                 # any folder of runs (weightreg.folder_report)

The report opens with a one-screen summary (each study's question and its verdicts, in the order a
reader meets the studies), then one section per study with every comparison's numbers. What it says of a
study beyond the numbers comes from the study's `report:` block (question, figures, checks); every number
in the prose is computed from the studies' tables (weightreg.report_text); the tutorial's published
single-run numbers appear only as references beside ours.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from weightreg.aggregate import diverged, read_runs, summary_table
from weightreg.artifacts import atomic_path
from weightreg.errors import ConfigError
from weightreg.params import BASELINE, omegaconf_message
from weightreg.report_schema import Report
from weightreg.verdicts import primary_metric
from weightreg.figures import (MIN_CURVE_EPOCHS, VARIATION_TEXT, confusion_figure, forest_figure, label, layer_norm_figure,
                               layer_norms, learning_curves_figure, strength_figure, surface_figure)
from weightreg.headline import answer_table, headline_figure
from weightreg.render import Section, render_html, render_markdown
from weightreg.report_text import (FIXED_TEST_NOTE, SPLIT_TEXT, builtin_dataset, check_paragraph, counted,
                                   data_text, design_paragraph, findings_table, fmt, literature_table, model_text,
                                   published_table, selection_paragraph, shared_runs_paragraph, summary_lines)
from weightreg.stats import ALPHA, wilson_interval


def report_settings(block, where: str = "") -> dict:
    """A study's `report:` block (question, figures, checks) on the schema's defaults, checked; None: the defaults."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Report), block if block is not None else {})
    except OmegaConfBaseException as error:
        raise ConfigError(f"{where}report: {omegaconf_message(error)} (the block's keys: question, figures, checks)") from None
    settings = OmegaConf.to_container(merged, enum_to_str=True)
    for i, check in enumerate(settings["checks"]):
        bounds = (check["at_least"], check["at_most"])
        if (bounds[0] is None) == (bounds[1] is None):
            raise ConfigError(f"{where}report.checks[{i}]: at_least={bounds[0]}, at_most={bounds[1]}; expected exactly one of the two")
        if check["metric"].split("/")[0] not in SPLIT_TEXT or "/" not in check["metric"]:
            raise ConfigError(f"{where}report.checks[{i}].metric={check['metric']!r}: expected <split>/<metric> with split "
                              "train, val or test (e.g. val/accuracy)")
    return settings


def study_section(name: str, folder: Path, figures: Path, out: Path, settings: dict) -> tuple[Section, pd.DataFrame, pd.DataFrame, dict]:
    """One study's section from its results folder; `settings`: its report block (report_settings)."""
    runs = read_runs(folder / "runs.csv")
    record = json.loads((folder / "run.json").read_text())
    summary = pd.read_csv(folder / "summary.csv") if (folder / "summary.csv").is_file() else summary_table(runs)
    comparisons = pd.read_csv(folder / "comparisons.csv", keep_default_na=False, na_values=[""]) \
        if (folder / "comparisons.csv").is_file() else pd.DataFrame()
    cfg = record["config"]
    section = Section(name)
    section.paragraphs.append(f"Question: {settings['question']}")
    section.paragraphs.append(
        f"Run: {counted(runs.condition.nunique(), 'condition')} x {counted(runs.variation.nunique(), 'variation')} x "
        f"{counted(cfg['n_seeds'], 'seed')} "
        f"(seeds {cfg['seed']}..{cfg['seed'] + cfg['n_seeds'] - 1}), {cfg['train']['epochs']} epochs, "
        f"model {model_text(cfg['model'])}, data {data_text(cfg['data'], runs, cfg['model'])}; config hash `{record['config_hash']}`; "
        f"wall time {record['wall_seconds']:.1f} s ({record['wall_seconds'] / len(runs):.3f} s per run).")
    if cfg.get("refine"):
        section.paragraphs.append(selection_paragraph(cfg, summary))
    section.paragraphs += [check_paragraph(check, summary) for check in settings["checks"]]
    if "model" in set(runs.variation):
        section.paragraphs.append(f"Fixed-data rows: {FIXED_TEST_NOTE[builtin_dataset(cfg['data'])]}.")
    if "data+model" in set(runs.variation) and builtin_dataset(cfg["data"]) == "imdb":
        section.paragraphs.append(
            "Redrawn-data rows: each seed also redraws which training reviews train and which validate (the same "
            "sizes, class-balanced); the test reviews and the vocabulary are the same for every draw, so these rows too "
            "are judged over seeds x test points, and their verdicts cover training samples, not one split.")
    section.paragraphs.append(design_paragraph(cfg, comparisons))
    if diverged(runs).any():
        counts = runs[diverged(runs)].groupby("condition").size()
        section.paragraphs.append(
            f"{int(diverged(runs).sum())} of {len(runs)} runs diverged (a non-finite loss or weight): the comparisons score "
            "each as the worst outcome (accuracy 0; the worst loss of a finished run), so a divergence never helps its "
            "condition, and the per-condition summaries leave them out: " + ", ".join(f"`{c}` {n}" for c, n in counts.items()) + ".")
    metric = primary_metric(runs)
    n_test = int(runs["test/n"].iloc[0])
    low, high = wilson_interval(round(0.9 * n_test), n_test)
    if metric == "test/accuracy":
        section.paragraphs.append(
            f"Resolution: one test example is {100 / n_test:.2g} percentage points of accuracy; a single run scoring 0.90 on "
            f"{n_test} points has a 95% Wilson interval of {low:.3f} to {high:.3f}.")
    if len(comparisons):
        section.tables.append((
            f"Findings: each condition against no penalty on test metrics, paired by seed (on a test set shared by every seed, accuracy: also over test "
            f"points). Verdict: better/worse needs Holm-adjusted p < {ALPHA} and a 95% interval excluding 0; equivalent "
            f"needs the Holm-adjusted TOST p < {ALPHA} for the margin +-{cfg['margin']:.3g}, the 90% interval inside it; "
            "otherwise inconclusive. A difference that passes both reads better/worse, and its note says it lies inside "
            "the margin. Holm adjusts the p-values, not the intervals. P(A>B) and eps_min are over seeds.",
            fmt(findings_table(comparisons))))
        path = figures / f"{name}__forest.png"
        forest_figure(comparisons, cfg["margin"], path)
        section.figures.append((f"Paired differences in {metric} against no penalty: 90% intervals (thick, the "
                                "equivalence test's) inside 95% intervals (thin), margin band", path))
    table = summary[summary.metric.isin([metric.replace("test/", f"{split}/") for split in ("train", "val", "test")])][
        ["condition", "variation", "metric", "mean", "sd", "n", "ci_low", "ci_high", "bca_low", "bca_high"]]
    section.tables.append(("Per condition: mean, sd, n, 95% t-interval and BCa interval over seeds (unpaired; the "
                           "paired effects are in the findings).", fmt(table.assign(condition=table.condition.map(label)))))
    add_figures(section, name, runs, summary, cfg, folder, figures, set(settings["figures"]))
    section.figures = [(caption, str(Path(p).relative_to(out))) for caption, p in section.figures]
    return section, runs, comparisons, cfg


def add_figures(section: Section, name: str, runs: pd.DataFrame, summary: pd.DataFrame, cfg: dict, folder: Path, figures: Path,
                kinds: set[str]) -> None:
    """The figures of `kinds` (the study's report.figures) that its tables hold what they show for."""
    histories = pd.read_csv(folder / "histories.csv.gz")
    if "learning_curves" in kinds:
        epochs = histories.epoch.nunique()
        if epochs < MIN_CURVE_EPOCHS:
            section.paragraphs.append(
                f"Learning curves left out: {epochs} recorded epochs give {epochs} points per curve, too few to show "
                f"the shape of training; the per-epoch means are in results/{name}/curves.csv.")
        else:
            for variation in runs.variation.unique():
                path = figures / f"{name}__curves__{variation.replace('+', '_')}.png"
                learning_curves_figure(histories, variation, path)
                section.figures.append((f"Learning curves of each penalty over no penalty's, {VARIATION_TEXT[variation]}", path))
    if "strength" in kinds and runs.strength.nunique() > 2:
        primary = primary_metric(runs)
        for metric in (primary.replace("test/", "val/"), primary):
            path = figures / f"{name}__{metric.replace('/', '_')}_vs_strength.png"
            strength_figure(runs, metric, path)
            section.figures.append((f"{metric} against strength", path))
    if "layer_norms" in kinds and runs.condition.nunique() > 1 and layer_norms(runs).shape[1]:
        path = figures / f"{name}__layer_norms.png"
        layer_norm_figure(runs, path)
        section.figures.append(("Weight norm of each layer relative to no penalty: the penalized weights shrink, "
                                "unpenalized ones may grow (the norm of all kernels together hides this)", path))
    if "confusion" in kinds and "test/tp" in runs.columns and runs.condition.nunique() > 1:
        path = figures / f"{name}__confusion.png"
        confusion_figure(runs, path)
        section.figures.append(("Test confusion matrix without penalty, and each penalty's change to it", path))
    surfaces = pd.read_csv(folder / "surfaces.csv.gz") if "decision_surface" in kinds and (folder / "surfaces.csv.gz").is_file() \
        else pd.DataFrame()
    if len(surfaces) and "model" in set(surfaces.variation):
        validation = summary[(summary.metric == "val/accuracy") & (summary.variation == "model") & (summary.condition != BASELINE)]
        best = validation.sort_values("mean", ascending=False).condition.iloc[0] if len(validation) else None
        shown = [c for c in (BASELINE, best) if c]
        path = figures / f"{name}__decision_surface.png"
        surface_figure(surfaces, shown, path, fixed_draw(cfg["data"]))
        section.figures.append((f"Decision surfaces (fixed data), no penalty and the best on validation, {label(best)}", path))


def fixed_draw(data: dict) -> dict[str, np.ndarray]:
    """The moons draw of the fixed-data rows, drawn again from the config (make_moons is deterministic)."""
    from omegaconf import OmegaConf

    from weightreg.moons import moons_split

    split = moons_split(OmegaConf.create(data), data["random_state"])
    return {name: getattr(split, name) for name in ("x_train", "y_train", "x_test", "y_test")}


def answer_section(studies: dict[str, tuple[pd.DataFrame, str]], figures: Path, out: Path) -> Section:
    """The report's first section: one row per study (name -> (comparisons, question)) and one forest plot."""
    answer = Section("Answer", ["Each study's headline comparison against no penalty (in redrawn data where the study "
                                "has it; the chosen condition, or else the largest improvement), with its interval (90% "
                                "where the verdict is equivalent, else 95%), and the count of every verdict of the study. "
                                "The intervals are not adjusted for the study's other comparisons; the verdicts are (Holm "
                                "over each study's comparisons), so where a study makes more than one comparison an "
                                "interval clear of zero can still be inconclusive. Details, figures and the design of each study follow in "
                                "its own section."])
    answer.tables.append(("One row per study.", answer_table(studies)))
    path = figures / "answer__forest.png"
    headline_figure({name: table for name, (table, _) in studies.items()}, path)
    answer.figures.append(("Headline comparisons across studies", str(path.relative_to(out))))
    return answer


def environment_section(records: list[dict]) -> Section:
    section = Section("Environment")
    if records:
        first = records[0]
        section.paragraphs.append("Versions: " + ", ".join(f"{k} {v}" for k, v in first["versions"].items()) + ".")
        section.paragraphs.append(f"Machine: {first['machine']}. Determinism: {first['determinism']}.")
        section.tables.append(("Wall time per study", pd.DataFrame(
            [{"study": r["study"], "seconds": round(r["wall_seconds"], 1), "seeds": f"{r['seeds'][0]}..{r['seeds'][-1]}"} for r in records])))
    return section


def build_report(results: str | Path, out: str | Path, order: list[str] | None = None, reports: dict | None = None) -> None:
    """The report over every study folder below `results` (one with a run.json), in `order` where given
    (the pipeline's study order), else alphabetically; `reports`: each study's report block (its question,
    figures and checks), the schema's defaults for a study without one."""
    results, out = Path(results), Path(out)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    folders = {p.parent.name: p.parent for p in results.glob("*/run.json")}
    names = [n for n in (order or []) if n in folders] + sorted(set(folders) - set(order or []))
    sections, studies, comparisons, records, configs, summary, questions = [], {}, {}, [], {}, [], {}
    for name in names:
        settings = report_settings((reports or {}).get(name), f"{name}: ")
        questions[name] = settings["question"]
        section, runs, table, cfg = study_section(name, folders[name], figures, out, settings)
        sections.append(section)
        studies[name], comparisons[name] = runs, table
        records.append(json.loads((folders[name] / "run.json").read_text()))
        configs[name] = cfg
        summary += summary_lines(name, table, settings["question"])
    for section in sections:
        shared = shared_runs_paragraph(section.title, studies, comparisons)
        if shared:
            section.paragraphs.insert(1, shared)
    overview = Section("Summary", [
        "Each study's question and its verdicts on test accuracy against no penalty, paired by seed: the effect "
        "(difference in accuracy) with the interval that decided it. Better/worse: Holm-adjusted p < 0.05 and a 95% "
        "interval excluding 0 (\"inside the margin\" where the equivalence test also bounds it within the study's "
        "margin); equivalent: the Holm-adjusted TOST p < 0.05, shown with its 90% interval inside the study's declared "
        "margin; inconclusive: neither, with what a decision would need in the study's findings. On a fixed test set "
        "(every fixed-data row, and IMDB's redrawn training splits) the test counts seeds and test points as random "
        "together (crossed random effects); where each seed draws its own test points (moons' redrawn data) it is an "
        "exact sign-flip test over seeds. A condition named without \"on ...\" penalizes the hidden kernels only. "
        "Claims about moons in general come from redrawn-data rows only.",
        *summary])
    published = Section("Published vs reproduced", [
        "Each number the tutorial publishes (one run each) beside our seeds on the same fixed data, in points: how many "
        "seeds score the published count, and whether it lies within [min, max] of our seeds (the interval that holds "
        "one new run with the probability in the coverage column)."])
    table = published_table(studies, configs)
    if len(table):
        published.tables.append(("Published single runs against our seeds (fixed data).", fmt(table)))
        published.paragraphs += sorted({f"Source of {study}'s published numbers: {cfg['published']['citation']}; "
                                        f"{cfg['published']['convention']}." for study, cfg in configs.items()
                                        if study in set(table.study) and cfg.get("published")})
    literature = Section("Literature configurations", [
        "Each strength borrowed from the literature (the sources in README), with its source and the convention it was "
        "converted from, measured against the same model without a penalty."])
    table = literature_table(comparisons, {name: cfg.get("sources", {}) for name, cfg in configs.items()})
    if len(table):
        literature.tables.append(("Measured effect of each literature configuration on test accuracy.", fmt(table)))
    answer = answer_section({n: (comparisons[n], questions[n]) for n in names}, figures, out)
    sections = [answer, overview, published, literature, *sections, environment_section(records)]
    lead = "Rebuilt by `dvc repro`; every number below is computed from `results/`."
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(render_markdown(sections, lead))
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(render_html(sections, out, lead))


def main(argv: list[str] | None = None) -> None:
    """The report stage: every study below --results, in the pipeline's order (params.yaml's studies), each with its
    report block from params.yaml. A folder of runs of one's own:
    `weightreg report <folder>` (weightreg.folder_report)."""
    from weightreg.params import load_params
    from weightreg.errors import run_stage

    parser = argparse.ArgumentParser(prog="python -m weightreg.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="the pipeline's results folder (every study, in params.yaml's order)")
    parser.add_argument("--out", required=True, help="where to write report.md, report.html and figures/")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    def stage() -> str:
        params = load_params(args.params)
        studies = dict(params.get("studies", {}))
        build_report(args.results, args.out, order=list(studies), reports={name: study.get("report") for name, study in studies.items()})
        return f"report: wrote {args.out}/report.md, {args.out}/report.html and {args.out}/figures"

    run_stage(stage)


if __name__ == "__main__":
    main()
