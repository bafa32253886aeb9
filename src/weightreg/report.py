"""Figures and the report a reader opens: reports/report.md and a self-contained reports/report.html.

    python -m weightreg.report --results results --out reports      # the pipeline's report stage
    weightreg report sweeps/iris_study/basic/<time>                 # any folder of runs (weightreg.folder_report)

The report opens with a one-screen summary (each study's question and its verdicts, in the order a
reader meets the studies), then one section per study with every comparison's numbers. Every number
in the prose is computed here from the studies' tables; the tutorial's published single-run numbers
(seed 002) appear only as references beside ours.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from weightreg.aggregate import diverged, read_runs, summary_table
from weightreg.verdicts import inside_margin, primary_metric
from weightreg.artifacts import atomic_path
from weightreg.config import BASELINE
from weightreg.figures import (MIN_CURVE_EPOCHS, VARIATION_TEXT, confusion_figure, forest_figure, label, layer_norm_figure,
                               layer_norms, learning_curves_figure, strength_figure, surface_figure)
from weightreg.headline import answer_table, headline_figure
from weightreg.render import Section, render_html, render_markdown
from weightreg.stats import ALPHA, wilson_interval

# The question each study answers, in the order the summary presents them (the tutorial's case study first).
QUESTIONS = {
    "moons_case_study": "Does L2(0.001) on the hidden kernel help the tutorial's overfitting MLP?",
    "moons_l2_grid": "Which decade of L2 strength helps, 1e-6 to 1e-1?",
    "moons_fine_grid": "Inside the decade chosen on validation data, which strength? (selection runs: read with the confirmation)",
    "moons_confirm": "Does the strength chosen on validation data help on fresh seeds and fresh data draws?",
    "moons_penalties": "L1, L2 or L1L2, at which strength?",
    "moons_placement": "Where should the penalty go: hidden kernel, + output kernel, + biases, or activities?",
    "moons_schedule": "Do Neural Smithing's increasing schedule and a constant 1e-3 (its final strength) each beat no penalty?",
    "imdb_mlp": "Does seed 003's L2(0.01), or the MLP range of seed 002, help the IMDB multi-hot MLP?",
    "imdb_cnn": "Do the CNN literature strengths, or decoupled weight decay, help an IMDB Conv1D model?",
    "imdb_lstm": "Do the LSTM literature strengths help an IMDB LSTM, and on which weights?",
}
FIXED_TEST_NOTE = {
    "moons": "the tutorial's single draw of 70 test points: its rows describe that draw, not moons in general",
    "imdb": "one fixed test split: intervals and tests count test-review sampling as well as seeds",
    None: "one fixed split: its rows describe that split; intervals and tests of accuracy count test-row sampling as well as seeds",
}


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def margin_qualifier(row: dict) -> str:
    """The words `, inside the +-m margin` after a better/worse verdict that the equivalence test also bounds."""
    return f", inside the +-{row['margin']:g} margin" if inside_margin(row) else ""


def literature_table(comparisons: dict[str, pd.DataFrame], sources: dict[str, dict]) -> pd.DataFrame:
    """Each literature configuration (the `sources:` of its study's config) with its measured effect."""
    rows = []
    for study, by_condition in sources.items():
        table = comparisons.get(study, pd.DataFrame())
        for condition, source in by_condition.items():
            cell = table[(table.condition == condition) & (table.metric == primary_metric(table))] if len(table) else table
            if cell.empty:
                continue
            row = cell.iloc[0]
            rows.append({"study": study, "condition": label(condition), "source and convention": source,
                         "difference": row.diff_mean, "95% CI low": row.diff_ci_low, "95% CI high": row.diff_ci_high,
                         "90% CI low": row.diff_ci90_low, "90% CI high": row.diff_ci90_high,
                         "n": row.n, "p (Holm)": row.p_holm, "verdict": row.verdict + margin_qualifier(row.to_dict())})
    return pd.DataFrame(rows)


def published_values(configs: dict[str, dict]) -> list[tuple[str, str, str, float]]:
    """(study, condition, metric, value) of every study config's `published:` numbers, in config order."""
    return [(study, condition, metric, float(value))
            for study, cfg in configs.items() for condition, metrics in ((cfg.get("published") or {}).get("values") or {}).items()
            for metric, value in metrics.items()]


def published_table(studies: dict[str, pd.DataFrame], configs: dict[str, dict]) -> pd.DataFrame:
    """Each published single run beside our seeds on the same fixed data, in counts of points.

    Accuracy on n points moves in steps of 1/n, so the check is discrete: how many of our seeds score the
    published count, and whether it lies in [min, max] of our seeds, the nonparametric interval in which
    one new run falls with probability (n_seeds - 1) / (n_seeds + 1).
    """
    rows = []
    for study, condition, metric, published in published_values(configs):
        if study not in studies:
            continue
        runs = studies[study]
        cell = runs[(runs.condition == condition) & (runs.variation == "model")]
        if len(cell) < 2:
            continue
        points = int(cell["test/n"].iloc[0]) if metric.startswith("test") else int(configs[study]["data"]["n_train"])
        counts = np.rint(cell[metric].to_numpy() * points).astype(int)
        target = int(round(published * points))
        n = len(counts)
        rows.append({
            "study": study, "condition": label(condition), "metric": metric,
            "published (1 run)": f"{published:.3f} = {target}/{points}",
            "ours: mean": counts.mean() / points,
            "seeds at the published count": f"{int(np.sum(counts == target))} of {n}",
            "ours: [min, max]": f"[{counts.min()}, {counts.max()}] of {points}",
            "coverage": (n - 1) / (n + 1),
            "label": "inside" if counts.min() <= target <= counts.max() else "outside",
        })
    return pd.DataFrame(rows)


def verdict_counts(comparisons: pd.DataFrame, variation: str) -> str:
    cell = comparisons[(comparisons.metric == primary_metric(comparisons)) & (comparisons.variation == variation)]
    counts = cell.verdict.value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in ("better", "worse", "equivalent", "inconclusive") if v in counts)


