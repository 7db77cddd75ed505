"""Two hosts as SageMaker runs them: each on its own network stack, both on port 7777, found by name.

tests/netns.py gives algo-1 and algo-2 a network namespace each (root only: skipped
elsewhere, with the reason). tests/netns_worker.py forms the cluster in them with cluster.py
and distribution.py as ./train does; the last test runs ./train itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import netns
from conftest import TRAIN, new_opt_ml

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "netns_worker.py"
HOSTS = ["algo-1", "algo-2"]
# Both hosts import TensorFlow and form the cluster: about 10 s on our 2 cores.
START_S = 60
# TensorFlow's coordination service calls a host lost after 10 s without its heartbeat (its
# default), or at once when the host's connections reset.
PEER_FAILURE_S = 30
TRAIN_S = 120  # two epochs of the small sample on each host, TensorFlow's start included


@pytest.fixture(scope="module")
def namespaces() -> Iterator[list[netns.Namespace]]:
    reason = netns.unavailable()
    if reason:
        pytest.skip(reason)
    with netns.linked_namespaces(HOSTS) as made:
        yield made


def write_config(base: Path, host: str) -> None:
    """resourceconfig.json as SageMaker writes it on host."""
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": host, "hosts": HOSTS, "network_interface_name": "eth0"})
    )


def environment(base: Path) -> dict[str, str]:
    # Nothing of a local run's cluster settings: the names and the one port must do.
    kept = {k: v for k, v in os.environ.items() if k not in ("CLUSTER_ADDRESSES", "TF_CONFIG")}
    # gRPC honours http(s)_proxy: a proxy of this machine's cannot reach the namespaces.
    no_proxy = ",".join(filter(None, [os.environ.get("no_proxy", ""), *HOSTS]))
    return {
        **kept,
        "SAGEMAKER_BASE_DIR": str(base),
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "no_proxy": no_proxy,
        "NO_PROXY": no_proxy,
    }


class Host:
    """A process in one host's namespace, whose output lines a test can wait for."""

    def __init__(self, namespace: netns.Namespace, base: Path, argv: list[str]) -> None:
        self.name = namespace.host
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            namespace.command(argv),
            env=environment(base),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, prefix: str, timeout: float = START_S) -> str:
        """The first line that starts with prefix, once printed; fails if the process ends first."""

        def found() -> str | None:
            return next((line for line in self.lines if line.startswith(prefix)), None)

        with self._changed:
            printed = self._changed.wait_for(lambda: found() or not self._reader.is_alive(), timeout)
        line = found()
        assert line, f"{self.name} printed no {prefix!r} (ended: {not printed}):\n{self.output()}"
        return line

    def finish(self, timeout: float) -> float:
        """Seconds until the process exits, within timeout."""
        started = time.monotonic()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} still runs after {timeout} s:\n{self.output()}")
        self._reader.join(timeout)
        return time.monotonic() - started

    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def stop(self) -> None:
        self.process.kill()  # also ends a stopped (SIGSTOP) process
        self.process.wait()
        self._reader.join()


@contextmanager
def started(namespaces: list[netns.Namespace], folder: Path, argv: list[str]) -> Iterator[list[Host]]:
    """argv run on every host at once, each on its /opt/ml tree folder/HOST; all stopped on leaving."""
    hosts: list[Host] = []
    try:
        for namespace in namespaces:
            base = folder / namespace.host
            write_config(base, namespace.host)
            hosts.append(Host(namespace, base, argv))
        yield hosts
    finally:
        for host in hosts:
            host.stop()


def worker(*arguments: str) -> list[str]:
    """tests/netns_worker.py, which forms the cluster as ./train does, then all-reduces."""
    return [sys.executable, str(WORKER), *arguments]


@pytest.fixture(scope="module")
def formed(namespaces: list[netns.Namespace], tmp_path_factory: pytest.TempPathFactory) -> list[Host]:
    """The two hosts, each having formed the cluster and all-reduced once, exited."""
    with started(namespaces, tmp_path_factory.mktemp("formed"), worker()) as hosts:
        for host in hosts:
            host.finish(START_S)
        return hosts


def test_two_hosts_each_on_its_own_network_stack_form_one_cluster_by_name(formed: list[Host]) -> None:
    assert [host.process.returncode for host in formed] == [0, 0], [host.output() for host in formed]


