"""One host of a cluster, as test_netns_cluster.py runs it inside that host's network namespace.

    SAGEMAKER_BASE_DIR=/tmp/algo-1 ip netns exec NAME .venv/bin/python tests/netns_worker.py [--steps N]

Does what ./train does before training: reads resourceconfig.json, waits for the hosts'
names to resolve, makes TensorFlow's strategy with distribution.for_cluster and
all-reduces this host's number (its index + 1). Prints

    tf_config={"cluster": {"worker": ["algo-1:7777", "algo-2:7777"]}, ...}
    sum=3.0

then all-reduces N more times, printing step=K every 10, and exits 0. When another host is
lost it prints `error: ` and the one line train.py would write, then `cause: ` and
TensorFlow's error on one line, and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from container.cluster import Cluster, wait_until_resolvable
from container.distribution import for_cluster
from container.sagemaker_env import Paths, UserError, resource_config

RESOLVE_TIMEOUT_S = 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=0, help="all-reduces after the first")
    steps = parser.parse_args(argv).steps
    try:
        hosts = Cluster.from_resource_config(resource_config(Paths.from_env()))
        wait_until_resolvable(hosts.addresses, RESOLVE_TIMEOUT_S)
        print(f"tf_config={json.dumps(hosts.tf_config())}", flush=True)
        distribution = for_cluster(hosts)  # before anything else runs in TensorFlow
        print(f"sum={distribution.all_reduce([hosts.index + 1])[0]}", flush=True)
        for step in range(1, steps + 1):
            distribution.all_reduce([hosts.index + 1])
            if step % 10 == 0:
                print(f"step={step}", flush=True)
    except UserError as error:
        print(f"error: {error}", flush=True)
        if error.__cause__ is not None:  # TensorFlow's own words, on one line
            print(f"cause: {' '.join(str(error.__cause__).split())}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
