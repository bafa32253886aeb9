"""The report's figures: learning curves, strength curves, per-condition strips, decision surfaces, confusion
matrices and forest plots of the paired differences, each saved atomically as a PNG.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import matplotlib
import matplotlib.lines
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy import stats  # noqa: E402

from weightreg.aggregate import primary_metric  # noqa: E402
from weightreg.config import BASELINE  # noqa: E402
from weightreg.artifacts import atomic_path  # noqa: E402

VARIATION_TEXT = {
    "model": "fixed data (seeds vary the model only)",
    "data+model": "redrawn data (a new draw per seed)",
}
sns.set_theme(style="whitegrid", context="notebook")


def label(condition: str) -> str:
    """A reader's name for a condition id, e.g. `l2_1e-06@kernel+recurrent` -> `L2 1e-06 on kernel + recurrent`."""
    if condition == BASELINE:
        return "no penalty"
    parts = []
    for term in condition.split("&"):
        name, _, placement = term.partition("@")
        scheduled = name.endswith("~schedule")
        name = name.removesuffix("~schedule")
        match = re.fullmatch(r"(l1_l2|l1|l2|adamw)_(.+)", name)
        kind, strength = (match.group(1), match.group(2)) if match else (name, "")
        text = {"l1": f"L1 {strength}", "l2": f"L2 {strength}", "adamw": f"AdamW decay {strength}",
                "l1_l2": "L1L2({})".format(strength.replace("+", ", "))}.get(kind, name)
        if scheduled:
            text = f"{text.split()[0]} schedule ending at {strength}"
        parts.append(text + (" on " + placement.replace("+", " + ") if placement else ""))
    return "; ".join(parts)


def file_safe(text: str) -> str:
    """A condition id as part of a file name: globs, colons and the like become underscores."""
    return re.sub(r"[^A-Za-z0-9_.+@=-]", "_", text)


@contextlib.contextmanager
def fixed_global_rng(seed: int = 0):
    """NumPy's global generator seeded for the block, then restored: seaborn 0.13's strip jitter draws from it
    and takes no seed, so without this every rebuild of the same results drew different figures."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def save_figure(fig: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def mean_band(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean and 95% t-interval of `value` over seeds for each group of `keys` (vectorized)."""
    grouped = frame.groupby(keys, sort=False)[value].agg(["mean", "std", "count"]).reset_index()
    dof = np.maximum(grouped["count"] - 1, 1)
    half = stats.t.ppf(0.975, dof) * grouped["std"].fillna(0) / np.sqrt(grouped["count"])
    return grouped.assign(low=grouped["mean"] - half, high=grouped["mean"] + half)


def band_plot(ax: plt.Axes, band: pd.DataFrame, x: str, hue: str, marker: str | None = None) -> None:
    for i, (label, line) in enumerate(band.groupby(hue, sort=False)):
        color = sns.color_palette()[i % 10]
        ax.plot(line[x], line["mean"], label=label, color=color, marker=marker, markersize=4)
        ax.fill_between(line[x], line["low"], line["high"], color=color, alpha=0.2, linewidth=0)
    ax.legend(fontsize=8)


def learning_curves_figure(histories: pd.DataFrame, condition: str, variation: str, path: Path) -> None:
    """Train and validation metric per epoch of one condition (accuracy, or MAE for a regression): mean and 95%
    t-band over seeds. The test split is scored once, after training, so it has no curve."""
    metric = "mae" if histories.metric.eq("val/mae").any() else "accuracy"
    data = histories[(histories.variation == variation) & (histories.condition == condition)
                     & histories.metric.isin([f"train/{metric}", f"val/{metric}"])]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    band_plot(ax, mean_band(data, ["metric", "epoch"], "value"), "epoch", "metric")
    n = data.seed.nunique()
    ax.set(xlabel="epoch", ylabel=metric, title=f"{condition}: mean and 95% CI over {n} seeds\n{VARIATION_TEXT[variation]}")
    ax.title.set_fontsize(9)
    save_figure(fig, path)


def strength_figure(runs: pd.DataFrame, y: str, path: Path, hue: str = "regularizer") -> None:
    """A metric against strength on a log axis, mean and 95% t-band over seeds; the baseline dashed."""
    variations = list(runs.variation.unique())
    fig, axes = plt.subplots(1, len(variations), figsize=(5.5 * len(variations), 3.6), squeeze=False)
    for ax, variation in zip(axes[0], variations):
        cell = runs[runs.variation == variation]
        band_plot(ax, mean_band(cell[cell.condition != BASELINE], [hue, "strength"], y), "strength", hue, marker="o")
        base = cell[cell.condition == BASELINE][y]
        if len(base):
            ax.axhline(base.mean(), color="grey", linestyle="--", label="no penalty")
        ax.set_xscale("log")
        ax.set(xlabel="strength", ylabel=y, title=f"{y}: mean and 95% CI over seeds\n{VARIATION_TEXT[variation]}; dashed: no penalty")
        ax.title.set_fontsize(9)
    save_figure(fig, path)


