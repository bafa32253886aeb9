"""Aggregation and the report on small synthetic results tables (no training)."""

import json
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from conftest import ROOT
from omegaconf import OmegaConf

from weightreg.validation import from_mapping
from weightreg.errors import ConfigError, DataError
from weightreg.aggregate import aggregate_study, comparison_table, main, summary_table
from weightreg.report import build_report

SEEDS = range(12)


def synthetic_runs(study="moons_case_study"):
    rows = []
    for condition, shift in (("none", 0.0), ("l2_0.001", 0.02)):
        for variation in ("model", "data+model"):
            for seed in SEEDS:
                acc = 0.90 + shift + 0.01 * (seed % 3)
                rows.append({
                    "study": study, "condition": condition, "model": "mlp",
                    "regularizer": "none" if condition == "none" else "l2",
                    "strength": 0.0 if condition == "none" else 0.001, "l1": 0.0, "l2": 0.0 if condition == "none" else 0.001,
                    "placement": "" if condition == "none" else "kernel", "schedule": False,
                    "seed": seed, "data_seed": 1 if variation == "model" else seed, "variation": variation,
                    "test/n": 70, "train/accuracy": 1.0, "val/accuracy": acc - 0.01, "test/accuracy": acc,
                    "train/loss": 0.01, "val/loss": 1.01 - acc, "test/loss": 1 - acc,
                    "weights/l2/hidden_0": 4.0 - 100 * shift, "weights/l2/output": 3.0 + 10 * shift,
                    "weights/l2/all_kernels": 5.0 - 10 * shift,
                })
    return pd.DataFrame(rows)


def synthetic_study(folder, study="moons_case_study"):
    folder.mkdir(parents=True)
    runs = synthetic_runs(study)
    runs.to_csv(folder / "runs.csv", index=False)
    epochs = [1, 8, 15, 21]
    histories = pd.DataFrame([
        {"condition": r.condition, "variation": r.variation, "seed": r.seed, "epoch": e, "metric": m, "value": 0.5 + e / 50}
        for r in runs.itertuples() for e in epochs for m in ("train/loss", "train/accuracy", "val/loss", "val/accuracy")
    ])
    histories.to_csv(folder / "histories.csv.gz", index=False)
    grid = np.array([(x, y) for x in (0.0, 1.0) for y in (0.0, 1.0)])
    pd.DataFrame([{"condition": c, "variation": v, "x": x, "y": y, "probability": x}
                  for c in ("none", "l2_0.001") for v in ("model", "data+model") for x, y in grid]).to_csv(folder / "surfaces.csv.gz", index=False)
    published = OmegaConf.load(ROOT / "conf" / "experiment" / f"{study}.yaml").get("published")  # the study's own source
    config = OmegaConf.to_container(from_mapping({"n_seeds": len(SEEDS), "train": {"epochs": 21}, "published": published}), enum_to_str=True)
    (folder / "run.json").write_text(json.dumps({
        "study": study, "config": config, "config_hash": "abc", "seeds": list(SEEDS), "wall_seconds": 2.4,
        "versions": {"python": "3.11"}, "machine": {"cpus": "2"}, "determinism": {"op_determinism": True}}))


def test_summary_and_paired_comparison_by_hand():
    runs = synthetic_runs()
    summary = summary_table(runs).set_index(["condition", "variation", "metric"])
    cell = summary.loc[("l2_0.001", "model", "test/accuracy")]
    assert cell["mean"] == pytest.approx(0.93)  # 0.92 + mean(0, .01, .02)
    assert cell["n"] == 12
    comparisons = comparison_table(runs, margin=1 / 70).set_index(["condition", "variation", "metric"])
    paired = comparisons.loc[("l2_0.001", "model", "test/accuracy")]
    assert paired["diff_mean"] == pytest.approx(0.02)
    # every seed +0.02: the exact sign-flip p is 2 / 2^12; Holm over the 2 accuracy comparisons doubles it
    assert paired["p_value"] == pytest.approx(2 / 2**12, rel=1e-12)
    assert paired["p_holm"] == pytest.approx(4 / 2**12, rel=1e-12)
    # A = 0.92/0.93/0.94 against B = 0.90/0.91/0.92 over all pairs: (2.5 + 3 + 3) / 9, ties counting one half
    assert paired["prob_improvement"] == pytest.approx(8.5 / 9)
    assert paired["verdict"] == "better"
    loss = comparisons.loc[("l2_0.001", "model", "test/loss")]
    assert loss["verdict"] == "better" and loss["diff_mean"] == pytest.approx(-0.02)  # lower loss is better
    assert set(comparisons.columns) >= {"diff_mean", "diff_ci_low", "diff_ci_high", "p_value", "p_holm", "prob_improvement",
                                        "prob_improvement_low", "prob_improvement_high", "eps_min", "margin", "p_tost",
                                        "mde", "verdict"}


