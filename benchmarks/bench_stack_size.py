"""Cost per member-epoch of the stacked moons trainer against the stack size K (why train.max_stack=30).

    .venv/bin/python benchmarks/bench_stack_size.py [--sizes 8 30 60 120 240 480] [--repeats 3]

Each size is timed at 500 and 2500 epochs; the difference removes the fixed cost (tracing and XLA
compilation, about a second per stack), leaving the cost per epoch. Prints medians over repeats.
"""

from __future__ import annotations

import argparse
import statistics

from weightreg.config import from_mapping
from weightreg.data import make_draws
from weightreg.members import member_arrays, seed_everything, study_members
from weightreg.train import train_stacked

SHORT, LONG = 500, 2500


def fit_seconds(members: int, epochs: int) -> float:
    cfg = from_mapping({"n_seeds": members, "baseline": False, "regularizer": {"kind": "l2", "strength": 0.001},
                        "train": {"epochs": epochs, "max_stack": members}})
    stack = study_members(cfg)
    return float(train_stacked(cfg, stack, member_arrays(make_draws(cfg), stack)).fit_seconds.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 30, 60, 120, 240, 480])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    seed_everything(0, 2)
    print("K  fixed s  ms/epoch  us/member-epoch   (medians of", args.repeats, "repeats)")
    for k in args.sizes:
        per_epoch, fixed = [], []
        for _ in range(args.repeats):
            short, long = fit_seconds(k, SHORT), fit_seconds(k, LONG)
            per_epoch.append((long - short) / (LONG - SHORT))
            fixed.append(short - SHORT * per_epoch[-1])
        epoch = statistics.median(per_epoch)
        print(f"{k:<4} {statistics.median(fixed):6.2f}  {epoch * 1e3:8.3f}  {epoch / k * 1e6:10.1f}")


if __name__ == "__main__":
    main()
