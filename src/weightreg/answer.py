"""`weightreg answer`: one study of your own, from its declared candidates to a confirmed, seed-level verdict.

    PYTHONPATH=. weightreg answer --config-dir my_conf experiment=my_study
    PYTHONPATH=. python -m weightreg.answer --config-dir my_conf experiment=my_study train.trainer=fit

1. Search: every candidate the study declares (its regularizer crossed with `answer.sweep`, else with its `sweep:`) and no penalty, on
   answer.search_seeds seeds, on validation data only: the search's trainers get a data mapping without the test
   arrays (weightreg.study_inputs.validation_in_test_slots) and its runs.csv has no test column.
2. Choice: the candidate with the best mean `objective` (a val/ metric). Flat: a warning when the chosen candidate's
   mean paired difference from no penalty on the objective is under 2 of its standard errors over the search seeds.
3. Size, fixed before any confirmation run: paired t-test power (weightreg.stats.t_power_size) at the margin, with the
   search's paired sd (chosen - none) of the margin's metric on validation data as the pilot (the largest over the
   search's variations), alpha 0.05 split over the confirmation's variations (Holm's first step), clipped to
   [answer.min_seeds, answer.max_seeds].
4. Confirmation: the chosen setting against no penalty on fresh seeds disjoint from the search's, on the study's own
   split and on a fresh data draw per seed where the data target takes a seed. The only runs that read the test split.
5. The answer as one paragraph (also in answer.json) and the report (weightreg.folder_report) in report/.

The run folder (hydra.run.dir, answers/<study>/<overrides>) holds search/, confirm/, answer.json and report/.
Interrupted, it resumes: a written phase is read back, and a run whose checkpoint is complete is not retrained.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from weightreg.errors import ConfigError
from weightreg.params import BASELINE

FLAT_SE = 2.0  # the flatness rule: chosen - none under this many standard errors of the paired difference
DISJOINT = "The confirmation's seeds are disjoint from the search's, and only the confirmation read the test split."


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def higher_is_better(metric: str) -> bool:
    return metric.endswith("accuracy")


def margin_metric(runs: pd.DataFrame) -> str:
    """The validation form of the metric the margin is stated in."""
    return "val/accuracy" if "val/accuracy" in runs.columns else "val/mae"


def search_config(cfg: DictConfig) -> DictConfig:
    search = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    search.n_seeds, search.baseline = cfg.answer.search_seeds, True
    if cfg.answer.sweep is not None:
        search.sweep = cfg.answer.sweep
    return search


def confirm_variations(cfg: DictConfig) -> list[str]:
    """answer.variations, or the study's split and, where the data target takes a seed, a fresh draw per seed."""
    from weightreg.targets import declared, target

    if cfg.answer.variations is not None:
        return list(cfg.answer.variations)
    return ["model", "data+model"] if declared(target(cfg.data, "data"), {"seed": 0}) else ["model"]


def confirm_config(cfg: DictConfig, chosen, n_seeds: int) -> DictConfig:
    """The chosen condition (its optimizer as a one-value sweep, so that no penalty keeps the study's) against no
    penalty, on n fresh seeds."""
    from weightreg.conditions import plain

    confirm = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    confirm.regularizer, confirm.baseline, confirm.n_seeds = chosen.regularizer, True, n_seeds
    confirm.sweep = {} if chosen.optimizer == plain(cfg.optimizer) else {"optimizer": [chosen.optimizer]}
    confirm.seed = first_confirm_seed(cfg)
    confirm.variations = confirm_variations(cfg)
    return confirm


def check_fresh_draws(cfg: DictConfig, confirm: DictConfig) -> None:
    """A confirmation draw (data+model: the seed draws the data) must not be the search's fixed draw (data_seed)."""
    seeds = range(confirm.seed, confirm.seed + confirm.n_seeds)
    if "data+model" in confirm.variations and "model" in cfg.variations and cfg.data_seed in seeds:
        raise ConfigError(f"data_seed={cfg.data_seed}: among the confirmation's seeds {seeds.start}..{seeds.stop - 1}, so one "
                          "of its fresh draws would be the search's draw; expected a data_seed outside them (or "
                          "answer.confirm_seed past it)")


