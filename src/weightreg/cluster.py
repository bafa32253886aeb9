"""Where a study's stacks train: in this process (local, the default) or as SLURM jobs through submitit.

    WEIGHTREG_LAUNCHER=slurm WEIGHTREG_SLURM_PARTITION=cpu dvc repro          # the DVC stages, unchanged
    WEIGHTREG_LAUNCHER=slurm python -m weightreg.train experiment=moons_case_study

The setting lives in the environment, not in params.yaml: where a study trains changes none of its outputs
(runs.csv, correct.npz, the gzipped curves and surfaces are byte-identical to a local run; tested on a real
scheduler), so it must not change the study's params, its config hash or what DVC thinks is stale. Only
run.json says where each stack ran (`launcher`), next to its clocks.

A study is split into its stacks exactly as a local run splits it (train.max_stack), and the stacks into
at most WEIGHTREG_SLURM_JOBS jobs (default: one job per stack); a job trains its stacks as the local run
would (train.parallel_stacks at a time, the same seeding block and thread counts, PYTHONHASHSEED set before
its interpreter starts) and sends back their numbers (and a moons stack's decision-surface probabilities),
which this process joins in the stacks' order into the study's tables. A job that ends without a result
(scancel, a time limit, a node failure) is submitted again, up to WEIGHTREG_SLURM_RETRIES times, and an
IMDB stack resumes from the per-epoch checkpoint its killed attempt left.

The variables and their checks: weightreg.slurm_settings.
"""

from __future__ import annotations

import os
import socket
import sys
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from weightreg.slurm_settings import SlurmSettings, settings_from_environment

# squeue states of a job that ended (or will end) without running to completion
ENDED = {"CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE",
         "COMPLETED", "REVOKED", "SPECIAL_EXIT"}


def job_groups(bounds: list[tuple[int, int]], jobs: int | None) -> list[list[tuple[int, int]]]:
    """The stacks, in order, as at most `jobs` contiguous groups of sizes as equal as possible."""
    n = len(bounds) if jobs is None else min(jobs, len(bounds))
    return [[(int(bounds[i][0]), int(bounds[i][1])) for i in part] for part in np.array_split(np.arange(len(bounds)), n)]


@dataclass
class GroupResult:
    """What one job sends back: its stacks' Trained (without `predict`), moons surface probabilities, where it ran."""

    parts: list
    probabilities: np.ndarray | None
    host: str
    job_id: str | None
    seconds: float
    hash_seed: str | None  # PYTHONHASHSEED as the job's interpreter started with it