def effect_text(row) -> str:
    """The effect with the interval that decided it: 90% (the TOST's) beside an equivalence, else 95%."""
    if row.verdict == "equivalent":
        return f"{signed(row.diff_mean)} [90%: {signed(row.diff_ci90_low)}, {signed(row.diff_ci90_high)}]"
    return f"{signed(row.diff_mean)} [95%: {signed(row.diff_ci_low)}, {signed(row.diff_ci_high)}]"


def signed(value: float) -> str:
    """+/-0.0000 to four places, or in two significant digits where four places would round a nonzero value
    to zero (an interval's end that excludes 0 must not read as 0)."""
    text = f"{value:+.4f}"
    return f"{value:+.1e}" if value != 0 and float(text) == 0 else text


def question(name: str, cfg: dict) -> str:
    return cfg.get("question") or QUESTIONS.get(name, "Does each condition beat no penalty?")


def summary_lines(name: str, comparisons: pd.DataFrame, cfg: dict) -> list[str]:
    """One study in the summary: its question, then per variation the verdict counts and every verdict that
    is not inconclusive, with its effect on the study's metric (test accuracy, or MAE) and 95% interval."""
    lines = [f"**{name}**: {question(name, cfg)}"]
    if comparisons.empty:
        return lines + ["no comparison (no baseline)."]
    for variation in dict.fromkeys(comparisons.variation):
        cell = comparisons[(comparisons.metric == primary_metric(comparisons)) & (comparisons.variation == variation)]
        listed = ("better", "worse", "equivalent") if len(cell) <= 4 else ("better", "worse")  # one screen
        decided = [f"{label(r.condition)} {r.verdict} {effect_text(r)}{margin_qualifier(r._asdict())}"
                   for r in cell.itertuples() if r.verdict in listed]
        unreachable = int((~cell.reachable.astype(bool)).sum())
        text = f"{VARIATION_TEXT[variation]}, n = {int(cell.n.max())} seeds: {verdict_counts(comparisons, variation)}"
        if decided:
            text += " (" + "; ".join(decided) + ")"
        if unreachable:
            text += f"; {unreachable} of {len(cell)} cannot reach significance at this many seeds or test points"
        lines.append(text + ".")
    return lines


