"""The report's first screen: one row per study (its question, its headline comparison, the verdict) and one
forest plot of those comparisons across studies."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from weightreg.figures import label, save_figure  # noqa: E402
from weightreg.verdicts import headline  # noqa: E402

COLOURS = {"better": "tab:green", "worse": "tab:red", "equivalent": "tab:blue", "inconclusive": "tab:grey"}


def answer_table(studies: dict[str, tuple[pd.DataFrame, str]]) -> pd.DataFrame:
    """studies: name -> (comparisons, question), in report order."""
    rows = []
    for name, (comparisons, question) in studies.items():
        row = headline(comparisons)
        if row is None:
            rows.append({"study": f"[{name}](#{name})", "question": question, "headline condition": "no baseline"})
            continue
        cell = comparisons[(comparisons.metric == row.metric) & (comparisons.variation == row.variation)]
        counts = cell.verdict.value_counts()
        rows.append({
            "study": f"[{name}](#{name})", "question": question,
            "headline condition": f"{label(row.condition)} ({'redrawn' if row.variation == 'data+model' else 'fixed'} data)",
            "effect": effect(row), "verdict": row.verdict, "seeds": int(row.n),
            "all verdicts": ", ".join(f"{counts[v]} {v}" for v in COLOURS if v in counts),
        })
    return pd.DataFrame(rows)


def effect(row: pd.Series) -> str:
    """The effect with its interval: 90% (the equivalence test's) where the verdict is equivalent, else 95%; neither is
    adjusted for the study's other comparisons, which its Holm-adjusted verdict is."""
    level, low, high = (("90%", row.diff_ci90_low, row.diff_ci90_high) if row.verdict == "equivalent"
                        else ("95%", row.diff_ci_low, row.diff_ci_high))
    return f"{row.metric} {row.diff_mean:+.4f} [{level}: {low:+.4f}, {high:+.4f}]"


def headline_figure(studies: dict[str, pd.DataFrame], path: Path) -> None:
    """Each study's headline comparison: 90% interval thick, 95% thin, its margin shaded, coloured by verdict."""
    rows = [(name, headline(table)) for name, table in studies.items()]
    rows = [(name, row) for name, row in rows if row is not None]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.42 * len(rows)))
    ax.axvline(0, color="k", linewidth=0.8)
    for i, (name, row) in enumerate(rows):
        ax.fill_between([-row.margin, row.margin], i - 0.35, i + 0.35, color="tab:blue", alpha=0.12, linewidth=0)
        colour = COLOURS[row.verdict]
        ax.plot([max(row.diff_ci_low, -1), min(row.diff_ci_high, 1)], [i, i], color=colour, linewidth=1)
        ax.plot([max(row.diff_ci90_low, -1), min(row.diff_ci90_high, 1)], [i, i], color=colour, linewidth=4)
        ax.plot(row.diff_mean, i, "o", color=colour)
    ax.set_yticks(np.arange(len(rows)), [f"{name}: {label(row.condition)}" for name, row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("difference from no penalty (accuracy, or MAE), paired by seed")
    ax.legend(handles=[matplotlib.lines.Line2D([], [], marker="o", color=c, label=v) for v, c in COLOURS.items()],
              fontsize=7, loc="lower right")
    ax.set_title("Each study's headline comparison: 90% interval thick, 95% thin, margin shaded", fontsize=9)
    save_figure(fig, path)