def train_group(cfg: DictConfig, crossed: list, bounds: list[tuple[int, int]], draws: dict[str, np.ndarray],
                checkpoints: str | None) -> GroupResult:
    """A job's work: the stacks `bounds` of the study, trained as the local run trains them (see
    weightreg.trainers.full_batch.train_stacked_in_chunks, train_single, and weightreg.trainers.text_stack.train_text_stacked)."""
    from weightreg.config import Dataset
    from weightreg.members import (member_arrays, penalty_specs, seed_everything, study_members, train_stacks,
                                   training_progress)

    start = time.perf_counter()
    hash_seed = os.environ.get("PYTHONHASHSEED")  # what the job script exported, read when the job's interpreter started
    seed_everything(cfg.seed, cfg.train.threads)
    members = study_members(cfg, crossed)
    checkpoints = Path(checkpoints) if checkpoints is not None else None
    chosen = [m for a, b in bounds for m in members[a:b]]
    probabilities = None
    with training_progress(chosen, cfg.train.epochs, f"{cfg.study}: stacks {', '.join(f'{a}-{b}' for a, b in bounds)}") as bar:
        if cfg.data.name == Dataset.imdb:
            from weightreg.trainers.text_stack import STATE_FILE, stack_work
            from weightreg.trainers.fit import train_fit

            if cfg.train.ensemble:
                for a, b in bounds if checkpoints is not None else ():
                    state = checkpoints / f"stack_{a}-{b}" / STATE_FILE
                    if state.is_file():  # an earlier attempt of this job was stopped: train_stack resumes here
                        with np.load(state) as saved:
                            print(f"stack {a}-{b}: resuming after epoch {len(saved['history'])} from {state}", file=sys.stderr, flush=True)
                parts = train_stacks(bounds, cfg.train.parallel_stacks, *stack_work(cfg, members, draws, checkpoints, bar.update))
            else:
                parts = [train_fit(cfg, members[a:b], draws, checkpoints) for a, b in bounds]
        else:
            from weightreg.tables import surface_grid, surface_probabilities
            from weightreg.trainers.full_batch import FullBatchStack, train_single

            arrays = member_arrays(draws, members)
            grid = surface_grid(draws)

            def sliced(a, b):
                return {name: value[a:b] for name, value in arrays.items()}

            def with_surface(trained, a, b):
                # right after training: a worker's stack holds these members' weights until its next chunk
                p = np.asarray(surface_probabilities(trained.predict, b - a, grid))
                trained.predict = None  # TensorFlow objects stay here; numbers go back
                return trained, p

            if cfg.train.ensemble:
                regs = penalty_specs(members)
                done = train_stacks(bounds, cfg.train.parallel_stacks, lambda k: FullBatchStack(cfg, k, regs, sliced(0, k)),
                                    lambda stack, a, b: with_surface(stack.train(members[a:b], sliced(a, b), bar.update), a, b))
            else:
                done = [with_surface(train_single(cfg, members[a:b], sliced(a, b)), a, b) for a, b in bounds]
            parts = [trained for trained, _ in done]
            probabilities = np.concatenate([p for _, p in done])
    for part in parts:
        part.predict = None
    return GroupResult(parts, probabilities, socket.gethostname(), os.environ.get("SLURM_JOB_ID"), time.perf_counter() - start,
                       hash_seed)


def queue_states(job_ids: list[str]) -> dict[str, str] | None:
    """squeue's state of each job it still knows (a job it has forgotten is absent); None when squeue itself
    failed (the controller restarting, say): then nothing can be concluded about any job."""
    if not job_ids:
        return {}
    result = subprocess.run(["squeue", "-h", "-o", "%i %T", "-j", ",".join(job_ids)], capture_output=True, text=True)
    if result.returncode != 0:
        return {} if "Invalid job id" in result.stderr else None  # every one forgotten, or no answer at all
    states = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


class ClusterError(RuntimeError):
    """A job failed in its own code, or was lost more often than WEIGHTREG_SLURM_RETRIES allows."""


def executor_for(cfg: DictConfig, settings: SlurmSettings, folder: Path):
    import submitit

    executor = submitit.SlurmExecutor(folder=folder)
    parameters = {
        "job_name": f"weightreg-{cfg.study}",
        "time": settings.time_min,
        "cpus_per_task": settings.cpus or int(cfg.train.threads),
        "nodes": 1,
        "ntasks_per_node": 1,
        # the same hash seed as any run of this config, fixed before the job's interpreter starts
        "setup": [f"export PYTHONHASHSEED={int(cfg.seed)}"],
    }
    if settings.partition:
        parameters["partition"] = settings.partition
    if settings.mem_gb:
        parameters["mem"] = f"{max(1, int(settings.mem_gb * 1024))}M"
    executor.update_parameters(**parameters)
    return executor


def train_study(cfg: DictConfig, crossed: list, draws: dict[str, np.ndarray], checkpoints: Path | None = None) -> dict:
    """A whole study's tables (its spec `cfg`, its conditions `crossed`), its stacks trained where WEIGHTREG_LAUNCHER
    says: here (weightreg.trainers.study.train), or as SLURM jobs; where they train never changes what they compute."""
    from weightreg.members import seed_everything, study_members
    from weightreg.tables import study_tables
    from weightreg.trainers.study import train

    slurm = settings_from_environment()
    if slurm is None:
        return train(cfg, crossed, draws, checkpoints)
    seed_everything(cfg.seed, cfg.train.threads)
    members = study_members(cfg, crossed)
    trained, probabilities, launcher = train_on_slurm(cfg, crossed, draws, checkpoints, slurm)
    return study_tables(cfg, members, [(0, len(members), trained)], None, draws, probabilities) | {"launcher": launcher}