def test_both_hosts_listen_on_the_same_port_7777(formed: list[Host]) -> None:
    configs = [json.loads(host.wait_for("tf_config=").partition("=")[2]) for host in formed]

    assert [config["cluster"]["worker"] for config in configs] == [["algo-1:7777", "algo-2:7777"]] * 2
    assert [config["task"] for config in configs] == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
    ]


def test_an_all_reduce_sums_both_hosts_values_on_each_host(formed: list[Host]) -> None:
    # algo-1 gives 1, algo-2 gives 2
    assert [host.wait_for("sum=") for host in formed] == ["sum=3.0", "sum=3.0"]


@dataclass
class Lost:
    """A cluster that lost one host to a signal while both all-reduced."""

    survivor: Host
    waited: float  # seconds from the signal until the other host exited


def lose(namespaces: list[netns.Namespace], folder: Path, index: int, signum: int) -> Lost:
    with started(namespaces, folder, worker("--steps", "1000000000")) as hosts:
        for host in hosts:
            host.wait_for("step=10")
        hosts[index].process.send_signal(signum)
        survivor = hosts[1 - index]
        waited = survivor.finish(PEER_FAILURE_S)
    print(f"{survivor.name} exited {waited:.1f} s after {hosts[index].name} got signal {signum}")
    return Lost(survivor, waited)


@pytest.fixture(scope="module")
def worker_killed(namespaces: list[netns.Namespace], tmp_path_factory: pytest.TempPathFactory) -> Lost:
    """algo-2 killed (SIGKILL): its connections reset."""
    return lose(namespaces, tmp_path_factory.mktemp("killed"), 1, signal.SIGKILL)


@pytest.fixture(scope="module")
def chief_frozen(namespaces: list[netns.Namespace], tmp_path_factory: pytest.TempPathFactory) -> Lost:
    """algo-1 stopped (SIGSTOP): its connections stay open, as a host's that hangs or is cut off."""
    return lose(namespaces, tmp_path_factory.mktemp("frozen"), 0, signal.SIGSTOP)


def test_killing_a_worker_fails_the_chief_within_30_s(worker_killed: Lost) -> None:
    assert worker_killed.survivor.process.returncode == 1
    assert worker_killed.waited < PEER_FAILURE_S
    assert worker_killed.survivor.wait_for("error: ").startswith("error: lost contact with")


def test_the_chief_names_the_worker_it_lost(worker_killed: Lost) -> None:
    error = worker_killed.survivor.wait_for("error: ")

    assert error.startswith("error: lost contact with algo-2"), worker_killed.survivor.wait_for("cause: ")


def test_a_frozen_chief_fails_the_worker_within_30_s(chief_frozen: Lost) -> None:
    assert chief_frozen.survivor.process.returncode == 1
    assert chief_frozen.waited < PEER_FAILURE_S
    assert chief_frozen.survivor.wait_for("error: ").startswith("error: lost contact with")


def test_two_hosts_run_train_in_their_own_namespaces_and_only_the_chief_writes_the_model(
    namespaces: list[netns.Namespace], tmp_path: Path
) -> None:
    trees = [new_opt_ml(tmp_path / host) for host in HOSTS]  # the sample in the training channel
    for tree in trees:
        tree.hyperparameters({"epochs": "2", "batch_size": "8"})

    with started(namespaces, tmp_path, [str(TRAIN)]) as hosts:
        for host in hosts:
            host.finish(TRAIN_S)

    assert [host.process.returncode for host in hosts] == [0, 0], [host.output() for host in hosts]
    assert trees[0].model_file.exists()
    assert not trees[1].model_file.exists()


# --- tests/netns.py itself


def test_namespaces_and_their_hosts_files_are_removed_even_when_the_test_fails() -> None:
    if reason := netns.unavailable():
        pytest.skip(reason)

    with pytest.raises(RuntimeError, match="a failing test"), netns.linked_namespaces(["h-1", "h-2"]) as made:
        names = [namespace.name for namespace in made]
        raise RuntimeError("a failing test")

    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not [name for name in names if name in listed.split()]
    assert not [name for name in names if (netns.ETC_NETNS / name).exists()]


def test_without_root_the_namespace_tests_are_skipped_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    assert netns.unavailable() == (
        "network namespaces need root (ip netns add); run the tests as root, as CI does"
    )
