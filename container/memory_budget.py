"""How much data a job may read into memory: a share of what this machine allows.

Every reader checks what a file claims to hold (array shapes, a pickle's expanded size, a
CSV's rows times columns) against the budget before it takes the memory, so a small file
that would grow into more than the machine has fails with a line saying how big it claims
to be and what the limit is, instead of the kernel killing the job without a word.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from pathlib import Path

from container.sagemaker_env import UserError

# Training holds the data about four times over (read, split, features, standardised).
DATA_SHARE_OF_MEMORY = 4


@dataclass
class Budget:
    """Bytes the data may take in memory: a share of the machine's limit, spent as files are read."""

    memory: int
    source: str
    used: int = field(default=0)

    @classmethod
    def for_this_machine(cls) -> Budget:
        return cls(*memory_limit())

    @property
    def limit(self) -> int:
        return self.memory // DATA_SHARE_OF_MEMORY

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)

    def claim(self, what: str, nbytes: int) -> None:
        """Counts nbytes as taken, or raises the line that says they do not fit."""
        self.check(what, nbytes)
        self.used += nbytes

    def check(self, what: str, nbytes: int) -> None:
        if nbytes > self.left:
            also = f" after {_size(self.used)} already read" if self.used else ""
            raise UserError(
                f"{what} claims {_size(nbytes)} in memory{also}, and the data may take at most "
                f"{_size(self.limit)} here (1/{DATA_SHARE_OF_MEMORY} of the {_size(self.memory)} "
                f"{self.source}): use an instance with more memory, or fewer or shorter recordings"
            )


def memory_limit() -> tuple[int, str]:
    """The smallest of physical memory, the cgroup's limit (a container's) and RLIMIT_AS."""
    limits = [(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "of physical memory")]
    for cgroup_file in _cgroup_limit_files():
        try:
            text = Path(cgroup_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append((int(text), "container memory limit"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append((soft, "address-space limit (ulimit -v)"))
    return min(limits)


def _cgroup_limit_files() -> list[Path]:
    """The memory limit files of this process's own cgroup (v2 and v1), and of the root: a
    container sees its own group as the root, a process on a host its group's path."""
    files = [Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")]
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return files
    for line in lines:  # "0::/path" (v2) or "4:memory:/path" (v1)
        _, controllers, group = line.split(":", 2)
        group = group.strip("/")
        if group and controllers == "":
            files.append(Path("/sys/fs/cgroup") / group / "memory.max")
        elif group and "memory" in controllers.split(","):
            files.append(Path("/sys/fs/cgroup/memory") / group / "memory.limit_in_bytes")
    return files


def _size(nbytes: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes} bytes"