def condition_figure(runs: pd.DataFrame, y: str, path: Path) -> None:
    """A metric per condition: every seed as a dot, the mean with its 95% t-interval as a bar."""
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.5 * runs.condition.nunique()))
    with fixed_global_rng():
        sns.stripplot(data=runs, y="condition", x=y, hue="variation", dodge=True, alpha=0.35, size=3, ax=ax, legend=False)
    band = mean_band(runs, ["condition", "variation"], y)
    conditions = list(dict.fromkeys(runs.condition))
    variations = list(dict.fromkeys(runs.variation))
    for j, variation in enumerate(variations):
        cell = band[band.variation == variation].set_index("condition").loc[conditions]
        offset = (j - (len(variations) - 1) / 2) * 0.4
        ax.errorbar(cell["mean"], np.arange(len(conditions)) + offset, xerr=[cell["mean"] - cell["low"], cell["high"] - cell["mean"]],
                    fmt="o", color=sns.color_palette()[j], capsize=3, label=variation)
    ax.legend(fontsize=8)
    ax.set_title(f"{y}: dots are seeds; bars are 95% CIs of the mean", fontsize=10)
    save_figure(fig, path)


def surface_figure(surfaces: pd.DataFrame, conditions: list[str], path: Path) -> None:
    """Mean predicted probability over seeds on a grid (fixed data), with the 0.5 boundary."""
    fig, axes = plt.subplots(1, len(conditions), figsize=(4.2 * len(conditions), 3.6), squeeze=False)
    for ax, condition in zip(axes[0], conditions):
        cell = surfaces[(surfaces.condition == condition) & (surfaces.variation == "model")]
        xs, ys = np.sort(cell.x.unique()), np.sort(cell.y.unique())
        z = cell.pivot_table(index="y", columns="x", values="probability").to_numpy()
        ax.contourf(xs, ys, z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
        ax.contour(xs, ys, z, levels=[0.5], colors="k", linewidths=1.2)
        ax.set_title(f"{condition}: mean P(class 1) over seeds", fontsize=9)
    save_figure(fig, path)


def confusion_figure(runs: pd.DataFrame, path: Path) -> None:
    """Test confusion matrix of each condition, mean counts over seeds, as fractions of the test set."""
    conditions = list(dict.fromkeys(runs.condition))
    fig, axes = plt.subplots(1, len(conditions), figsize=(2.6 * len(conditions), 2.6), squeeze=False)
    for ax, condition in zip(axes[0], conditions):
        mean = runs[runs.condition == condition][["test/tn", "test/fp", "test/fn", "test/tp"]].mean().to_numpy()
        matrix = (mean / mean.sum()).reshape(2, 2)
        sns.heatmap(matrix, annot=True, fmt=".3f", cbar=False, vmin=0, vmax=0.5, cmap="Blues", ax=ax,
                    xticklabels=["pred neg", "pred pos"], yticklabels=["neg", "pos"])
        ax.set_title(condition, fontsize=7)
    fig.suptitle(f"Test confusion matrices: mean over {runs.seed.nunique()} seeds, fraction of the test set", fontsize=9)
    save_figure(fig, path)


def forest_figure(comparisons: pd.DataFrame, margin: float, path: Path) -> None:
    """Paired differences in test accuracy against the baseline with their 90% intervals (thick: the equivalence
    test's) inside their 95% intervals (thin), per variation; the shaded band is the declared equivalence margin,
    the colour the verdict. An interval without end (too few seeds for the sign-flip test) is drawn to the edge."""
    metric = primary_metric(comparisons)
    table = comparisons[comparisons.metric == metric]
    variations = list(dict.fromkeys(table.variation))
    conditions = list(dict.fromkeys(table.condition))
    fig, axes = plt.subplots(1, len(variations), figsize=(5.5 * len(variations), 0.9 + 0.38 * len(conditions)),
                             squeeze=False, sharey=True)
    colours = {"better": "tab:green", "worse": "tab:red", "equivalent": "tab:blue", "inconclusive": "tab:grey"}
    for ax, variation in zip(axes[0], variations):
        cell = table[table.variation == variation].set_index("condition").reindex(conditions)
        y = np.arange(len(conditions))
        ax.axvspan(-margin, margin, color="tab:blue", alpha=0.12, linewidth=0)
        ax.axvline(0, color="k", linewidth=0.8)
        for i, row in enumerate(cell.itertuples()):
            if pd.isna(row.diff_mean):
                continue
            ax.errorbar(row.diff_mean, i, xerr=[[row.diff_mean - max(row.diff_ci_low, -1)], [min(row.diff_ci_high, 1) - row.diff_mean]],
                        fmt="o", color=colours[row.verdict], capsize=3, linewidth=0.8)
            ax.hlines(i, max(row.diff_ci90_low, -1), min(row.diff_ci90_high, 1), color=colours[row.verdict], linewidth=3)
        ax.set_yticks(y, [label(c) for c in conditions], fontsize=8)
        ax.invert_yaxis()
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        ax.set_xlabel(f"{metric} minus no penalty (paired)")
        shown = [v for v in colours if v in set(cell.verdict.dropna())]
        ax.legend(handles=[matplotlib.lines.Line2D([], [], marker="o", linestyle="", color=colours[v], label=v) for v in shown],
                  fontsize=7, loc="lower right")
        ax.set_title(f"{VARIATION_TEXT[variation]}\nthick 90%, thin 95%; band: +-{margin:.3g} margin; colour: verdict", fontsize=9)
    save_figure(fig, path)
