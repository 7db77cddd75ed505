"""Two network namespaces joined by a veth pair: hosts on their own network stacks, as on SageMaker.

    with linked_namespaces(["algo-1", "algo-2"]) as (first, second):
        subprocess.run(first.command([sys.executable, "worker.py"]))

Each host gets a namespace with lo and one end of the veth pair up, at 10.77.0.1 and
10.77.0.2, and a hosts file at /etc/netns/NAME/hosts naming both hosts, which
`ip netns exec NAME` mounts over /etc/hosts for what it runs. So both hosts can listen on
one port and reach each other by name, as SageMaker's algo-1 and algo-2 do. Everything is
removed on leaving, also when the body raised; namespaces that a killed test session left
behind are removed on the next entry. Needs root and iproute2: unavailable() says why not.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUBNET = "10.77.0"  # the first host is 10.77.0.1, the second 10.77.0.2
ETC_NETNS = Path("/etc/netns")  # ip netns exec NAME bind-mounts /etc/netns/NAME/* over /etc/*
PREFIX = "eeg"  # namespaces are PREFIX<pid>-<host>, so a session finds the ones dead sessions left
_OURS = re.compile(rf"{PREFIX}([0-9]+)-\S+")


@dataclass(frozen=True)
class Namespace:
    """One host: its namespace, the name the other host reaches it by, and its address."""

    name: str
    host: str
    address: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """argv run inside this namespace, with its hosts file as /etc/hosts."""
        return ["ip", "netns", "exec", self.name, *argv]


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); run the tests as root, as CI does"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's ip: apt-get install iproute2"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"ip netns does not work here: {' '.join(probe.stderr.split())}"
    return None


@contextmanager
def linked_namespaces(hosts: Sequence[str]) -> Iterator[list[Namespace]]:
    """Two namespaces, one per host, joined by a veth pair; removed on leaving."""
    if len(hosts) != 2:
        raise ValueError(f"a veth pair joins two namespaces, got {len(hosts)} hosts")
    tag = f"{PREFIX}{os.getpid()}"
    namespaces = [
        Namespace(f"{tag}-{host}", host, f"{SUBNET}.{number}") for number, host in enumerate(hosts, 1)
    ]
    links = [f"{tag}v{number}" for number in (1, 2)]  # interface names have at most 15 characters
    made_etc_netns = not ETC_NETNS.exists()
    _remove_stale()
    try:
        _create(namespaces, links)
        yield namespaces
    finally:
        _remove([namespace.name for namespace in namespaces], links)
        if made_etc_netns and ETC_NETNS.is_dir() and not any(ETC_NETNS.iterdir()):
            ETC_NETNS.rmdir()


def _create(namespaces: list[Namespace], links: list[str]) -> None:
    hosts_file = "127.0.0.1 localhost\n::1 localhost\n" + "".join(
        f"{namespace.address} {namespace.host}\n" for namespace in namespaces
    )
    for namespace in namespaces:
        _ip("netns", "add", namespace.name)
    _ip("link", "add", links[0], "type", "veth", "peer", "name", links[1])
    for namespace, link in zip(namespaces, links, strict=True):
        _ip("link", "set", link, "netns", namespace.name)
        _ip("-n", namespace.name, "address", "add", f"{namespace.address}/24", "dev", link)
        _ip("-n", namespace.name, "link", "set", "lo", "up")
        _ip("-n", namespace.name, "link", "set", link, "up")
        folder = ETC_NETNS / namespace.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hosts").write_text(hosts_file)


def _remove(names: list[str], links: list[str]) -> None:
    """Deleting a namespace deletes the veth end inside it, and so the pair."""
    for name in names:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
        shutil.rmtree(ETC_NETNS / name, ignore_errors=True)
    for link in links:  # still in this namespace if _create stopped before moving it
        subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)


def _remove_stale() -> None:
    """Namespaces of earlier sessions whose process is gone (killed before cleaning up)."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        match = _OURS.fullmatch(line.split(" ")[0])
        if match and not _alive(int(match[1])):
            _remove([match[0]], [])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {' '.join(result.stderr.split())}")