def test_an_inconclusive_comparison_never_asks_for_fewer_seeds_than_it_ran():
    """Seeds that alternate +-2 points around no difference: inconclusive. Loss has no declared margin, so no
    seed count follows from its spread; where a count is named as enough to decide, it exceeds the seeds run."""
    runs = synthetic_runs()
    penalized = runs.condition == "l2_0.001"
    alternating = np.where(runs.seed % 2 == 0, 1.0, -1.0)
    runs.loc[penalized, "test/accuracy"] = runs.loc[~penalized, "test/accuracy"].to_numpy() + 2 / 70 * alternating[penalized]
    runs.loc[penalized, "test/loss"] = runs.loc[~penalized, "test/loss"].to_numpy() + 0.02 * alternating[penalized]
    comparisons = comparison_table(runs, margin=1 / 70)
    inconclusive = comparisons[comparisons.verdict == "inconclusive"]
    assert set(inconclusive.metric) == {"test/accuracy", "test/loss"}
    # the count, by hand: a paired t-test at Holm's first step of the 2 accuracy comparisons (0.05 / 2) finds one
    # margin with 80% power and shows a zero difference equivalent with 80% power once margin / (sd / sqrt(n))
    # reaches max(t_(1 - a/2) + t_0.8, t_(1 - a) + t_0.9) at n - 1 degrees of freedom
    sd, margin, a = 2 / 70 * np.sqrt(12 / 11), 1 / 70, 0.025
    t = scipy_stats.t.ppf
    expected = next(n for n in range(2, 1000) if margin / (sd / np.sqrt(n)) >= max(t(1 - a / 2, n - 1) + t(0.8, n - 1),
                                                                                     t(1 - a, n - 1) + t(0.9, n - 1)))
    assert expected == 48  # normal approximation: (3.24 * 2.09)^2 = 45.9, plus the t correction
    for row in inconclusive.itertuples():
        if row.metric == "test/loss":
            assert "no declared margin" in row.note and "would decide" not in row.note, row.note
        else:
            assert row.seeds_needed == expected, row
            assert f"about {expected} seeds per condition would decide" in row.note, row.note


def test_a_diverged_run_scores_the_worst_outcome_and_never_helps_its_condition():
    runs = synthetic_runs()
    runs["diverged"] = False
    # the penalized model is 2 points better on every seed but diverged on two seeds of `model`
    broken = (runs.condition == "l2_0.001") & (runs.variation == "model") & runs.seed.isin([0, 1])
    runs.loc[broken, "diverged"] = True
    runs.loc[broken, ["test/accuracy", "test/loss"]] = np.nan
    row = comparison_table(runs, margin=1 / 70).set_index(["condition", "variation", "metric"]).loc[("l2_0.001", "model", "test/accuracy")]
    # the two diverged seeds score accuracy 0 against the baseline's 0.90 and 0.91: dropping them would leave +0.02
    assert row["n"] == 12 and row["n_diverged"] == 2
    assert row["diff_mean"] == pytest.approx((10 * 0.02 - 0.90 - 0.91) / 12)
    assert row["verdict"] == "inconclusive" and "2 diverged run(s) scored as the worst outcome" in row["note"]
    loss = comparison_table(runs, margin=1 / 70).set_index(["condition", "variation", "metric"]).loc[("l2_0.001", "model", "test/loss")]
    worst = runs.loc[~runs.diverged & (runs.variation == "model"), "test/loss"].max()  # the worst loss any finished run had
    assert loss["diff_mean"] == pytest.approx(((1 - 0.92 - 0.10) * 0 + (worst - 0.10) + (worst - 0.09) + 10 * -0.02) / 12)