def findings_table(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Every comparison of a study with the numbers its verdict rests on."""
    table = comparisons.assign(condition=comparisons.condition.map(label),
                               variation=comparisons.variation.map(lambda v: "fixed data" if v == "model" else "redrawn data"))
    columns = ["condition", "variation", "metric", "n", "unit", "diff_mean", "diff_ci_low", "diff_ci_high", "diff_ci90_low",
               "diff_ci90_high", "p_value", "p_holm", "p_tost_holm", "prob_improvement", "eps_min", "mde", "verdict", "note"]
    return table[columns].assign(note=table.note.astype(object).fillna(""))  # a column of no notes reads back as float NaN


def fmt(table: pd.DataFrame) -> pd.DataFrame:
    return table.map(lambda v: f"{v:.4g}" if isinstance(v, float) else v)


def builtin_dataset(data: dict) -> str | None:
    """moons or imdb for the built-in studies; None for a study of your own data (a `_target_`)."""
    return None if "_target_" in data else data["name"]


def target_text(spec: dict) -> str:
    """A `_target_` config as a call, e.g. `models.two_layer_net(units=32)`."""
    arguments = ", ".join(f"{k}={v}" for k, v in spec.items() if not k.startswith("_"))
    return f"`{spec['_target_']}({arguments})`"


def model_text(model: dict) -> str:
    if "_target_" in model:
        return target_text(model)
    if model["name"] == "mlp":
        return f"mlp with hidden layers {model['hidden_units']}"
    width = f"{model['filters']} filters of width {model['kernel_size']}" if model["name"] == "cnn" else f"{model['recurrent_units']} units"
    return f"{model['name']} (embedding {model['embedding_dim']}, {width})"


def data_text(data: dict, runs: pd.DataFrame, model: dict) -> str:
    n_test = int(runs["test/n"].iloc[0])
    if "_target_" in data:
        return f"{target_text(data)}, {n_test} test rows, task {runs['task'].iloc[0]}"
    if data["name"] == "moons":
        return (f"{data['n_samples']} moons with noise {data['noise']}, {data['n_train']} train / {n_test} test, "
                f"and a separate validation draw of {data['n_val']} points")
    return (f"IMDB reviews ({data['source']}), {data['max_train'] or 25000 - data['val_size']} train / "
            f"{data['val_size']} validation (carved from training) / {n_test} test, vocabulary {data['vocab_size']}, "
            + (f"multi-hot {data['num_words']} words" if model.get("name") == "mlp" else f"sequences of {data['maxlen']}"))


def selection_paragraph(cfg: dict, summary: pd.DataFrame) -> str:
    """How a refined study's sweep was chosen, read back from its config and the summary it chose from."""
    rule = cfg["refine"]
    values = cfg["sweep"][rule["axis"]]
    return (f"Selection: {rule['axis']} = {', '.join(f'{v:g}' for v in values)}, from the regularized condition of "
            f"`{rule['study']}` with the highest mean `{rule['metric']}` over {VARIATION_TEXT[rule['variation']]}, times "
            f"{', '.join(f'{m:g}' for m in rule['multipliers'])}. The rule reads validation data only; the test "
            f"points are never read before the final score.")


def validation_paragraph(summary: pd.DataFrame, data: dict) -> str:
    """The IMDB size criterion (unpenalized model >= 0.85), now checked on validation data."""
    cell = summary[(summary.condition == BASELINE) & (summary.metric == "val/accuracy")]
    if builtin_dataset(data) != "imdb" or cell.empty:
        return ""
    mean = float(cell["mean"].iloc[0])
    return (f"Size check on validation data: the unpenalized model's mean validation accuracy is {mean:.4f} "
            f"({'meets' if mean >= 0.85 else 'misses'} the 0.85 the sizes were chosen for; the sizes were first "
            f"picked on test accuracy by an earlier version of this pipeline).")


def design_paragraph(cfg: dict, comparisons: pd.DataFrame) -> str:
    """How the study was fixed before its results (its config's `design`), its family and the tests it uses."""
    design = cfg.get("design") or {}
    parts = [f"Design. Seeds: {design.get('seeds') or 'not stated in the config'}."]
    if design.get("pilot"):
        parts.append(f"Pilot (never pooled with these runs): {design['pilot']}.")
    parts.append(f"Margin +-{cfg['margin']:g}: {design.get('margin') or 'no reason stated in the config'}.")
    if len(comparisons):
        families = "; ".join(dict.fromkeys(comparisons.family.dropna()))
        tests = "; ".join(f"{unit}: {TEST_TEXT[unit]}" for unit in dict.fromkeys(comparisons.unit))
        parts.append(f"Family: {families}. Tests: {tests}.")
    return " ".join(parts)


RUN_IDENTITY = ["variation", "seed", "data_seed", "train/loss", "test/loss"]  # equal in every row: the same runs


def same_runs(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    columns = [c for c in RUN_IDENTITY if c in a.columns and c in b.columns]
    key = lambda runs: runs[columns].sort_values(columns[:3]).reset_index(drop=True)  # noqa: E731
    return len(a) == len(b) and key(a).equals(key(b))


def shared_runs_paragraph(name: str, studies: dict[str, pd.DataFrame], comparisons: dict[str, pd.DataFrame]) -> str:
    """Conditions of this study whose runs are, row for row, runs of another study: the same evidence, judged in
    each study's own family (Holm over its comparisons), so a verdict may differ between them."""
    runs, lines = studies[name], []
    for condition, own in runs[runs.condition != BASELINE].groupby("condition", sort=False):
        others = [other for other, their in studies.items() if other != name
                  and same_runs(own, their[their.condition == condition])]
        if not others:
            continue
        verdicts = [f"{study}: {verdict_of(comparisons[study], condition)}" for study in [name, *others]]
        lines.append(f"`{label(condition)}` are the same runs as in {', '.join(others)} ({'; '.join(verdicts)})")
    if not lines:
        return ""
    return ("Shared runs: " + "; ".join(lines) + ". Each study judges them within its own family of comparisons "
            "(Holm over that study's comparisons), which is why the same runs can read differently.")


def verdict_of(comparisons: pd.DataFrame, condition: str) -> str:
    cell = comparisons[(comparisons.condition == condition) & (comparisons.metric == primary_metric(comparisons))] \
        if len(comparisons) else comparisons
    if cell.empty:
        return "no comparison"
    return ", ".join(f"{v} ({'fixed data' if var == 'model' else 'redrawn data'}, Holm over {int(k)})" for v, var, k in
                     zip(cell.verdict, cell.variation, cell.family_size))


TEST_TEXT = {
    "seeds": "exact sign-flip test over seeds, its inversion for the 95% and 90% intervals, and two one-sided "
             "sign-flip tests at +-margin (TOST)",
    "seeds x test points": "crossed random effects of seeds and test points (weightreg.crossed: variance components "
                           "from the two-way layout, Satterthwaite t), whose t gives the p-value, both intervals and the TOST",
}


def study_section(name: str, folder: Path, figures: Path, out: Path) -> tuple[Section, pd.DataFrame, pd.DataFrame, dict]:
    runs = read_runs(folder / "runs.csv")
    record = json.loads((folder / "run.json").read_text())
    summary = pd.read_csv(folder / "summary.csv") if (folder / "summary.csv").is_file() else summary_table(runs)
    comparisons = pd.read_csv(folder / "comparisons.csv", keep_default_na=False, na_values=[""]) \
        if (folder / "comparisons.csv").is_file() else pd.DataFrame()
    cfg = record["config"]
    section = Section(name)
    section.paragraphs.append(f"Question: {question(name, cfg)}")
    section.paragraphs.append(
        f"Run: {counted(runs.condition.nunique(), 'condition')} x {counted(runs.variation.nunique(), 'variation')} x "
        f"{counted(cfg['n_seeds'], 'seed')} "
        f"(seeds {cfg['seed']}..{cfg['seed'] + cfg['n_seeds'] - 1}), {cfg['train']['epochs']} epochs, "
        f"model {model_text(cfg['model'])}, data {data_text(cfg['data'], runs, cfg['model'])}; config hash `{record['config_hash']}`; "
        f"wall time {record['wall_seconds']:.1f} s ({record['wall_seconds'] / len(runs):.3f} s per run).")
    if cfg.get("refine"):
        section.paragraphs.append(selection_paragraph(cfg, summary))
    section.paragraphs.append(validation_paragraph(summary, cfg["data"]))
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
    add_figures(section, name, runs, summary, cfg, folder, figures)
    section.figures = [(caption, str(Path(p).relative_to(out))) for caption, p in section.figures]
    return section, runs, comparisons, cfg


def add_figures(section: Section, name: str, runs: pd.DataFrame, summary: pd.DataFrame, cfg: dict, folder: Path, figures: Path) -> None:
    histories = pd.read_csv(folder / "histories.csv.gz")
    if name in ("moons_case_study", "moons_schedule") or builtin_dataset(cfg["data"]) in ("imdb", None):
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
    if runs.strength.nunique() > 2:
        primary = primary_metric(runs)
        for metric in (primary.replace("test/", "val/"), primary):
            path = figures / f"{name}__{metric.replace('/', '_')}_vs_strength.png"
            strength_figure(runs, metric, path)
            section.figures.append((f"{metric} against strength", path))
    if runs.condition.nunique() > 1 and layer_norms(runs).shape[1]:
        path = figures / f"{name}__layer_norms.png"
        layer_norm_figure(runs, path)
        section.figures.append(("Weight norm of each layer relative to no penalty: the penalized weights shrink, "
                                "unpenalized ones may grow (the norm of all kernels together hides this)", path))
    if "test/tp" in runs.columns and runs.condition.nunique() > 1:
        path = figures / f"{name}__confusion.png"
        confusion_figure(runs, path)
        section.figures.append(("Test confusion matrix without penalty, and each penalty's change to it", path))
    surfaces = pd.read_csv(folder / "surfaces.csv.gz") if (folder / "surfaces.csv.gz").is_file() else pd.DataFrame()
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
                                "has it; the chosen condition, or else the largest improvement), with the interval that "
                                "decides its verdict, and the count of every verdict of the study. Details, figures and "
                                "the design of each study follow in its own section."])
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


