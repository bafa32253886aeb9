"""How often the verdict rule claims what is not so, simulated on the project's own designs.

    python -m weightreg.calibration              # the full table (docs/statistics.md), about 10 minutes on 2 cores
    python -m weightreg.calibration --quick      # fewer repetitions (tests/test_calibration.py runs it)

Designs: a fixed test set of n_points shared by every seed (moons `model`: 30 x 70; IMDB: 20 or 33 x 5,000)
and redrawn data (moons `data+model`: 30 seeds, each with its own 70 test points). Correctness is simulated
per (seed, point): the baseline answers point j correctly with probability q_j + u_i (a point's difficulty,
a seed's overall skill); a penalised condition k adds s_ik (a seed moves all of its points at once), t_jk (the
penalty helps some points and hurts others, whichever seed trained) and the true effect. Most points are
easy (always right, as most IMDB reviews and moons points are); A and B share their random draw with
probability COUPLING, as two runs from one initialization do. Nulls: seed effects only, point effects only,
both. The rule is the pipeline's: weightreg.crossed on fixed test sets, sign-flip tests on redrawn data, Holm
over a family of 6 comparisons sharing one baseline.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np

from weightreg.crossed import crossed_comparison
from weightreg.stats import ALPHA, ShiftedSignFlip, holm, sign_flip_p

EASY = 0.7  # share of test points every run gets right
EFFECT_WIDTH = 0.1  # seed and point effects uniform on +-this (on the hard points' probability of being right)
SKILL_WIDTH = 0.05  # a seed's overall skill, shared by every condition of that seed
COUPLING = 0.5  # chance that a penalised run's draw at (seed, point) is the baseline's
FAMILY = 6  # comparisons against one baseline, as moons_placement or imdb_cnn have


@dataclass(frozen=True)
class Design:
    name: str
    n_seeds: int
    n_points: int
    fixed: bool  # one test set for every seed (else a new draw of n_points per seed)
    margin: float


DESIGNS = (Design("moons model (30 x 70 fixed points)", 30, 70, True, 0.02),
           Design("moons data+model (30 redrawn draws of 70)", 30, 70, False, 0.02),
           Design("IMDB (20 x 5,000 fixed reviews)", 20, 5000, True, 0.01),
           Design("IMDB (33 x 5,000 fixed reviews)", 33, 5000, True, 0.01))
NULLS = {"seed effects": (EFFECT_WIDTH, 0.0), "point effects": (0.0, EFFECT_WIDTH), "both": (EFFECT_WIDTH, EFFECT_WIDTH)}


def simulate(design: Design, seed_width: float, point_width: float, effects: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Correctness of a baseline (n_seeds, n_points) and of len(effects) conditions (k, n_seeds, n_points).
    An effect is the population mean difference in accuracy (over seeds and points)."""
    n_s, n_p, k = design.n_seeds, design.n_points, len(effects)
    hard = rng.random(n_p) >= EASY
    if design.fixed:  # one set of points (difficulty, point effects) for every seed
        q = np.where(hard, rng.uniform(0.35, 0.65, n_p), 1.0)[None]
        t = rng.uniform(-point_width, point_width, (k, 1, n_p))
        hard = hard[None]
    else:  # every seed its own points
        hard = rng.random((n_s, n_p)) >= EASY
        q = np.where(hard, rng.uniform(0.35, 0.65, (n_s, n_p)), 1.0)
        t = rng.uniform(-point_width, point_width, (k, n_s, n_p))
    skill = rng.uniform(-SKILL_WIDTH, SKILL_WIDTH, (n_s, 1))
    s = rng.uniform(-seed_width, seed_width, (k, n_s, 1))
    p_base = np.where(hard, q + skill, 1.0)
    shift = (np.asarray(effects, dtype=float) / (1 - EASY))[:, None, None]  # on the hard points: mean effect over all points
    p_cond = np.where(hard, p_base + s + t + shift, 1.0)
    draw = rng.random((n_s, n_p))
    own = rng.random((k, n_s, n_p))
    shared = rng.random((k, n_s, n_p)) < COUPLING
    base = draw < p_base
    cond = np.where(shared, draw, own) < p_cond
    return base, cond


def tests(design: Design, base: np.ndarray, cond: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, p_tost, mean difference) of each condition against the baseline, as the pipeline computes them."""
    p, p_tost, mean = [], [], []
    for correct in cond:
        if design.fixed:
            row = crossed_comparison(correct, base, design.margin)
            p.append(row["p_value"])
            p_tost.append(row["p_tost"])
        else:
            diff = correct.mean(axis=1) - base.mean(axis=1)
            p.append(sign_flip_p(diff, resolution=1 / design.n_points)[0])
            p_tost.append(ShiftedSignFlip(diff).tost(design.margin))
        mean.append(correct.mean() - base.mean())
    return np.array(p), np.array(p_tost), np.array(mean)


def rates(design: Design, null: str, repeats: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Rate and Monte Carlo standard error of: a false better/worse per comparison and per family of FAMILY
    (Holm), a false "equivalent" with the true effect at the margin, and "better" at twice the margin."""
    rng = np.random.default_rng(seed)
    seed_width, point_width = NULLS[null]
    counts = {"false difference per comparison": 0, "false difference per family": 0,
              "false equivalent at the margin": 0, "power at twice the margin": 0}
    for _ in range(repeats):
        effects = np.r_[np.zeros(FAMILY), design.margin, 2 * design.margin]
        base, cond = simulate(design, seed_width, point_width, effects, rng)
        p, p_tost, mean = tests(design, base, cond)
        counts["false difference per comparison"] += int(p[0] < ALPHA)
        counts["false difference per family"] += int(np.any(holm(p[:FAMILY]) < ALPHA))
        counts["false equivalent at the margin"] += int(p_tost[FAMILY] < ALPHA)
        counts["power at twice the margin"] += int(p[FAMILY + 1] < ALPHA and mean[FAMILY + 1] > 0)
    return {name: (count / repeats, math.sqrt(max(count, 1) / repeats * (1 - count / repeats) / repeats))
            for name, count in counts.items()}


def table(repeats: int, designs=DESIGNS, nulls=tuple(NULLS)) -> list[dict]:
    return [{"design": d.name, "null": null, **rates(d, null, repeats)} for d in designs for null in nulls]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m weightreg.calibration", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="300 repetitions")
    parser.add_argument("--design", default="", help="only the designs whose name contains this, e.g. moons")
    parser.add_argument("--null", choices=list(NULLS), help="only this null")
    args = parser.parse_args(argv)
    repeats = 300 if args.quick else args.repeats
    rows = table(repeats, [d for d in DESIGNS if args.design in d.name], [args.null] if args.null else tuple(NULLS))
    names = [k for k in rows[0] if k not in ("design", "null")]
    print(f"{repeats} simulated studies per row; each rate +- its Monte Carlo standard error; nominal level {ALPHA}")
    print("| design | null | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for row in rows:
        cells = [f"{row[n][0]:.3f} +- {row[n][1]:.3f}" for n in names]
        print(f"| {row['design']} | {row['null']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