def test_a_comparison_without_a_tost_p_leaves_holm_on_the_others():
    runs = synthetic_runs()
    table = comparison_table(runs, margin=1 / 70)
    accuracy = table[table.metric == "test/accuracy"]
    assert accuracy.p_tost.notna().all()
    from weightreg.verdicts import holm_where_finite

    adjusted = holm_where_finite(np.array([0.01, np.nan, 0.02]))
    assert adjusted[0] == pytest.approx(0.02) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_fixed_test_set_rows_count_seeds_and_test_points_and_refuse_misaligned_points():
    runs = synthetic_runs()
    rng = np.random.default_rng(0)
    correct = np.zeros((len(runs), 70), dtype=bool)
    for i, acc in enumerate(runs["test/accuracy"]):  # each run right on round(acc * 70) points, spread at random
        correct[i, rng.permutation(70)[: round(acc * 70)]] = True
    runs["test/accuracy"] = correct.mean(axis=1)
    table = comparison_table(runs, margin=1 / 70, correct=correct).set_index(["condition", "variation", "metric"])
    fixed, redrawn = table.loc[("l2_0.001", "model", "test/accuracy")], table.loc[("l2_0.001", "data+model", "test/accuracy")]
    assert fixed["unit"] == "seeds x test points" and fixed["test_points"] == 70 and fixed["p_method"].startswith("crossed")
    assert redrawn["unit"] == "seeds" and redrawn["p_method"].startswith("sign-flip")
    assert fixed["prob_unit"] == "seeds"
    with pytest.raises(DataError, match=r"correct.npz: 47 rows for 48 runs in runs.csv; expected one row per run"):
        comparison_table(runs, margin=1 / 70, correct=correct[:-1])


def test_imdb_redrawn_splits_share_one_test_set_so_their_rows_count_test_points_too(tmp_path):
    """IMDB's data+model redraws the training/validation split, never the test reviews: its rows are analysed over
    seeds x test points; moons' data+model redraws the test points as well: over seeds."""
    from weightreg.aggregate import one_test_set

    for name, expected in (("imdb", ("model", "data+model")), ("moons", ("model",))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"config": {"data": {"name": name}}}))
        assert one_test_set(tmp_path / name) == expected
    assert one_test_set(tmp_path / "no_run_json") == ("model",)
    runs = synthetic_runs()
    correct = np.random.default_rng(1).random((len(runs), 70)) < runs["test/accuracy"].to_numpy()[:, None]
    runs["test/accuracy"] = correct.mean(axis=1)
    table = comparison_table(runs, 1 / 70, correct, one_test_set(tmp_path / "imdb")).set_index(["condition", "variation", "metric"])
    assert table.loc[("l2_0.001", "data+model", "test/accuracy"), "unit"] == "seeds x test points"


def test_aggregate_writes_tables_and_metrics(tmp_path):
    synthetic_study(tmp_path / "results" / "moons_case_study")
    aggregate_study(tmp_path / "results" / "moons_case_study", tmp_path / "metrics.json", margin=1 / 70)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    comparisons = pd.read_csv(tmp_path / "results" / "moons_case_study" / "comparisons.csv")
    row = comparisons[(comparisons.metric == "test/accuracy") & (comparisons.variation == "data+model")].iloc[0]
    assert metrics == {"metric": "test/accuracy", "no_penalty": pytest.approx(0.91), "headline": "l2_0.001 (data+model)",
                       "effect": pytest.approx(row.diff_mean), "low": pytest.approx(row.diff_ci_low),
                       "high": pytest.approx(row.diff_ci_high), "p_holm": pytest.approx(row.p_holm), "verdict": row.verdict,
                       "better": 2, "worse": 0, "equivalent": 0, "inconclusive": 0}
    curves = pd.read_csv(tmp_path / "results" / "moons_case_study" / "curves.csv")
    assert "val/accuracy|none|model" in curves.columns


