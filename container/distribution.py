"""Training on several hosts or GPUs: TensorFlow's strategy for the job, and what hosts agree on.

One host with one device (or none): TensorFlow's default strategy, which adds nothing.
Several GPUs on one host: MirroredStrategy. Several hosts (SageMaker's instance_count > 1):
MultiWorkerMirroredStrategy, whose collectives all-reduce the gradients over gRPC; the
hosts and this host's place among them come from cluster.py as TF_CONFIG.

Each host reads its own rows, so anything that decides what a host does next is agreed
through a collective: how many rows an epoch has, whether SIGTERM arrived, the validation
loss early stopping reads, the classes (the task's names), and (with ShardedByS3Key) the standardisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from container.sagemaker_env import UserError

# A collective waits this long for its peers before failing: a host that died or hangs
# fails the others with a clear reason, well inside SageMaker's 120 s after SIGTERM.
COLLECTIVE_TIMEOUT_S = 60
# TensorFlow's coordination service: every host must join within START_TIMEOUT_S (TensorFlow's
# default waits an hour), and a host without a heartbeat for HEARTBEAT_TIMEOUT_S is lost.
START_TIMEOUT_S = 900
HEARTBEAT_TIMEOUT_S = 10


@dataclass(frozen=True)
class Distribution:
    """The strategy, and how its replicas sit on this job's hosts."""

    strategy: Any
    hosts: int
    names: tuple[str, ...] = ("algo-1",)
    collectives: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def local_replicas(self) -> int:
        return max(1, self.replicas // self.hosts)

    def all_reduce(self, values: Any, op: str = "sum") -> np.ndarray:
        """values summed (or their max, min) over the hosts; a float64 array back.

        Every host must call this the same number of times with the same shape.
        """
        local = np.atleast_1d(np.asarray(values, dtype=np.float64))
        if self.hosts == 1:
            return local
        import tensorflow as tf

        if op == "min":
            return -self.all_reduce(-local, "max")
        try:
            result = self._collective(op)(tf.constant(local)).numpy()
        except tf.errors.OpError as error:
            raise lost_peer(error, self.names, "the start, before training") from error
        if op == "max":  # collectives sum or gather; the largest is taken from a gather
            return result.reshape(-1, len(local)).max(axis=0)
        return result / self.local_replicas  # each of a host's replicas gave the host's values

    def _collective(self, op: str) -> Any:
        """The sum or gather over every replica, compiled once for values of any length: run
        eagerly, each call would be traced again (and TensorFlow warns of the overhead)."""
        if op not in self.collectives:
            import tensorflow as tf

            strategy = self.strategy

            @tf.function(input_signature=[tf.TensorSpec([None], tf.float64)])
            def collective(values: Any) -> Any:
                per_replica = strategy.run(tf.identity, args=(values,))
                if op == "max":
                    return strategy.gather(per_replica, axis=0)
                return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

            self.collectives[op] = collective
        return self.collectives[op]


def for_cluster(cluster: Any) -> Distribution:
    """The strategy for these hosts and this host's devices; several hosts form the cluster.

    Called before TensorFlow runs anything else: the collectives are configured when the
    strategy is made, which TensorFlow allows only before its runtime starts.
    """
    import tensorflow as tf

    if cluster.size > 1:
        os.environ["TF_CONFIG"] = json.dumps(cluster.tf_config())
        bypass_proxies(cluster.addresses)
        configure_coordination(cluster.size)
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)
        handler = signal.getsignal(signal.SIGTERM)
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
            raise UserError(
                f"{cluster.current_host} could not form the cluster of {', '.join(cluster.hosts)}: "
                f"{first_line(error)}; see the other hosts' logs"
            ) from error
        # Its coordination service takes SIGTERM for itself (a preemption notifier that only
        # logs it): put back the handler that finishes the step and stops every host.
        signal.signal(signal.SIGTERM, handler)
        return Distribution(strategy, cluster.size, tuple(cluster.hosts))
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return Distribution(tf.distribute.MirroredStrategy(), 1)
    return Distribution(tf.distribute.get_strategy(), 1)


def configure_coordination(hosts: int) -> None:
    """Fail instead of hanging when a host never starts or stops answering (see the constants)."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context  # these settings have no public API (TF 2.21)

    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader="/job:worker/replica:0/task:0",
        heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_S * 1000,
        cluster_register_timeout_in_ms=START_TIMEOUT_S * 1000,
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name="worker", num_tasks=hosts)],
    )
    # Without it the first host waits at start for the others for an hour, whatever the timeout.
    context.context().coordination_service.cluster_register_with_barrier = True


def bypass_proxies(addresses: Sequence[str]) -> None:
    """gRPC honours http(s)_proxy: the hosts must be reached directly, not through a proxy."""
    names = [address.rsplit(":", 1)[0] for address in addresses]
    for variable in ("no_proxy", "NO_PROXY"):
        present = [name for name in os.environ.get(variable, "").split(",") if name]
        os.environ[variable] = ",".join(present + [name for name in names if name not in present])


def pooled_standardisation(
    distribution: Distribution, rows: int, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The mean and deviation of all hosts' rows, from each host's own (ShardedByS3Key).

    mean and std have one row's shape, flat or not; so have the pooled ones."""
    shape, mean, std = mean.shape, mean.ravel(), std.ravel()
    moments = np.concatenate([[rows], rows * mean, rows * (np.square(std) + np.square(mean))])
    total = distribution.all_reduce(moments)
    count = max(1.0, total[0])
    pooled_mean = total[1 : 1 + len(mean)] / count
    variance = np.maximum(total[1 + len(mean) :] / count - np.square(pooled_mean), 0.0)
    pooled_std = np.sqrt(variance)
    return (
        pooled_mean.reshape(shape).astype(np.float32),
        np.where(pooled_std > 0, pooled_std, 1.0).reshape(shape).astype(np.float32),
    )


def check_same_names(distribution: Distribution, names: list[str], host: str) -> None:
    """Every host must train the same output layer: the task's names (classes), in the same order."""
    digest = hashlib.sha256(json.dumps(names).encode()).digest()
    fingerprint = [len(names), *digest]
    highest = distribution.all_reduce(fingerprint, "max")
    lowest = distribution.all_reduce(fingerprint, "min")
    if not np.array_equal(highest, lowest):
        raise UserError(
            f"the hosts' training data hold different classes ({host} has {', '.join(names)}): "
            "with ShardedByS3Key every host's files must hold every class"
        )


def lost_peer(error: BaseException, hosts: Sequence[str], during: str) -> UserError:
    """The one line to read when a collective failed because another host stopped answering."""
    text = str(error)
    # The failing host's own device (.../task:0/device:CPU:0) comes first in an eager op's error.
    task = re.search(r"/job:worker/(?:replica:\d+/)?task:(\d+)(?![0-9]|/device)", text)
    peer = hosts[int(task.group(1))] if task and int(task.group(1)) < len(hosts) else "another host"
    cause = re.search(
        r"connection reset by peer|connection refused|deadline exceeded|timed out|socket closed", text, re.I
    )
    return UserError(
        f"lost contact with {peer} during {during} ({type(error).__name__}"
        f"{': ' + cause.group(0).lower() if cause else ''}): it stopped or cannot be reached; its own "
        "log and failure file say why; no model written"
    )


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