def first_confirm_seed(cfg: DictConfig) -> int:
    return cfg.answer.confirm_seed if cfg.answer.confirm_seed is not None else cfg.seed + cfg.answer.search_seeds


def search_table(runs: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Per condition (no penalty first): mean and sd of the objective over its search runs, and the mean paired
    difference from no penalty (same seed and variation) with its standard error; a diverged run makes the mean NaN."""
    key = ["variation", "seed"]
    base = runs[runs.condition == BASELINE].set_index(key)[objective]
    rows = []
    for condition, group in runs.groupby("condition", sort=False):
        values = group.set_index(key)[objective]
        diff = (values - base.reindex(values.index)).to_numpy()
        rows.append({"condition": condition, "strength": group.strength.iloc[0], "n": len(group),
                     "mean": values.mean(skipna=False), "sd": values.std(ddof=1),
                     "diff_mean": diff.mean(), "diff_se": np.std(diff, ddof=1) / math.sqrt(len(diff))})
    table = pd.DataFrame(rows)
    return pd.concat([table[table.condition == BASELINE], table[table.condition != BASELINE]], ignore_index=True)


def choose(table: pd.DataFrame, objective: str) -> pd.Series:
    candidates = table[(table.condition != BASELINE) & table["mean"].notna()]
    if candidates.empty:
        raise ConfigError("regularizer/sweep: no penalized candidate finished the search; expected at least one "
                          "condition other than no penalty whose search runs all finished")
    best = candidates["mean"].idxmax() if higher_is_better(objective) else candidates["mean"].idxmin()
    return candidates.loc[best]


def flat_warning(table: pd.DataFrame, chosen: pd.Series, objective: str) -> str:
    """The warning when the search cannot tell its choice from no penalty (the FLAT_SE rule); empty otherwise."""
    gain = chosen.diff_mean if higher_is_better(objective) else -chosen.diff_mean
    if np.isfinite(chosen.diff_se) and gain > FLAT_SE * chosen.diff_se:
        return ""
    means = table["mean"].dropna()
    return (f"warning: the validation objective is flat across candidates: the chosen {chosen.condition} differs from no "
            f"penalty by {chosen.diff_mean:+.4f} in {objective}, under {FLAT_SE:g} standard errors ({chosen.diff_se:.4f} "
            f"over {int(chosen.n)} search runs); candidate means span {means.min():.4f} to {means.max():.4f}. The search "
            "cannot tell its choice from no penalty; the confirmation tests it all the same.")


def confirmation_size(cfg: DictConfig, search_runs: pd.DataFrame, chosen: str, n_variations: int) -> tuple[int, str]:
    """Seeds of the confirmation by the declared power rule, and the rule in words with its numbers."""
    from weightreg.stats import ALPHA, t_power_size

    metric = margin_metric(search_runs)
    key = ["variation", "seed"]
    pair = lambda c: search_runs[search_runs.condition == c].set_index(key)[metric]  # noqa: E731
    diff = (pair(chosen) - pair(BASELINE)).dropna()
    spreads = diff.groupby(level="variation").std(ddof=1)  # each variation is judged on its own: the noisiest sizes all
    sd = float(spreads.max()) if spreads.notna().any() else math.nan
    noisiest = spreads.idxmax() if spreads.notna().any() else "none"
    needed = t_power_size(sd, cfg.margin, ALPHA / n_variations, cfg.answer.power)
    n = int(np.clip(needed if np.isfinite(needed) else (cfg.answer.max_seeds if needed == math.inf else cfg.answer.min_seeds),
                    cfg.answer.min_seeds, cfg.answer.max_seeds))
    rule = (f"{n} seeds per condition by the declared power rule: a paired t-test with {cfg.answer.power:g} power at the margin "
            f"+-{cfg.margin:g} and alpha {ALPHA:g}/{n_variations}, the pilot being the search's paired sd of {metric} "
            f"(chosen - none, {len(diff)} pairs; the largest of its variations', {noisiest}: {sd:.4f}) -> {needed:g}"
            f"{' (no spread: the fewest)' if math.isnan(needed) else ''}, clipped to [{cfg.answer.min_seeds}, {cfg.answer.max_seeds}]")
    return n, rule


def phase(cfg: DictConfig, folder: Path, validation_only: bool) -> tuple[pd.DataFrame, float]:
    """One phase's runs: read back when `folder` holds this config's runs (resumed), else trained and written."""
    from weightreg.train import run_study
    from weightreg.conditions import plain
    from weightreg.record import trained_settings

    record = folder / "run.json"
    if record.is_file():
        written = json.loads(record.read_text())
        if written.get("study_config") != plain(trained_settings(cfg)):  # run.json records all but the report block
            raise ConfigError(f"{folder}: holds runs of another config (the study file changed since); expected this "
                              "config's runs: remove the folder or answer into another (hydra.run.dir=...)")
        say(f"{folder.name}: read back from {folder} (already written)")
        return pd.read_csv(folder / "runs.csv"), written["wall_seconds"]
    runs = run_study(cfg, folder, folder.parent / ".checkpoints" / folder.name, validation_only=validation_only)
    return runs, json.loads(record.read_text())["wall_seconds"]


def answer(cfg: DictConfig, out: Path) -> dict:
    """Search, choose, size, confirm; writes search/, confirm/, answer.json and report/ into `out`."""
    from weightreg.aggregate import aggregate_study
    from weightreg.artifacts import write_json
    from weightreg.conditions import conditions

    search = search_config(cfg)
    candidates = [c for c in conditions(search) if c.name != BASELINE]
    say(f"search: {len(candidates)} candidate(s) and no penalty x {search.n_seeds} seeds ({search.seed}.."
        f"{search.seed + search.n_seeds - 1}) x {len(search.variations)} variation(s), {cfg.objective} on validation data")
    search_runs, search_seconds = phase(search, out / "search", validation_only=True)
    trace = search_table(search_runs, cfg.objective)
    chosen = choose(trace, cfg.objective)
    warning = flat_warning(trace, chosen, cfg.objective)
    if warning:
        say(warning)
    variations = confirm_variations(cfg)
    n, rule = confirmation_size(cfg, search_runs, chosen.condition, len(variations))
    condition = next(c for c in candidates if c.name == chosen.condition)
    confirm = confirm_config(cfg, condition, n)
    check_fresh_draws(cfg, confirm)
    say(f"confirm: {chosen.condition} against no penalty on {n} fresh seeds ({confirm.seed}..{confirm.seed + n - 1}); {rule}")
    _, confirm_seconds = phase(confirm, out / "confirm", validation_only=False)
    comparisons = pd.read_csv(out / "confirm" / "comparisons.csv") if (out / "confirm" / "comparisons.csv").is_file() else None
    if comparisons is None:
        aggregate_study(out / "confirm", out / "confirm" / "metrics.json", cfg.margin)
        comparisons = pd.read_csv(out / "confirm" / "comparisons.csv")
    result = {
        "study": cfg.study, "objective": cfg.objective, "chosen": chosen.condition, "candidates": [c.name for c in candidates],
        "search_seeds": list(range(search.seed, search.seed + search.n_seeds)),
        "confirm_seeds": list(range(confirm.seed, confirm.seed + n)), "confirm_variations": variations,
        "size_rule": rule, "flat_warning": warning, "margin": cfg.margin,
        "wall_seconds": round(search_seconds + confirm_seconds, 1),
        "search": trace.to_dict("records"),
    }
    result["paragraph"] = paragraph(result, comparisons)
    write_json(result, out / "answer.json")
    write_answer_report(out, out / "report")
    return result


def paragraph(result: dict, comparisons: pd.DataFrame) -> str:
    """The answer in one paragraph: the choice, the headline effect with its 95% and 90% intervals, the verdict, seeds."""
    from weightreg.figures import VARIATION_TEXT, label
    from weightreg.report_text import signed
    from weightreg.verdicts import headline

    row = headline(comparisons)
    search, confirm = result["search_seeds"], result["confirm_seeds"]
    others = [f"{VARIATION_TEXT[r.variation]}: {r.verdict} ({signed(r.diff_mean)})" for r in
              comparisons[(comparisons.metric == row.metric) & (comparisons.variation != row.variation)].itertuples()]
    flat = " The search's objective was flat (see the warning)." if result["flat_warning"] else ""
    return (f"{result['study']}: the search chose {label(result['chosen'])} among {len(result['candidates'])} candidate(s) "
            f"and no penalty, by mean {result['objective']} on validation data over seeds {search[0]}..{search[-1]}.{flat} "
            f"Against no penalty on {len(confirm)} fresh seeds {confirm[0]}..{confirm[-1]} (disjoint from the search's), "
            f"{VARIATION_TEXT[row.variation]}: {row.metric} {signed(row.diff_mean)}, 95% [{signed(row.diff_ci_low)}, "
            f"{signed(row.diff_ci_high)}], 90% [{signed(row.diff_ci90_low)}, {signed(row.diff_ci90_high)}]: {row.verdict} "
            f"(margin +-{result['margin']:g}, Holm over {int(row.family_size)})"
            + (f"; {'; '.join(others)}" if others else "") + f". {result['size_rule']}. "
            f"Wall time of the training: {result['wall_seconds']:.0f} s.")


def write_answer_report(folder: Path, out: Path) -> None:
    """The answer's report: the paragraph, answer table and forest plot; the search trace; the confirmation's study."""
    from weightreg.folder_report import folder_sections, write_report
    from weightreg.render import Section
    from weightreg.report import environment_section
    from weightreg.report_text import fmt

    result = json.loads((folder / "answer.json").read_text())
    sections, names = folder_sections(folder / "confirm", out)
    sections[0].paragraphs[:0] = [result["paragraph"], result["flat_warning"], DISJOINT]
    trace = pd.DataFrame(result["search"])[["condition", "strength", "n", "mean", "sd", "diff_mean", "diff_se"]]
    search = Section("Search", [
        f"Candidates scored on validation data only ({result['objective']}; the search's trainers never held the test "
        f"arrays), seeds {result['search_seeds'][0]}..{result['search_seeds'][-1]}; confirmation seeds "
        f"{result['confirm_seeds'][0]}..{result['confirm_seeds'][-1]}. {DISJOINT} Flat objective: the chosen candidate's "
        f"mean paired difference from no penalty under {FLAT_SE:g} of its standard errors. Size: {result['size_rule']}.",
        result["flat_warning"]])
    search.tables.append(("Search trace: per candidate the mean and sd of the objective over the search runs, and its "
                          "paired difference from no penalty with its standard error.", fmt(trace)))
    path = out / "figures" / "search_trace.png"
    search_figure(trace, result["objective"], result["chosen"], path)
    search.figures.append(("Search trace: mean objective per candidate +- 2 standard errors of the paired difference", str(path.relative_to(out))))
    records = [json.loads((out / "studies" / name / "run.json").read_text()) for name in names]
    write_report([sections[0], search, *sections[1:], environment_section(records)], out, f"{result['study']}: answer",
                 f"Every number below is computed from `{folder}` (search/ and confirm/).")


def search_figure(trace: pd.DataFrame, objective: str, chosen: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    from weightreg.figures import label, save_figure

    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.4 * len(trace)))
    base = trace[trace.condition == BASELINE]["mean"].iloc[0]
    ys = np.arange(len(trace))
    ax.errorbar(base + trace.diff_mean, ys, xerr=FLAT_SE * trace.diff_se.fillna(0), fmt="o", capsize=3)
    ax.plot(base + trace.diff_mean[trace.condition == chosen], ys[trace.condition == chosen], "o", color="tab:green", markersize=10, label="chosen")
    ax.axvline(base, color="grey", linestyle="--", label="no penalty")
    ax.set_yticks(ys, [label(c) for c in trace.condition], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=f"{objective} (validation), mean over search runs")
    ax.legend(fontsize=8)
    save_figure(fig, path)


@hydra.main(version_base="1.3", config_path="../../conf", config_name="answer_config")
def main(composed: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from weightreg.schema import from_mapping
    from weightreg.errors import exit_on_error

    with exit_on_error():
        cfg = from_mapping(composed)
        out = Path(HydraConfig.get().runtime.output_dir)
        start = time.perf_counter()
        result = answer(cfg, out)
        print(result["paragraph"])
        print(f"wrote {out}/answer.json, {out}/report/report.html ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