def train_on_slurm(cfg: DictConfig, crossed: list, draws: dict[str, np.ndarray], checkpoints: Path | None,
                   settings: SlurmSettings) -> tuple[object, np.ndarray | None, dict]:
    """The whole study as SLURM jobs: its joined Trained (no `predict`), the moons surface probabilities
    (members x grid points, in member order), and the record of where each stack ran (run.json's `launcher`)."""
    from weightreg.members import chunk_bounds, joined, study_members

    members = study_members(cfg, crossed)
    groups = job_groups(chunk_bounds(len(members), cfg.train.max_stack), settings.jobs)
    folder = settings.folder or (checkpoints if checkpoints is not None else Path(".checkpoints")) / "slurm"
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    executor = executor_for(cfg, settings, folder)
    where = str(checkpoints.resolve()) if checkpoints is not None else None

    def submit(group):
        return executor.submit(train_group, cfg, crossed, group, draws, where)

    jobs = {i: submit(group) for i, group in enumerate(groups)}
    attempts = {i: [jobs[i].job_id] for i in jobs}
    results: dict[int, GroupResult] = {}
    print(f"{cfg.study}: {len(groups)} SLURM job(s) submitted ({', '.join(j.job_id for j in jobs.values())}), logs in {folder}",
          flush=True)
    try:
        while len(results) < len(groups):
            states = queue_states([job.job_id for i, job in jobs.items() if i not in results])
            for i, job in jobs.items():
                if i in results:
                    continue
                if job.paths.result_pickle.exists():
                    results[i] = collect(job)
                    continue
                if states is None:
                    continue  # squeue did not answer: look again next round
                state = states.get(job.job_id)
                if state is not None and state.split("+")[0] not in ENDED:
                    continue  # pending, running, completing, requeued
                time.sleep(min(2.0, settings.poll_s))  # a job that just finished may not have its result visible yet
                if job.paths.result_pickle.exists():
                    results[i] = collect(job)
                    continue
                if len(attempts[i]) > settings.retries:
                    raise ClusterError(f"{cfg.study}: job {job.job_id} (stacks {groups[i]}) ended {state or 'without a result'} "
                                       f"{len(attempts[i])} time(s) (WEIGHTREG_SLURM_RETRIES={settings.retries}); log: {job.paths.stderr}")
                jobs[i] = submit(groups[i])
                attempts[i].append(jobs[i].job_id)
                print(f"{cfg.study}: job {job.job_id} ended {state or 'without a result'}; submitted again as {jobs[i].job_id}",
                      flush=True)
            if len(results) < len(groups):
                time.sleep(settings.poll_s)
    except BaseException:
        for i, job in jobs.items():
            if i not in results:
                job.cancel(check=False)
        raise
    ordered = [results[i] for i in range(len(groups))]
    trained = joined([part for result in ordered for part in result.parts])
    probabilities = None if ordered[0].probabilities is None else np.concatenate([r.probabilities for r in ordered])
    record = {
        "kind": "slurm",
        "partition": settings.partition,
        "jobs": [{"stacks": [list(map(int, b)) for b in groups[i]], "job_id": r.job_id, "host": r.host,
                  "submitted": attempts[i], "seconds": round(r.seconds, 3), "PYTHONHASHSEED": r.hash_seed}
                 for i, r in enumerate(ordered)],
    }
    return trained, probabilities, record


def collect(job) -> GroupResult:
    import submitit

    try:
        return job.result()
    except submitit.core.utils.UncompletedJobError as error:
        raise ClusterError(f"job {job.job_id}: {error}") from None
    except submitit.core.utils.FailedJobError as error:
        raise ClusterError(f"job {job.job_id} failed:\n{str(error)[-3000:]}") from None
