"""cluster.py: SageMaker's resourceconfig.json as TensorFlow's cluster."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from container import cluster, distribution
from container.sagemaker_env import UserError


def config(current: str, hosts: list[str]) -> dict:
    return {"current_host": current, "hosts": hosts}


def test_every_host_listens_on_the_one_port_and_the_first_sorted_host_is_the_chief():
    hosts = cluster.Cluster.from_resource_config(config("algo-2", ["algo-2", "algo-1"]), override="")

    assert hosts.tf_config() == {
        "cluster": {"worker": ["algo-1:7777", "algo-2:7777"]},
        "task": {"type": "worker", "index": 1},
    }
    assert hosts.chief == "algo-1" and not hosts.is_chief and hosts.size == 2


def test_one_host_is_a_cluster_of_one_whose_host_is_the_chief():
    hosts = cluster.Cluster.from_resource_config(config("algo-1", ["algo-1"]), override="")

    assert hosts.size == 1 and hosts.is_chief and hosts.index == 0


def test_cluster_addresses_name_each_hosts_address_for_local_runs():
    hosts = cluster.Cluster.from_resource_config(
        config("algo-1", ["algo-1", "algo-2"]), override="algo-2=127.0.0.1:7778, algo-1=127.0.0.1:7777"
    )

    assert hosts.addresses == ("127.0.0.1:7777", "127.0.0.1:7778")


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("algo-1=127.0.0.1:7777", "must name every host"),
        ("algo-1=127.0.0.1:7777,algo-2=127.0.0.1:7778,algo-3=127.0.0.1:7779", "must name every host"),
        ("algo-1=127.0.0.1:7777,algo-1=127.0.0.1:7778", "names algo-1 twice"),
        ("algo-1=127.0.0.1,algo-2=127.0.0.1:7778", "is not HOST=ADDRESS:PORT"),
        ("algo-1=127.0.0.1:70000,algo-2=127.0.0.1:7778", "is not HOST=ADDRESS:PORT"),
    ],
)
def test_bad_cluster_addresses_are_refused_in_one_line(override, words):
    with pytest.raises(UserError, match=words) as error:
        cluster.Cluster.from_resource_config(config("algo-1", ["algo-1", "algo-2"]), override=override)

    assert "\n" not in str(error.value)


@given(st.text(max_size=80))
def test_any_cluster_addresses_give_addresses_for_every_host_or_a_user_error(text):
    try:
        addresses = cluster.parse_addresses(text, ["algo-1", "algo-2"])
    except UserError as error:
        assert "\n" not in str(error)
    else:
        assert len(addresses) == 2 and all(address.rsplit(":", 1)[1].isdigit() for address in addresses)


class FakeClock:
    """Time that passes only when slept, so retries need no real waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_names_that_resolve_late_are_waited_for_with_growing_pauses():
    clock, tries = FakeClock(), {"algo-2": 0}

    def resolve(name: str) -> str:
        if name == "algo-2" and tries["algo-2"] < 4:
            tries["algo-2"] += 1
            raise OSError("not yet")
        return "10.0.0.2"

    cluster.wait_until_resolvable(["algo-1:7777", "algo-2:7777"], 60, resolve, clock, clock.sleep)

    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_names_that_never_resolve_fail_naming_them_and_the_time_waited():
    clock = FakeClock()

    def resolve(name: str) -> str:
        raise OSError("no such host")

    with pytest.raises(UserError, match=r"algo-2 did not resolve within 30 s") as error:
        cluster.wait_until_resolvable(["algo-2:7777"], 30, resolve, clock, clock.sleep)

    assert "\n" not in str(error.value) and clock.now >= 30


def test_pooled_standardisation_keeps_the_shape_of_unflattened_recordings():
    one_host = distribution.Distribution(strategy=None, hosts=1)
    mean = np.arange(6, dtype=np.float32).reshape(2, 3)
    std = np.full((2, 3), 2.0, dtype=np.float32)

    pooled_mean, pooled_std = distribution.pooled_standardisation(one_host, 10, mean, std)

    np.testing.assert_allclose(pooled_mean, mean, rtol=1e-6)
    np.testing.assert_allclose(pooled_std, std, rtol=1e-6)