def build_report(results: str | Path, out: str | Path, order: list[str] | None = None) -> None:
    """The report over every study folder below `results` (one with a run.json), in `order` where given
    (the pipeline's study order), else alphabetically."""
    results, out = Path(results), Path(out)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    folders = {p.parent.name: p.parent for p in results.glob("*/run.json")}
    names = [n for n in (order or []) if n in folders] + sorted(set(folders) - set(order or []))
    sections, studies, comparisons, records, configs, summary = [], {}, {}, [], {}, []
    for name in names:
        section, runs, table, cfg = study_section(name, folders[name], figures, out)
        sections.append(section)
        studies[name], comparisons[name] = runs, table
        records.append(json.loads((folders[name] / "run.json").read_text()))
        configs[name] = cfg
        summary += summary_lines(name, table, cfg)
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
        "Each strength borrowed from the literature (seeds 002-004), with its source and the convention it was "
        "converted from, measured against the same model without a penalty."])
    table = literature_table(comparisons, {name: cfg.get("sources", {}) for name, cfg in configs.items()})
    if len(table):
        literature.tables.append(("Measured effect of each literature configuration on test accuracy.", fmt(table)))
    answer = answer_section({n: (comparisons[n], question(n, configs[n])) for n in names}, figures, out)
    sections = [answer, overview, published, literature, *sections, environment_section(records)]
    lead = "Rebuilt by `dvc repro`; every number below is computed from `results/`."
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(render_markdown(sections, lead))
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(render_html(sections, out, lead))


def main(argv: list[str] | None = None) -> None:
    """The report stage: every study below --results, in the pipeline's order (params.yaml: the built-in studies,
    then the custom ones). A folder of runs of one's own: `weightreg report <folder>` (weightreg.folder_report)."""
    from weightreg.config import load_params
    from weightreg.errors import run_stage

    parser = argparse.ArgumentParser(prog="python -m weightreg.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="the pipeline's results folder (every study, in params.yaml's order)")
    parser.add_argument("--out", required=True, help="where to write report.md, report.html and figures/")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    def stage() -> str:
        params = load_params(args.params)
        build_report(args.results, args.out, order=[*params.get("studies", {}), *params.get("custom_studies", {})])
        return f"report: wrote {args.out}/report.md, {args.out}/report.html and {args.out}/figures"

    run_stage(stage)


if __name__ == "__main__":
    main()
