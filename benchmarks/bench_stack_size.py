"""Cost per member-epoch of the stacked moons trainer against the stack size K (why train.max_stack=30).

    .venv/bin/python benchmarks/bench_stack_size.py [--sizes 8 30 60 120 240 480] [--repeats 3]
    .venv/bin/python benchmarks/bench_stack_size.py --sizes 30 --parallel 1 2 --members 120

Without --parallel, one stack of K members (its fit seconds); with it, `--members` members in stacks of K,
that many at a time (train.parallel_stacks), by the wall clock around the whole run.

Each size is timed at 500 and 2500 epochs; the difference removes the fixed cost (tracing and XLA
compilation, about a second per stack), leaving the cost per epoch. Prints medians over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

from weightreg.validation import from_mapping
from weightreg.data import make_draws
from weightreg.members import member_arrays, seed_everything, study_members
from weightreg.trainers.full_batch import train_stacked, train_stacked_in_chunks

SHORT, LONG = 500, 2500


def fit_seconds(members: int, epochs: int) -> float:
    cfg = from_mapping({"n_seeds": members, "baseline": False, "regularizer": {"kind": "l2", "strength": 0.001},
                        "train": {"epochs": epochs, "max_stack": members}})
    stack = study_members(cfg)
    return float(train_stacked(cfg, stack, member_arrays(make_draws(cfg), stack)).fit_seconds.sum())


def wall_seconds(members: int, k: int, parallel: int, epochs: int) -> float:
    cfg = from_mapping({"n_seeds": members, "baseline": False, "regularizer": {"kind": "l2", "strength": 0.001},
                        "train": {"epochs": epochs, "max_stack": k, "parallel_stacks": parallel}})
    run = study_members(cfg)
    arrays = member_arrays(make_draws(cfg), run)
    start = time.perf_counter()
    train_stacked_in_chunks(cfg, run, arrays)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 30, 60, 120, 240, 480])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parallel", type=int, nargs="+", help="stacks trained at once (train.parallel_stacks)")
    parser.add_argument("--members", type=int, default=120, help="with --parallel: members in all")
    args = parser.parse_args()
    seed_everything(0, 2)
    print("K  parallel  fixed s  ms/epoch  us/member-epoch   (medians of", args.repeats, "repeats)")
    for k in args.sizes:
        for parallel in args.parallel or [None]:
            members = k if parallel is None else args.members
            seconds = (lambda epochs: fit_seconds(k, epochs)) if parallel is None else (
                lambda epochs: wall_seconds(members, k, parallel, epochs))
            per_epoch, fixed = [], []
            for _ in range(args.repeats):
                short, long = seconds(SHORT), seconds(LONG)
                per_epoch.append((long - short) / (LONG - SHORT))
                fixed.append(short - SHORT * per_epoch[-1])
            epoch = statistics.median(per_epoch)
            print(f"{k:<4} {parallel or '-':>8}  {statistics.median(fixed):6.2f}  {epoch * 1e3:8.3f}  {epoch / members * 1e6:10.1f}")


if __name__ == "__main__":
    main()
