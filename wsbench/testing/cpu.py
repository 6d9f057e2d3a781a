"""CPU time from /proc: a process's own, MariaDB's, and how busy the whole machine was."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

MARIADB_PID_FILE = Path("/run/mysqld/mysqld.pid")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far."""
    return _stat_seconds(Path(f"/proc/{pid}/stat"))


def main_thread_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process's main thread so far (its thread id is its pid)."""
    return _stat_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))


def other_threads_cpu_seconds(pid: int) -> float:
    """User + system CPU time of every live thread of a process but its main one, so far."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        if task.name != str(pid):
            # A thread may end between the listing and the read.
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += _stat_seconds(task / "stat")
    return total


def _stat_seconds(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()  # after the name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mariadb_pid(pid_file: Path = MARIADB_PID_FILE) -> int | None:
    """The local MariaDB server's process id, or None when it cannot be read here."""
    try:
        pid = int(pid_file.read_text())
        Path(f"/proc/{pid}/stat").stat()
    except (OSError, ValueError):
        return None
    return pid


@dataclass(frozen=True)
class MachineTime:
    """The machine's CPU time so far, from /proc/stat: busy and in all, over every core."""

    busy: float
    total: float

    @classmethod
    def now(cls) -> MachineTime:
        """The counters at this moment."""
        ticks = [int(value) for value in Path("/proc/stat").read_text().split()[1:9]]
        idle = ticks[3] + ticks[4]  # idle and iowait
        hertz = os.sysconf("SC_CLK_TCK")
        return cls((sum(ticks) - idle) / hertz, sum(ticks) / hertz)

    def busy_since(self, earlier: MachineTime) -> float:
        """The fraction of all cores' time that was busy since ``earlier`` (0..1)."""
        total = self.total - earlier.total
        return (self.busy - earlier.busy) / total if total > 0 else 0.0
