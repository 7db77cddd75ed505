"""The hosts of a SageMaker job as TensorFlow's cluster: names, this host's place, TF_CONFIG.

SageMaker starts the same container on algo-1 ... algo-N and writes, on each,
/opt/ml/input/config/resourceconfig.json with current_host and hosts. Every host listens
on PORT; the first host in sorted order, algo-1, is the chief, which alone writes the
model. One host is no cluster: train.py then makes none and pays nothing for it.

Local runs of several hosts on one machine cannot all listen on one port (TensorFlow's
gRPC server binds every address), so CLUSTER_ADDRESSES can name each host's address:
    CLUSTER_ADDRESSES=algo-1=127.0.0.1:7777,algo-2=127.0.0.1:7778
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from container.sagemaker_env import UserError

PORT = 7777  # every host's TensorFlow server; any free port on SageMaker's instances
RESOLVE_TIMEOUT_S = 300  # how long a host waits for the others' names to resolve
_ADDRESS = re.compile(r"([A-Za-z0-9._-]+)=([A-Za-z0-9.:_-]+):([0-9]{1,5})")


@dataclass(frozen=True)
class Cluster:
    """The job's hosts, sorted, and which of them this one is."""

    hosts: tuple[str, ...]
    current_host: str
    addresses: tuple[str, ...]  # host:port of each host, in the order of hosts

    @classmethod
    def from_resource_config(cls, config: Mapping[str, Any], override: str | None = None) -> Cluster:
        """From resourceconfig.json as sagemaker_env.resource_config checked it."""
        hosts = tuple(sorted(config["hosts"]))
        if len(set(hosts)) != len(hosts):
            raise UserError(f"resourceconfig.json names a host twice: {', '.join(hosts)}")
        override = os.environ.get("CLUSTER_ADDRESSES", "") if override is None else override
        if override:
            return cls(hosts, str(config["current_host"]), parse_addresses(override, hosts))
        return cls(hosts, str(config["current_host"]), tuple(f"{host}:{PORT}" for host in hosts))

    @property
    def size(self) -> int:
        return len(self.hosts)

    @property
    def index(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def chief(self) -> str:
        return self.hosts[0]

    @property
    def is_chief(self) -> bool:
        return self.current_host == self.chief

    def tf_config(self) -> dict[str, Any]:
        """TF_CONFIG for MultiWorkerMirroredStrategy: every host a worker, the chief first."""
        return {"cluster": {"worker": list(self.addresses)}, "task": {"type": "worker", "index": self.index}}


def parse_addresses(text: str, hosts: Sequence[str]) -> tuple[str, ...]:
    """CLUSTER_ADDRESSES (host=address:port, comma-separated) as addresses in hosts' order."""
    named: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _ADDRESS.fullmatch(item)
        if not match or not 0 < int(match[3]) < 65536:
            raise UserError(
                f"CLUSTER_ADDRESSES: {item!r} is not HOST=ADDRESS:PORT, e.g. algo-1=127.0.0.1:7777"
            )
        if match[1] in named:
            raise UserError(f"CLUSTER_ADDRESSES names {match[1]} twice")
        named[match[1]] = f"{match[2]}:{int(match[3])}"
    if set(named) != set(hosts):
        raise UserError(
            f"CLUSTER_ADDRESSES must name every host of resourceconfig.json once ({', '.join(hosts)}); "
            f"it names {', '.join(sorted(named)) or 'none'}"
        )
    return tuple(named[host] for host in hosts)


def wait_until_resolvable(
    addresses: Sequence[str],
    timeout_s: float = RESOLVE_TIMEOUT_S,
    resolve: Callable[[str], object] = socket.gethostbyname,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Returns once every host name of addresses (host:port) resolves; retries with backoff."""
    pending = [address.rsplit(":", 1)[0] for address in addresses]
    deadline, delay = clock() + timeout_s, 0.5
    while True:
        pending = [name for name in pending if not _resolves(name, resolve)]
        if not pending:
            return
        if clock() >= deadline:
            raise UserError(
                f"the host names {', '.join(pending)} did not resolve within {timeout_s:.0f} s: "
                "are all the job's instances up? (resourceconfig.json names them)"
            )
        sleep(delay)
        delay = min(delay * 2, 10.0)


def _resolves(name: str, resolve: Callable[[str], object]) -> bool:
    try:
        resolve(name)
    except OSError:
        return False
    return True
