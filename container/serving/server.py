"""The production HTTP server: gunicorn, set up from the environment SageMaker passes.

SAGEMAKER_MODEL_SERVER_WORKERS   worker processes, each with its own copy of the model
                                 (default: one per CPU the container may use: its CPU
                                 quota, docker run --cpus, when it has one)
SAGEMAKER_MODEL_SERVER_TIMEOUT   seconds a worker may go without answering gunicorn's
                                 master (a request stuck that long in every thread)
                                 before it is restarted (default 60; SageMaker itself
                                 gives each request 60 s)
SAGEMAKER_BIND_TO_PORT           the port (default 8080, where SageMaker sends requests)
SERVE_HOST                       the address to listen on (default 0.0.0.0; 127.0.0.1
                                 keeps a local server private to this machine)
SERVE_THREADS                    threads per worker (default 4): requests answered at once;
                                 a request takes one only once it has arrived whole
                                 (worker.py: slow clients get 10 s for their headers)
SERVE_ACCESS_LOG=1               log every request
SAGEMAKER_MAX_PAYLOAD_IN_MB      set by Batch Transform: the largest body (default 6)
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from container.sagemaker_env import UserError, server_settings
from container.serving.payload import max_payload_bytes
from container.serving.worker import WholeRequestWorker

# SageMaker sends SIGKILL 30 s after SIGTERM: requests in flight get most of that to finish.
GRACEFUL_SECONDS = 20


def container_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this container may use: those it may run on, held to its CPU quota when it
    has one (docker run --cpus 1.5 gives 2: the quota rounded up), cgroup v2 or v1."""
    cpus = len(os.sched_getaffinity(0))
    for quota_file, period_file in (
        (cgroup / "cpu.max", None),
        (cgroup / "cpu" / "cpu.cfs_quota_us", cgroup / "cpu" / "cpu.cfs_period_us"),
        (cgroup / "cpu,cpuacct" / "cpu.cfs_quota_us", cgroup / "cpu,cpuacct" / "cpu.cfs_period_us"),
    ):
        try:
            fields = quota_file.read_text().split()
            if period_file is not None:
                fields.append(period_file.read_text().strip())
            quota, period = int(fields[0]), int(fields[1])
        except (OSError, ValueError, IndexError):  # no such file, or "max": no quota
            continue
        if quota > 0 and period > 0:
            return max(1, min(cpus, math.ceil(quota / period)))
    return cpus


def options(environ: Mapping[str, str], cpus: int) -> dict[str, Any]:
    """gunicorn's settings from the environment; a bad value is a UserError naming it."""
    settings = server_settings(environ, cpus)
    workers = settings["workers"]
    return {
        "bind": f"{environ.get('SERVE_HOST') or '0.0.0.0'}:{settings['port']}",
        "workers": workers,
        "worker_class": WholeRequestWorker,  # gthread, but a thread only for a whole request
        "threads": settings["threads"],
        # Connections at once per worker: each may buffer a request of up to the payload limit
        # while it arrives (worker.py), so their number bounds that memory.
        "worker_connections": 128,
        "timeout": settings["timeout"],
        "graceful_timeout": GRACEFUL_SECONDS,
        "accesslog": "-" if environ.get("SERVE_ACCESS_LOG") == "1" else None,
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,  # gunicornc's socket: nothing here uses it
        # TensorFlow's thread pools are per process: share the CPUs out among the workers.
        "raw_env": [f"TF_NUM_INTRAOP_THREADS={max(1, cpus // workers)}", "TF_NUM_INTEROP_THREADS=1"],
    }


class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        # In each worker, after the fork: TensorFlow must not be loaded before it.
        from container.serving.app import create_app

        return create_app()


def main() -> int:
    try:
        settings = options(os.environ, container_cpus())
    except UserError as error:
        print(f"serve: {error}", file=sys.stderr)
        return 2
    WholeRequestWorker.body_limit = max_payload_bytes(os.environ)
    for variable in settings.pop("raw_env"):
        name, _, value = variable.partition("=")
        os.environ.setdefault(name, value)  # before the workers fork, so each inherits them
    Server(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
