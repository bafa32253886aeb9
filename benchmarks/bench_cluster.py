"""A moons study trained here, on 1 SLURM job and on 2 SLURM jobs: walls side by side, outputs compared byte for byte.

    .venv/bin/python benchmarks/bench_cluster.py [--study moons_case_study] [--repeats 1] [override ...]

Each way is the same command line (`python -m weightreg.train experiment=<study> ...`) with WEIGHTREG_LAUNCHER
unset, or =slurm with WEIGHTREG_SLURM_JOBS=1 or 2 (WEIGHTREG_SLURM_CPUS=1: two jobs fit a 2-core node at once);
the wall is the whole command's (interpreter start, data, submission, waiting, writing), as a user waits for it.
Uses the cluster SLURM_CONF names; without one it starts the tests' single-node cluster (tests/slurm_cluster.py,
as root) for the duration. Prints one line per way and whether each one's runs.csv, correct.npz and gzipped
curves and surfaces equal the local run's bytes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("runs.csv", "correct.npz", "histories.csv.gz", "surfaces.csv.gz")
WAYS = {"local": {}, "slurm, 1 job": {"WEIGHTREG_LAUNCHER": "slurm", "WEIGHTREG_SLURM_JOBS": "1"},
        "slurm, 2 jobs": {"WEIGHTREG_LAUNCHER": "slurm", "WEIGHTREG_SLURM_JOBS": "2"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", default="moons_case_study")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. n_seeds=10")
    args = parser.parse_args()
    cluster = None
    if not os.environ.get("SLURM_CONF"):
        sys.path.insert(0, str(ROOT / "tests"))
        from slurm_cluster import SlurmCluster

        cluster = SlurmCluster(Path(tempfile.mkdtemp(prefix="weightreg-slurm-"))).start()
    try:
        out = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        walls, outputs = {}, {}
        for repeat in range(args.repeats):
            for way, env in WAYS.items():
                folder = out / f"{way.replace(', ', '-').replace(' ', '')}-{repeat}"
                command = [sys.executable, "-m", "weightreg.train", f"experiment={args.study}", *args.overrides,
                           f"hydra.run.dir={folder}"]
                start = time.perf_counter()
                subprocess.run(command, cwd=ROOT, check=True, capture_output=True,
                               env={**os.environ, "WEIGHTREG_SLURM_CPUS": "1", "WEIGHTREG_SLURM_POLL_S": "1", **env})
                walls.setdefault(way, []).append(time.perf_counter() - start)
                print(f"  run {repeat}: {way:14s} {walls[way][-1]:7.1f} s", flush=True)  # as it goes: a stopped run keeps its lines
                (result,) = folder.glob("result-*")
                outputs.setdefault(way, []).append({name: (result / name).read_bytes() for name in FILES})
        reference = outputs["local"][0]
        print(f"{args.study} {' '.join(args.overrides)}: median wall of {args.repeats} run(s) each")
        for way in WAYS:
            same = all(o == reference for o in outputs[way])
            print(f"  {way:14s} {statistics.median(walls[way]):7.1f} s   (all: {', '.join(f'{w:.1f}' for w in walls[way])})"
                  f"   outputs {'byte-identical to local' if same else 'DIFFER from local'}")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
