"""A bounded load test of a running server: make bench's serving numbers."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import numpy as np


def load_test(url: str, body: bytes, requests_total: int, concurrency: int) -> dict[str, Any]:
    """Sends body to url/invocations requests_total times, concurrency at a time, keeping each
    connection alive as SageMaker's front end does; returns throughput, latency and errors."""
    import requests

    latencies: list[float] = []
    errors: list[str] = []
    remaining = iter(range(requests_total))
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                started = time.perf_counter()
                try:
                    answer = session.post(
                        f"{url}/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=60
                    )
                    failed = "" if answer.status_code == 200 else f"{answer.status_code} {answer.text[:100]}"
                except requests.RequestException as error:
                    failed = f"{type(error).__name__}: {error}"
                seconds = time.perf_counter() - started
                with lock:
                    (errors.append(failed) if failed else latencies.append(seconds))

    clients = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - started
    milliseconds = np.array(latencies) * 1000
    return {
        "requests": requests_total,
        "concurrency": concurrency,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "requests_per_s": round(requests_total / elapsed, 1),
        "p50_ms": round(float(np.percentile(milliseconds, 50)), 1) if latencies else None,
        "p99_ms": round(float(np.percentile(milliseconds, 99)), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(milliseconds), 1) if latencies else None,
    }
