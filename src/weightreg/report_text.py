"""The report's text: the numbers and sentences of each study's section and of the summary, read from the
studies' tables and configs (weightreg.report draws the figures and puts the sections together; weightreg.render
writes them out)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weightreg.figures import VARIATION_TEXT, label
from weightreg.params import BASELINE
from weightreg.verdicts import inside_margin, primary_metric

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


def summary_lines(name: str, comparisons: pd.DataFrame, question: str) -> list[str]:
    """One study in the summary: its question, then per variation the verdict counts and every verdict that
    is not inconclusive, with its effect on the study's metric (test accuracy, or MAE) and 95% interval."""
    lines = [f"**{name}**: {question}"]
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


SPLIT_TEXT = {"train": "training", "val": "validation", "test": "test"}


def check_paragraph(check: dict, summary: pd.DataFrame) -> str:
    """A report check (`report.checks` of the study's config): the condition's mean of the metric in each variation,
    against its bound, with the bound's reason."""
    cell = summary[(summary.condition == check["condition"]) & (summary.metric == check["metric"])]
    split = SPLIT_TEXT.get(check["metric"].split("/")[0], check["metric"].split("/")[0])
    lead = f"Check on {split} data: the mean {check['metric']} of {label(check['condition'])}"
    if cell.empty:
        return f"{lead} is not in this study's summary, so the check ({check['why']}) was not made."
    at_least = check.get("at_least") is not None
    bound = check["at_least"] if at_least else check["at_most"]
    met = [(mean >= bound) if at_least else (mean <= bound) for mean in cell["mean"]]
    where = [VARIATION_TEXT[v].split(" (")[0] for v in cell.variation]
    values = " and ".join(f"{mean:.4f}" + (f" in {w}" if len(cell) > 1 else "") for mean, w in zip(cell["mean"], where))
    outcome = "meets" if all(met) else "misses" if not any(met) else \
        "meets in " + " and ".join(w for w, ok in zip(where, met) if ok) + " and misses elsewhere"
    return f"{lead} is {values}: it {outcome} the {'minimum' if at_least else 'maximum'} of {bound:g} ({check['why']})."


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
