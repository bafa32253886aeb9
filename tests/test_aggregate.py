"""Aggregation and the report on small synthetic results tables (no training)."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from weightreg.config import from_mapping
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
                    "train/accuracy": 1.0, "test/accuracy": acc, "train/loss": 0.01, "test/loss": 1 - acc,
                    "weights/l2/all_kernels": 5.0 - 10 * shift, "fit_seconds": 0.1,
                })
    return pd.DataFrame(rows)


def synthetic_study(folder, study="moons_case_study"):
    folder.mkdir(parents=True)
    runs = synthetic_runs(study)
    runs.to_csv(folder / "runs.csv", index=False)
    epochs = [1, 11, 21]
    histories = pd.DataFrame([
        {"condition": r.condition, "variation": r.variation, "seed": r.seed, "epoch": e, "metric": m, "value": 0.5 + e / 50}
        for r in runs.itertuples() for e in epochs for m in ("train/loss", "train/accuracy", "test/loss", "test/accuracy")
    ])
    histories.to_csv(folder / "histories.csv.gz", index=False)
    grid = np.array([(x, y) for x in (0.0, 1.0) for y in (0.0, 1.0)])
    pd.DataFrame([{"condition": c, "variation": v, "x": x, "y": y, "probability": x}
                  for c in ("none", "l2_0.001") for v in ("model", "data+model") for x, y in grid]).to_csv(folder / "surfaces.csv.gz", index=False)
    config = OmegaConf.to_container(from_mapping({"n_seeds": len(SEEDS), "train": {"epochs": 21}}), enum_to_str=True)
    (folder / "run.json").write_text(json.dumps({
        "study": study, "config": config, "config_hash": "abc", "seeds": list(SEEDS), "wall_seconds": 2.4,
        "versions": {"python": "3.11"}, "machine": {"cpus": "2"}, "determinism": {"op_determinism": True}}))


def test_summary_and_paired_comparison_by_hand():
    runs = synthetic_runs()
    summary = summary_table(runs).set_index(["condition", "variation", "metric"])
    cell = summary.loc[("l2_0.001", "model", "test/accuracy")]
    assert cell["mean"] == pytest.approx(0.93)  # 0.92 + mean(0, .01, .02)
    assert cell["n"] == 12
    comparisons = comparison_table(runs).set_index(["condition", "variation", "metric"])
    paired = comparisons.loc[("l2_0.001", "model", "test/accuracy")]
    assert paired["diff_mean"] == pytest.approx(0.02)
    assert paired["p_improvement"] == 1.0
    assert paired["p_holm"] >= paired["p_wilcoxon"]


def test_aggregate_writes_tables_and_metrics(tmp_path):
    synthetic_study(tmp_path / "results" / "moons_case_study")
    aggregate_study(tmp_path / "results" / "moons_case_study", tmp_path / "metrics.json")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["l2_0.001"]["model"]["test/accuracy"]["mean"] == pytest.approx(0.93)
    curves = pd.read_csv(tmp_path / "results" / "moons_case_study" / "curves.csv")
    assert "test/accuracy|none|model" in curves.columns


def test_multirun_folder_keeps_one_copy_of_each_run(tmp_path, capsys):
    for job in ("regularizer=l1", "regularizer=l2"):  # both jobs hold the same baseline runs
        (tmp_path / job).mkdir()
        synthetic_runs().to_csv(tmp_path / job / "runs.csv", index=False)
    main([str(tmp_path)])
    assert len(pd.read_csv(tmp_path / "all_runs.csv")) == len(synthetic_runs())
    assert "l2_0.001" in capsys.readouterr().out


def test_report_from_synthetic_results(tmp_path):
    folder = tmp_path / "results" / "moons_case_study"
    synthetic_study(folder)
    aggregate_study(folder, tmp_path / "metrics.json")
    build_report(tmp_path / "results", tmp_path / "reports")
    report = (tmp_path / "reports" / "report.md").read_text()
    # published 0.943 against our 0.93 +- prediction interval: sd of (0.92, .93, .94) repeated, n 12
    published = report.split("## moons_case_study")[0]
    assert "| moons_case_study | l2_0.001    | test/accuracy  |               0.943 |" in published
    assert "inside" in published
    assert "the highest mean test accuracy is 0.930" in report
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
        "metric": ["test/accuracy"] * 4,
        "strength": [0.0, 0.001, 0.01, 0.01],
        "mean": [0.99, 0.91, 0.90, 0.95],
    })
    rule = OmegaConf.create({"study": "g", "metric": "test/accuracy", "variation": "data+model",
                             "axis": "regularizer.strength", "multipliers": [1, 2.5, 9]})
    assert refined_values(summary, rule) == [0.001, 0.0025, 0.009]


BROWSER_PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images];
  const shown = images.filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100);
  document.title = `images ${shown.length}/${images.length} decoded`;
});</script>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_headless_browser_decodes_every_figure_of_the_html_report(tmp_path):
    """Open report.html as a reader would (headless Chromium) and count the figures that actually decode."""
    folder = tmp_path / "results" / "moons_case_study"
    synthetic_study(folder)
    aggregate_study(folder, tmp_path / "metrics.json")
    build_report(tmp_path / "results", tmp_path / "reports")
    page = tmp_path / "probe.html"
    html = (tmp_path / "reports" / "report.html").read_text()
    page.write_text(html.replace("</body>", BROWSER_PROBE + "</body>"))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    n = html.count("<img")
    assert n >= 5 and f"<title>images {n}/{n} decoded</title>" in dom
