"""The report's figures: learning curves over no penalty's, strength curves, per-layer weight norms, decision
surfaces, confusion-matrix changes and forest plots of the paired differences, each saved atomically as a PNG.
"""

from __future__ import annotations

import re
import textwrap
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

from weightreg.artifacts import atomic_path  # noqa: E402
from weightreg.params import BASELINE  # noqa: E402
from weightreg.verdicts import primary_metric  # noqa: E402

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


MIN_CURVE_EPOCHS = 4  # fewer recorded epochs draw a line through a few points, no shape of training


def curve_metric(histories: pd.DataFrame) -> str:
    return "mae" if histories.metric.eq("val/mae").any() else "accuracy"


def learning_curves_figure(histories: pd.DataFrame, variation: str, path: Path, col_wrap: int = 3) -> None:
    """Each penalized condition's curves over no penalty's, one panel per condition: validation (solid) and train
    (dashed) metric per epoch, mean and 95% t-band over seeds. The test split is scored once, after training, so it
    has no curve."""
    metric = curve_metric(histories)
    data = histories[(histories.variation == variation) & histories.metric.isin([f"train/{metric}", f"val/{metric}"])]
    band = mean_band(data, ["condition", "metric", "epoch"], "value")
    conditions = [c for c in dict.fromkeys(data.condition) if c != BASELINE]
    columns = min(col_wrap, len(conditions))
    rows = -(-len(conditions) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.1 * rows), squeeze=False, sharey=True)
    for ax, condition in zip(axes.flat, conditions):
        for name, colour in ((BASELINE, "grey"), (condition, sns.color_palette()[0])):
            for split, style in (("val", "-"), ("train", "--")):
                line = band[(band.condition == name) & (band.metric == f"{split}/{metric}")]
                ax.plot(line.epoch, line["mean"], style, color=colour, linewidth=1.2,
                        label=f"{label(name)}, {'validation' if split == 'val' else 'train'}")
                ax.fill_between(line.epoch, line.low, line.high, color=colour, alpha=0.15, linewidth=0)
        ax.set_title(textwrap.fill(label(condition), 40), fontsize=8)
        ax.set(xlabel="epoch", ylabel=metric)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(conditions):]:
        ax.set_visible(False)
    fig.suptitle(f"Learning curves against no penalty (grey): mean and 95% CI over {data.seed.nunique()} seeds; "
                 f"{VARIATION_TEXT[variation]}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def layer_norms(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean L2 norm of each layer's weights per condition relative to no penalty's (same variation, same seeds):
    conditions x layers. A penalty shrinks the weights it names; the others may grow to compensate."""
    columns = [c for c in runs.columns if c.startswith("weights/l2/") and c != "weights/l2/all_kernels"]
    means = runs.groupby(["variation", "condition"], sort=False)[columns].mean()
    ratios = []
    for variation, cell in means.groupby(level="variation", sort=False):
        cell = cell.droplevel("variation")
        if BASELINE in cell.index:
            ratios.append((cell / cell.loc[BASELINE]).drop(index=BASELINE))
    table = pd.concat(ratios) if ratios else pd.DataFrame(columns=columns)
    table = table.groupby(level=0, sort=False).mean()  # variations averaged: the same penalty acts alike on both
    return table.rename(columns=lambda c: c.removeprefix("weights/l2/"))


def layer_norm_figure(runs: pd.DataFrame, path: Path) -> None:
    """Heatmap of `layer_norms`: the per-layer effect that the norm of all kernels together can hide."""
    table = layer_norms(runs)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * table.shape[1], 1.2 + 0.34 * len(table)))
    sns.heatmap(np.log2(table.astype(float)), annot=table.astype(float), fmt=".2f", center=0, cmap="RdBu_r", ax=ax,
                cbar_kws={"label": "log2(norm / norm without penalty)"}, annot_kws={"fontsize": 7},
                yticklabels=[textwrap.shorten(label(c), 48) for c in table.index])
    ax.set_title("L2 norm of each layer's weights relative to no penalty (mean over seeds)\n"
                 "below 1: shrunk by the penalty; above 1: grown", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.tick_params(axis="y", rotation=0)
    ax.set_ylabel("")
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


def surface_figure(surfaces: pd.DataFrame, conditions: list[str], path: Path, points: dict[str, np.ndarray] | None = None) -> None:
    """Mean predicted probability over seeds on a grid (fixed data), with the 0.5 boundary, a colour bar, and the
    draw's points (`points`: x_train, y_train, x_test, y_test): training points filled, test points hollow, the class
    by shape."""
    fig, axes = plt.subplots(1, len(conditions), figsize=(4.4 * len(conditions) + 0.8, 3.6), squeeze=False)
    for ax, condition in zip(axes[0], conditions):
        cell = surfaces[(surfaces.condition == condition) & (surfaces.variation == "model")]
        xs, ys = np.sort(cell.x.unique()), np.sort(cell.y.unique())
        z = cell.pivot_table(index="y", columns="x", values="probability").to_numpy()
        filled = ax.contourf(xs, ys, z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
        ax.contour(xs, ys, z, levels=[0.5], colors="k", linewidths=1.2)
        if points is not None:  # shape: the class; filled: a training point, hollow: a test point
            for split, fill in (("train", "k"), ("test", "none")):
                for cls, marker in ((0, "o"), (1, "^")):
                    xy = points[f"x_{split}"][points[f"y_{split}"] == cls]
                    ax.scatter(xy[:, 0], xy[:, 1], s=18, marker=marker, facecolors=fill, edgecolors="k", linewidths=0.8,
                               label=f"{split}, class {cls}")
            ax.legend(fontsize=6, loc="lower left")
        ax.set_title(textwrap.fill(f"{label(condition)}: mean P(class 1) over seeds", 48), fontsize=9)
    fig.colorbar(filled, ax=axes[0].tolist(), label="P(class 1)")
    save_figure(fig, path)


CONFUSION = ["test/tn", "test/fp", "test/fn", "test/tp"]


def confusion_figure(runs: pd.DataFrame, path: Path, col_wrap: int = 4) -> None:
    """No penalty's test confusion matrix (mean over seeds, fraction of the test set), then each condition's
    difference from it in percentage points: the change a penalty makes, which matrices side by side hide."""
    def matrix(condition: str) -> np.ndarray:
        mean = runs[runs.condition == condition][CONFUSION].mean().to_numpy()
        return (mean / mean.sum()).reshape(2, 2)

    conditions = list(dict.fromkeys(runs.condition))
    base = matrix(BASELINE)
    differences = {c: 100 * (matrix(c) - base) for c in conditions if c != BASELINE}
    scale = max([np.abs(d).max() for d in differences.values()] + [0.1])
    columns = min(col_wrap, len(conditions))
    rows = -(-len(conditions) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.9 * columns, 2.9 * rows), squeeze=False)
    ticks = {"xticklabels": ["pred neg", "pred pos"], "yticklabels": ["neg", "pos"]}
    sns.heatmap(base, annot=True, fmt=".3f", cbar=False, vmin=0, vmax=0.5, cmap="Blues", ax=axes.flat[0], **ticks)
    axes.flat[0].set_title("no penalty (fraction)", fontsize=8)
    for ax, (condition, difference) in zip(list(axes.flat)[1:], differences.items()):
        sns.heatmap(difference, annot=True, fmt="+.2f", cbar=False, vmin=-scale, vmax=scale, cmap="RdBu_r", ax=ax, **ticks)
        ax.set_title(textwrap.fill(f"{label(condition)} minus no penalty (points)", 30), fontsize=7)
    for ax in list(axes.flat)[len(conditions):]:
        ax.set_visible(False)
    fig.suptitle(f"Test confusion matrices, mean over {runs.seed.nunique()} seeds", fontsize=9)
    fig.tight_layout()
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
