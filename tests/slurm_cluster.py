"""A real single-node SLURM cluster for the tests: munged, slurmctld and slurmd started by hand (no systemd),
everything (config, key, state, spool, logs, munge socket) in one temporary folder, reached on 127.0.0.1 only.

    with SlurmCluster(folder) as cluster:   # exports SLURM_CONF; sinfo, sbatch, squeue, scancel then use it
        ...

Debian's packages (`apt-get install slurm-wlm munge`, as .ci/run does) provide the daemons. Running them
needs root (SlurmUser=root: the daemons and the jobs run as the user who started them). No accounting
(slurmdbd): submitit needs `sacct` only to see a job that died without writing its result, and
weightreg.cluster watches for that with `squeue` instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = ("sinfo", "sbatch", "squeue", "scancel", "srun", "scontrol")


class SlurmUnavailable(RuntimeError):
    """The scheduler could not be started here (not installed, not root, a daemon failed): says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_memory_mb() -> int:
    with open("/proc/meminfo") as f:
        total_kb = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
    return total_kb // 1024 * 3 // 4  # a share slurmd's own check never finds above what the machine has


def missing_programs() -> list[str]:
    found = {name: shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.access(p, os.X_OK)), None)
             for name in (*DAEMONS, *COMMANDS)}
    return [name for name, path in found.items() if path is None]


def daemon(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


class SlurmCluster:
    """Starts the three daemons in `folder`; `stop()` (or leaving the `with`) ends them and restores SLURM_CONF."""

    def __init__(self, folder: Path, cpus: int = 2, partition: str = "debug", timeout_s: float = 60):
        self.folder, self.cpus, self.partition, self.timeout_s = Path(folder), cpus, partition, timeout_s
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.folder / "slurm.conf"
        self.munge_socket = self.folder / "munge" / "munge.socket"
        self.processes: dict[str, subprocess.Popen] = {}
        self.previous_conf = os.environ.get("SLURM_CONF")

    # -- configuration ---------------------------------------------------------------------------------
    def slurm_conf(self) -> str:
        f = self.folder
        return "\n".join([
            "ClusterName=weightreg-test",
            f"SlurmctldHost={self.host}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            # listen on the addresses above (127.0.0.1), not on every interface
            "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "MpiDefault=none",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/backfill",
            "SwitchType=switch/none",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "ReturnToService=2",
            "MinJobAge=600",  # a finished job stays visible to squeue/scontrol this long
            "KillWait=2",  # SIGTERM (which submitit ignores) to SIGKILL after scancel
            "PropagatePrioProcess=1",  # a job runs at its submitter's nice value (nice -n 19 tests stay nice)
            "SlurmctldTimeout=30",
            "SlurmdTimeout=60",
            "InactiveLimit=0",
            f"StateSaveLocation={f / 'state'}",
            f"SlurmdSpoolDir={f / 'spool'}",
            f"SlurmctldPidFile={f / 'slurmctld.pid'}",
            f"SlurmdPidFile={f / 'slurmd.pid'}",
            f"SlurmctldLogFile={f / 'slurmctld.log'}",
            f"SlurmdLogFile={f / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={node_memory_mb()} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO",
            "",
        ])

    # -- start / stop ----------------------------------------------------------------------------------
    def start(self) -> "SlurmCluster":
        missing = missing_programs()
        if missing:
            raise SlurmUnavailable(f"not installed: {', '.join(missing)} (Debian: apt-get install slurm-wlm munge)")
        if os.geteuid() != 0:
            raise SlurmUnavailable("the test cluster's daemons run as root (SlurmUser=root); this is uid "
                                   f"{os.geteuid()}")
        for sub in ("state", "spool", "munge"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder / "munge", 0o700)
        key = self.folder / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        self.conf.write_text(self.slurm_conf())
        os.environ["SLURM_CONF"] = str(self.conf)
        try:
            self._spawn("munged", [daemon("munged"), "--foreground", "--force", f"--socket={self.munge_socket}",
                                   f"--key-file={key}", f"--pid-file={self.folder / 'munge' / 'munged.pid'}",
                                   f"--log-file={self.folder / 'munge' / 'munged.log'}",
                                   f"--seed-file={self.folder / 'munge' / 'munged.seed'}"])
            self._wait(lambda: self.munge_socket.exists(), "munged's socket")
            self._spawn("slurmctld", [daemon("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self._spawn("slurmd", [daemon("slurmd"), "-D", "-f", str(self.conf), "-N", self.host])
            self._wait(self.node_idle, f"node {self.host} idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.folder / f"{name}.out", "wb")
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                                env={**os.environ, "SLURM_CONF": str(self.conf)})

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise SlurmUnavailable(f"{name} exited {process.returncode} while waiting for {what}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.5)
        raise SlurmUnavailable(f"no {what} after {self.timeout_s:.0f} s\n{self.logs()}")

    def node_idle(self) -> bool:
        result = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True, env=self.env())
        return result.returncode == 0 and f"{self.host} idle" in result.stdout

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def logs(self, tail: int = 2000) -> str:
        parts = []
        for path in sorted(self.folder.glob("*.log")) + sorted(self.folder.glob("*.out")) + sorted((self.folder / "munge").glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.processes:
            subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True, env=self.env(), timeout=30)
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.previous_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = self.previous_conf

    def __enter__(self) -> "SlurmCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
