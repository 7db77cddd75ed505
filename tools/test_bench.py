"""make bench's table says what its JSON holds (the measurements themselves run in make bench)."""

from __future__ import annotations

from tools import bench, recipe

RESULTS = {
    "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 4.0, "bfloat16": True, "python": "3.11"},
    "matmul_gflops": 250.0,
    "matmul_gflops_bfloat16": 500.0,
    "throughput": {
        name: {
            "features": features,
            "model": model,
            "precision": precision,
            "batch_size": batch,
            "parameters": parameters,
            "samples_per_s": speed,
            "roofline_samples_per_s": 25_000,
            "roofline_fraction": fraction,
            "bfloat16_roofline_fraction": fraction / 2,
        }
        for name, features, model, precision, batch, parameters, speed, fraction in (
            ("original", "fft", "mlp", "float32", 32, 1_698_754, 3_000, 0.12),
            ("default", "timefreq", "mlp", "bfloat16", 1024, 739_266, 60_000, 1.07),
        )
    },
    "speedup": 20.0,
    "flop_speedup": 8.7,
    "accuracy": {
        "sample": {
            "original": {"seconds_to_target": None, "seconds_to_original_best": 12.0, "test_accuracy": 0.887},
            "default": {"seconds_to_target": 1.3, "seconds_to_original_best": 1.5, "test_accuracy": 0.95},
            "time_to_accuracy_speedup": None,
            "time_to_original_best_speedup": 8.0,
            "timing_runs": 3,
        }
    },
    "memory": {
        "dataset_mb": 131.2,
        "baseline_mb": 645.0,
        "peak_mb": 688.0,
        "over_baseline_per_dataset_byte": 0.33,
    },
    "make_local": {"seconds": 6.5, "tensorflow_import_seconds": 4.4, "test_line": "test_accuracy=0.95"},
    "serving": {
        name: {
            "requests": 10_000,
            "concurrency": 16,
            "workers": 2,
            "requests_per_s": speed,
            "p50_ms": 18.2,
            "p99_ms": 45.1,
            "errors": 0,
            "recording": recording,
        }
        for name, speed, recording in (
            ("default", 500.5, "4x500"),
            ("previous_defaults", 812.5, "4x500"),
            ("default_one_channel", 120.5, "1x2000"),
        )
    }
    | {"previous_over_default": 1.62, "target_within_2x": True},
}


def test_the_table_shows_speed_roofline_accuracy_memory_and_make_local():
    text = bench.table(RESULTS)

    assert "default (timefreq, mlp, batch 1024, bfloat16)" in text and "107%" in text
    assert "20.0x samples/s, 8.7x FLOP/s" in text
    assert "never   12.0s  0.887" in text and "1.3s    1.5s  0.950" in text
    assert "- / 8.0x" in text
    assert "the median of 3 runs" in text
    assert "0.33 x the data above it" in text
    assert "make local: 6.5 s" in text
    assert (
        "previous defaults: 10,000 requests of one 4x500 recording, 16 at a time, 2 workers: 812.5 requests/s"
        in text
    )
    assert "default one channel: 10,000 requests of one 1x2000 recording" in text
    assert "p50 18.2 ms, p99 45.1 ms, 0 errors" in text


def test_seconds_to_a_level_counts_until_validation_accuracy_first_reaches_it():
    curve = [(1.0, 0.5), (2.0, 0.8), (3.0, 0.9), (4.0, 0.85)]

    assert bench.seconds_to(0.8, curve) == 2.0
    assert bench.seconds_to(0.9, curve) == 3.0
    assert bench.seconds_to(0.95, curve) is None


def test_a_median_time_counts_never_as_longer_than_any_time():
    assert bench.median_seconds([2.0, None, 1.0]) == 2.0
    assert bench.median_seconds([None, None, 1.0]) is None


def test_the_summary_takes_accuracies_from_the_first_run_and_times_as_medians():
    first = [(1.0, 0.7), (2.0, 0.9)]
    repeats = [[(0.5, 0.7), (1.5, 0.9)], [(3.0, 0.7), (4.0, 0.9)]]

    result = bench.summary([first, *repeats], test_accuracy=0.8766, original_best=0.9)

    assert result["seconds_to_target"] == 2.0
    assert result["seconds_to_original_best"] == 2.0
    assert result["best_val_accuracy"] == 0.9
    assert result["test_accuracy"] == 0.877
    assert result["epochs"] == 2


def test_the_original_recipe_logs_validation_accuracy_each_epoch():
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 8)).astype(np.float32), np.arange(16) % 2
    model = recipe.compiled(keras, recipe.ORIGINAL, 8)
    logs: list[dict[str, float]] = []

    recipe.epoch_seconds(keras, model, x, y, 8, 2, (x, y), logs)

    assert len(logs) == 2 and all("val_accuracy" in row for row in logs)
