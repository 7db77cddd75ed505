"""make bench's scale-out: one host against two, each on a core of its own, training the same
global batch on the same rows.

The data is the bundled sample's kind (tests/make_sample_data.py), ROWS training
recordings of 4 x 500 samples, large enough that an epoch's arithmetic, not reading, is
the time. Each host is ./train as SageMaker starts it, in an /opt/ml tree of its own
naming it in resourceconfig.json, pinned to one core with taskset (its own CPU, as an
instance would be) and reached on 127.0.0.1 through CLUSTER_ADDRESSES. One host trains with
batch_size GLOBAL_BATCH, each of two hosts with half of it: the same steps over the same
rows. Both train once per seed of SEEDS. For each network it reports the median epoch time
after the first (which traces the step), the speed-up and its efficiency (speed-up /
hosts), and the loss after EPOCHS epochs of two hosts beside one host's: a faster run that
learns worse shows.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from aws import plot
from container.sagemaker_env import HISTORY_FILE, Paths
from tools import runs

ROWS = 16_000
GLOBAL_BATCH = 2048
EPOCHS = 6
SEEDS = (1, 2, 3)
HOSTS = ("algo-1", "algo-2")
# Hyperparameters over task.py's defaults, and the speed-up each network's target asks of two hosts.
NETWORKS: dict[str, tuple[dict[str, str], float]] = {
    # task.py's default network trained by epochs: model=ridge, the default, is solved, the
    # same on every host, with no steps to share
    "linear": ({"features": "kernels", "model": "linear", "refit": "0"}, 1.4),
    "mlp": ({"features": "timefreq", "model": "mlp", "refit": "0"}, 1.4),  # the default until issue 22
    "mlp, members=4": ({"features": "timefreq", "model": "mlp", "members": "4", "refit": "0"}, 1.6),
}
# A fixed number of epochs, the last kept, and no refit: every run takes the same steps.
FIXED = {"epochs": str(EPOCHS), "patience": "0", "validation_fraction": "0.1"}


def measure(networks: list[str] | None = None) -> dict[str, Any]:
    """The scale-out table's numbers for each network; skipped (with why) without two cores."""
    cores = sorted(_cores())
    if len(cores) < len(HOSTS) or shutil.which("taskset") is None:
        return {"skipped": f"needs {len(HOSTS)} cores and taskset; this machine has {len(cores)}"}
    results: dict[str, Any] = {"rows": ROWS, "global_batch": GLOBAL_BATCH, "epochs": EPOCHS}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "output_dict"
        script = runs.ROOT / "tests/make_sample_data.py"
        rows = str(ROWS * 5 // 4)  # a fifth of them kept as test rows
        subprocess.run(
            [sys.executable, str(script), "--rows", rows, str(data)], check=True, capture_output=True
        )
        for name in networks or list(NETWORKS):
            hyperparameters, target = NETWORKS[name]
            results[name] = network(Path(folder), data, {**hyperparameters, **FIXED}, target, cores)
    return results


def network(
    folder: Path, data: Path, hyperparameters: dict[str, str], target: float, cores: list[int]
) -> dict[str, Any]:
    one, two = [], []
    half = str(GLOBAL_BATCH // len(HOSTS))
    # One host and two take turns, seed by seed: a shared machine's speed drifts over minutes.
    for seed in map(str, SEEDS):
        one.append(
            hosts_run(
                folder, data, {**hyperparameters, "seed": seed, "batch_size": str(GLOBAL_BATCH)}, cores[:1]
            )
        )
        two.append(hosts_run(folder, data, {**hyperparameters, "seed": seed, "batch_size": half}, cores))
    return judged(one, two, target)


def judged(one: list[dict[str, float]], two: list[dict[str, float]], target: float) -> dict[str, Any]:
    """Two hosts' runs against one host's, over the same seeds: the speed-up of the median
    epoch time, and whether two hosts' median loss is within one host's seeds' spread (no
    farther from their median than the seeds are from each other) or below every seed's.

    Medians over seeds, because two hosts wait for each other at every step: an epoch of
    theirs varies from run to run more than one host's does.
    """
    one_epoch = statistics.median(run["epoch_seconds"] for run in one)
    two_epoch = statistics.median(run["epoch_seconds"] for run in two)
    losses = [run["loss"] for run in one]
    two_loss = statistics.median(run["loss"] for run in two)
    speedup = one_epoch / two_epoch
    within = abs(two_loss - statistics.median(losses)) <= max(losses) - min(losses)
    # the check is there to catch a faster run that learns worse: below every seed is not that
    better = two_loss < min(losses)
    return {
        "one_host_epoch_s": round(one_epoch, 3),
        "two_hosts_epoch_s": round(two_epoch, 3),
        "two_hosts_epoch_s_by_seed": [round(run["epoch_seconds"], 3) for run in two],
        "speedup": round(speedup, 2),
        "efficiency": round(speedup / len(HOSTS), 2),
        "one_host_losses": [round(loss, 4) for loss in losses],
        "two_hosts_losses": [round(run["loss"], 4) for run in two],
        "two_hosts_loss": round(two_loss, 4),
        "loss_within_seed_spread": within,
        "loss_below_every_seed": better,
        "target_speedup": target,
        "target_holds": speedup >= target and (within or better),
        "retracing_warnings": sum(int(run.get("retracing_warnings", 0)) for run in two),
    }


def hosts_run(
    folder: Path, data: Path, hyperparameters: dict[str, str], cores: list[int]
) -> dict[str, float]:
    """./train on len(cores) hosts, host i pinned to cores[i]: the chief's median epoch time
    after the first, and its last epoch's training loss."""
    hosts = HOSTS[: len(cores)]
    cluster = ",".join(f"{host}=127.0.0.1:{runs.free_port()}" for host in hosts)
    processes = []
    with tempfile.TemporaryDirectory(dir=folder) as trees:
        for host, core in zip(hosts, cores, strict=True):
            tree = Path(trees) / host
            runs.write_tree(tree, {}, hyperparameters)
            (tree / "input/config/resourceconfig.json").write_text(
                json.dumps({"current_host": host, "hosts": list(hosts)})
            )
            os.link(data, tree / "input/data/training/output_dict")  # a hard link: one copy of the data
            environment = {**runs.train_environment(tree), "CLUSTER_ADDRESSES": cluster}
            command = ["taskset", "-c", str(core), str(runs.ROOT / "train")]
            processes.append(
                subprocess.Popen(
                    command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                )
            )
        logs = [process.communicate()[0] for process in processes]
        if any(process.returncode for process in processes):
            raise SystemExit(
                f"scale_out: ./train failed with {hyperparameters}:\n{logs[0][-2000:]}\n{logs[-1][-2000:]}"
            )
        # The chief's history: epoch times to the millisecond (its log's lines round to 10 ms).
        path = Paths(Path(trees) / hosts[0]).output_data / HISTORY_FILE
        epochs = plot.read_history(path.read_text(encoding="utf-8"), str(path))
    return {
        "epoch_seconds": statistics.median(row["time"] for row in epochs[1:]),
        "loss": epochs[-1]["loss"],
        # TensorFlow warns when a function is traced again and again: the hosts' agreement
        # steps (row counts, validation slices, class fingerprint) are compiled once
        "retracing_warnings": sum(log.count("triggered tf.function retracing") for log in logs),
    }


def _cores() -> set[int]:
    return os.sched_getaffinity(0)


def table(results: dict[str, Any]) -> str:
    if "skipped" in results:
        return f"scale-out: skipped ({results['skipped']})"
    lines = [
        f"scale-out ({results['rows']:,} rows of 4 x 500, global batch {results['global_batch']}, "
        f"{results['epochs']} epochs, one core per host)",
        f"{'network':<18}{'1 host':>9}{'2 hosts':>9}{'speed-up':>10}{'efficiency':>12}"
        f"{'loss, 1 host (3 seeds)':>26}{'2 hosts (3 seeds)':>26}{'target':>8}",
    ]
    for name, row in results.items():
        if not isinstance(row, dict):
            continue
        losses = "/".join(f"{loss:.4f}" for loss in row["one_host_losses"])
        two_losses = "/".join(f"{loss:.4f}" for loss in row["two_hosts_losses"])
        verdict = "holds" if row["target_holds"] else "MISSED"
        lines.append(
            f"{name:<18}{row['one_host_epoch_s']:>8.3f}s{row['two_hosts_epoch_s']:>8.3f}s"
            f"{row['speedup']:>9.2f}x{row['efficiency']:>12.0%}{losses:>26}{two_losses:>26}"
            f"{'>=' + str(row['target_speedup']) + 'x ' + verdict:>16}"
        )
    lines.append("epoch times and losses: medians over the seeds; two hosts' epochs by seed in bench.json")
    warnings = sum(row["retracing_warnings"] for row in results.values() if isinstance(row, dict))
    lines.append(f"TensorFlow's retracing warnings in the two hosts' logs: {warnings}")
    return "\n".join(lines)