def test_multirun_folder_keeps_one_copy_of_each_run(tmp_path, capsys):
    for job in ("regularizer=l1", "regularizer=l2"):  # both jobs hold the same baseline runs
        (tmp_path / job).mkdir()
        synthetic_runs().to_csv(tmp_path / job / "runs.csv", index=False)
    main([str(tmp_path), "--margin", "0.02"])
    assert len(pd.read_csv(tmp_path / "all_runs.csv")) == len(synthetic_runs())
    assert "l2_0.001" in capsys.readouterr().out


def test_runs_without_a_declared_margin_need_one_on_the_command_line(tmp_path, capsys):
    synthetic_runs().to_csv(tmp_path / "runs.csv", index=False)  # no run.json beside it
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path)])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path}: no run.json beside the runs declares a margin; pass --margin "
                                               "(the equivalence margin, in the task's metric)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["runs.csv"]  # nothing written


def test_report_from_synthetic_results(tmp_path):
    folder = tmp_path / "results" / "moons_case_study"
    synthetic_study(folder)
    aggregate_study(folder, tmp_path / "metrics.json", margin=1 / 70)
    block = OmegaConf.load(ROOT / "conf" / "experiment" / "moons_case_study.yaml").report  # the study's own question and figures
    build_report(tmp_path / "results", tmp_path / "reports", reports={"moons_case_study": block})
    report = (tmp_path / "reports" / "report.md").read_text()
    summary = report.split("## Published vs reproduced")[0]
    assert "**moons_case_study**: Does L2(0.001)" in summary
    assert "L2 0.001 better +0.0200 [95%: +0.0200, +0.0200]" in summary
    # published 0.943 = 66 of 70 points; our seeds score 64, 65, 66 (0.92/0.93/0.94), 4 of 12 exactly 66
    published = report.split("## Published vs reproduced")[1].split("## moons_case_study")[0]
    row = next(line for line in published.splitlines() if "| L2 0.001" in line and "test/accuracy" in line)
    assert "0.943 = 66/70" in row and "4 of 12" in row and "[64, 66] of 70" in row and row.rstrip(" |").endswith("inside")
    assert "moons_case_study__forest.png" in report
    figures = [line for line in report.splitlines() if line.startswith("![")]
    assert len(figures) >= 5
    for line in figures:
        assert (tmp_path / "reports" / line.split("](")[1].rstrip(")")).is_file()
    html = (tmp_path / "reports" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(figures)


def test_refine_rule_takes_the_best_regularized_decade_and_ignores_the_baseline():
    from omegaconf import OmegaConf

    from weightreg.refine import refined_values

    summary = pd.DataFrame({
        "condition": ["none", "l2_0.001", "l2_0.01", "l2_0.01"],
        "variation": ["data+model", "data+model", "data+model", "model"],
        "metric": ["val/accuracy"] * 4,
        "strength": [0.0, 0.001, 0.01, 0.01],
        "mean": [0.99, 0.91, 0.90, 0.95],
    })
    rule = OmegaConf.create({"study": "g", "metric": "val/accuracy", "variation": "data+model",
                             "axis": "regularizer.strength", "multipliers": [0.2, 1, 9]})
    assert refined_values(summary, rule) == [0.0002, 0.001, 0.009]


def test_selection_never_reads_test_data():
    """Poisoning every test accuracy (best for the worst strength) leaves the chosen strength unchanged."""
    from omegaconf import OmegaConf

    from weightreg.refine import refined_values

    runs = synthetic_runs()
    for strength, shift in ((0.01, -0.05), (0.0001, 0.03)):
        extra = synthetic_runs().query("condition == 'l2_0.001'").assign(
            condition=f"l2_{strength:g}", strength=strength, l2=strength)
        extra["val/accuracy"] += shift
        runs = pd.concat([runs, extra], ignore_index=True)
    summary = summary_table(runs)
    rule = OmegaConf.create({"study": "g", "metric": "val/accuracy", "variation": "data+model",
                             "axis": "regularizer.strength", "multipliers": [1]})
    chosen = refined_values(summary, rule)
    poisoned = summary.copy()
    test_rows = poisoned.metric.str.startswith("test/")
    poisoned.loc[test_rows, "mean"] = np.where(poisoned.loc[test_rows, "condition"] == "l2_0.01", 1.0, 0.0)
    assert chosen == [0.0001] and refined_values(poisoned, rule) == chosen
    with pytest.raises(ConfigError, match="refine.metric='test/accuracy': a selection must not read test data"):
        from_mapping({"refine": {"study": "g", "metric": "test/accuracy"}})


BROWSER_PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images];
  const shown = images.filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100);
  document.title = `images ${shown.length}/${images.length} decoded`;
});</script>"""


NO_BROWSER = pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (.ci/run installs it; under CI this test fails instead)")

FIRST_SCREEN_PROBE = """<script>window.addEventListener('load', () => {
  const text = document.body.innerText;
  const table = document.querySelector('#answer ~ table, table');
  const figure = document.images[0];
  const facts = [
    `overflow ${document.documentElement.scrollWidth > window.innerWidth}`,
    `stars ${text.includes('**')}`, `backticks ${text.includes('`')}`,
    `table ${Math.round(table.getBoundingClientRect().bottom) <= window.innerHeight}`,
    `figure ${figure.complete && figure.naturalWidth > 100 && Math.round(figure.getBoundingClientRect().top) < window.innerHeight}`];
  document.title = facts.join(' ');
});</script>"""


@NO_BROWSER
def test_the_first_screen_shows_the_answer_table_and_figure_with_no_literal_markdown_or_overflow(tmp_path):
    """report.html at 1400 x 1000 in headless Chromium: the answer table ends and the cross-study forest plot
    begins on the first screen; no `**` or backtick is left as text; nothing is wider than the window."""
    for study in ("moons_case_study", "moons_l2_grid"):
        synthetic_study(tmp_path / "results" / study, study)
        aggregate_study(tmp_path / "results" / study, tmp_path / f"{study}.json", margin=1 / 70)
    build_report(tmp_path / "results", tmp_path / "reports")
    page = tmp_path / "reports" / "probe.html"
    page.write_text((tmp_path / "reports" / "report.html").read_text().replace("</body>", FIRST_SCREEN_PROBE + "</body>"))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "<title>overflow false stars false backticks false table true figure true</title>" in dom


@NO_BROWSER
def test_headless_browser_decodes_every_figure_of_the_html_report(tmp_path):
    """Open report.html as a reader would (headless Chromium) and count the figures that actually decode."""
    folder = tmp_path / "results" / "moons_case_study"
    synthetic_study(folder)
    aggregate_study(folder, tmp_path / "metrics.json", margin=1 / 70)
    build_report(tmp_path / "results", tmp_path / "reports")
    page = tmp_path / "probe.html"
    html = (tmp_path / "reports" / "report.html").read_text()
    page.write_text(html.replace("</body>", BROWSER_PROBE + "</body>"))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    n = html.count("<img")
    assert n >= 5 and f"<title>images {n}/{n} decoded</title>" in dom


def test_aggregate_command_gives_the_exact_p_value_on_tied_zero_heavy_runs(tmp_path):
    """30 seeds on one fixed test set of 70 points: 25 tie with the baseline, 5 score one point more."""
    runs = synthetic_runs().query("variation == 'model'").copy()
    runs = pd.concat([runs.assign(seed=runs.seed + 12 * k) for k in range(3)], ignore_index=True).query("seed < 30")
    runs["test/accuracy"] = 64 / 70
    runs.loc[(runs.condition == "l2_0.001") & (runs.seed < 5), "test/accuracy"] = 65 / 70
    runs.to_csv(tmp_path / "runs.csv", index=False)
    main([str(tmp_path), "--margin", str(1 / 70)])
    table = pd.read_csv(tmp_path / "all_comparisons.csv").set_index("metric")
    row = table.loc["test/accuracy"]
    assert row["n"] == 30 and row["p_value"] == pytest.approx(2 / 2**5, rel=1e-12)  # scipy's Wilcoxon: 0.025
    # not better (p 0.0625), but the mean difference, 5/30 of a point, lies well inside the one-point margin
    assert row["p_method"] == "sign-flip over seeds (exact)" and row["p_tost"] < 0.05 and row["verdict"] == "equivalent"
    assert {"diff_mean", "diff_ci_low", "diff_ci_high", "p_value", "p_holm", "prob_improvement", "prob_improvement_low",
            "prob_improvement_high", "eps_min", "margin", "p_tost", "mde", "verdict"} <= set(table.columns)


def test_an_interval_end_that_excludes_zero_never_reads_as_zero():
    from types import SimpleNamespace

    from weightreg.report_text import effect_text

    row = SimpleNamespace(verdict="worse", diff_mean=-0.00203, diff_ci_low=-0.00393, diff_ci_high=-1.975e-05)
    assert effect_text(row) == "-0.0020 [95%: -0.0039, -2.0e-05]"
    # an equivalence is shown with the interval that decided it, the 90% one
    equivalent = SimpleNamespace(verdict="equivalent", diff_mean=0.0, diff_ci_low=-0.0004, diff_ci_high=0.0004,
                                 diff_ci90_low=-0.0003, diff_ci90_high=0.0003)
    assert effect_text(equivalent) == "+0.0000 [90%: -0.0003, +0.0003]"


def test_the_same_results_give_byte_identical_reports_and_figures(tmp_path):
    """Whatever NumPy's global generator holds (seaborn's strip jitter draws from it), a rebuilt report is
    byte for byte the one before, so `dvc repro` of unchanged results changes no report file."""
    folder = tmp_path / "results" / "moons_case_study"
    synthetic_study(folder)
    aggregate_study(folder, tmp_path / "metrics.json", margin=1 / 70)
    built = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        out = tmp_path / f"reports_{global_seed}"
        build_report(tmp_path / "results", out)
        built.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert any(name.name.endswith("__layer_norms.png") for name in built[0])
    assert built[0].keys() == built[1].keys()
    assert [name for name in built[0] if built[0][name] != built[1][name]] == []


def test_a_difference_inside_the_margin_says_so_in_its_note_and_the_summary():
    """Worse (Holm p < 0.05, interval below 0) and, by TOST, inside the +-0.005 margin: the verdict stays
    worse, and the note, the summary and the literature table say the difference is smaller than the study
    counts as mattering."""
    from weightreg.report_text import literature_table, summary_lines
    from weightreg.verdicts import decide

    base = {"variation": "model", "metric": "test/accuracy", "n": 20, "diff_sd": 0.004, "margin": 0.005, "min_p": 1e-6,
            "unit": "seeds", "var_seeds": 0.004**2, "se": 0.004 / np.sqrt(20)}
    table = decide(pd.DataFrame([
        {**base, "condition": "l2_0.00025", "diff_mean": -0.0020, "diff_ci_low": -0.0039, "diff_ci_high": -2e-5,
         "diff_ci90_low": -0.0036, "diff_ci90_high": -0.0004, "p_value": 0.003, "p_tost": 0.003},
        {**base, "condition": "l2_0.1", "diff_mean": -0.0400, "diff_ci_low": -0.0480, "diff_ci_high": -0.0320,
         "diff_ci90_low": -0.0470, "diff_ci90_high": -0.0330, "p_value": 1e-6, "p_tost": 1.0},
    ]))
    assert list(table.verdict) == ["worse", "worse"]
    assert table.note[0].startswith("a difference, but inside the declared margin of +-0.005") and table.note[1] == ""
    line = summary_lines("imdb_cnn", table, {})[1]
    assert "L2 0.00025 worse -0.0020 [95%: -0.0039, -2.0e-05], inside the +-0.005 margin;" in line
    assert line.endswith("L2 0.1 worse -0.0400 [95%: -0.0480, -0.0320]).")
    literature = literature_table({"imdb_cnn": table}, {"imdb_cnn": {"l2_0.00025": "a source", "l2_0.1": "another"}})
    assert list(literature.verdict) == ["worse, inside the +-0.005 margin", "worse"]


def test_a_run_line_counts_in_words_that_agree_with_the_number():
    from weightreg.report_text import counted

    assert [counted(1, "variation"), counted(2, "variation"), counted(0, "seed")] == ["1 variation", "2 variations", "0 seeds"]
