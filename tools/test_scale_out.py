"""scale_out.py judges two hosts against one and prints the table (the runs themselves are make bench's)."""

from __future__ import annotations

from tools import scale_out


def run(seconds: float, loss: float) -> dict[str, float]:
    return {"epoch_seconds": seconds, "loss": loss}


def three_seeds(seconds: float, loss: float) -> list[dict[str, float]]:
    """Three seeds' runs whose medians are seconds and loss."""
    return [run(seconds * 0.9, loss * 0.99), run(seconds, loss), run(seconds * 1.5, loss * 1.01)]


def test_two_hosts_at_the_target_speed_with_a_loss_among_the_seeds_hold_it():
    one = [run(1.0, 0.30), run(1.1, 0.32), run(0.9, 0.34)]

    judged = scale_out.judged(one, three_seeds(0.6, 0.33), target=1.6)

    assert judged["speedup"] == 1.67 and judged["efficiency"] == 0.83
    assert judged["loss_within_seed_spread"] and judged["target_holds"]


def test_a_faster_run_that_learns_worse_than_the_seeds_misses_the_target():
    one = [run(1.0, 0.30), run(1.0, 0.31), run(1.0, 0.32)]

    judged = scale_out.judged(one, three_seeds(0.5, 0.40), target=1.4)

    assert judged["speedup"] == 2.0
    assert not judged["loss_within_seed_spread"] and not judged["target_holds"]


def test_a_run_that_learns_better_than_every_seed_holds_the_target():
    one = [run(1.0, 0.30), run(1.0, 0.31), run(1.0, 0.32)]

    judged = scale_out.judged(one, three_seeds(0.5, 0.20), target=1.4)

    assert not judged["loss_within_seed_spread"] and judged["loss_below_every_seed"]
    assert judged["target_holds"]


def test_a_run_slower_than_the_target_misses_it_whatever_its_loss():
    one = [run(1.0, 0.30), run(1.0, 0.31), run(1.0, 0.32)]

    assert not scale_out.judged(one, three_seeds(0.8, 0.31), target=1.4)["target_holds"]


def test_the_table_shows_each_network_with_its_verdict():
    one = [run(1.0, 0.30), run(1.0, 0.31), run(1.0, 0.32)]
    results = {
        "rows": 16_000,
        "global_batch": 2048,
        "epochs": 6,
        "linear": scale_out.judged(one, three_seeds(0.6, 0.31), target=1.4),
        "mlp, members=4": scale_out.judged(one, three_seeds(0.8, 0.31), target=1.6),
    }

    text = scale_out.table(results)

    assert "16,000 rows of 4 x 500, global batch 2048" in text
    assert ">=1.4x holds" in text and ">=1.6x MISSED" in text


def test_a_machine_without_two_cores_skips_the_measurement_and_says_why():
    assert "skipped (needs 2 cores" in scale_out.table(
        {"skipped": "needs 2 cores and taskset; this machine has 1"}
    )


def test_one_slow_run_of_two_hosts_does_not_decide_the_speed_up():
    one = [run(1.0, 0.30), run(1.0, 0.31), run(1.0, 0.32)]
    two = [run(0.6, 0.31), run(1.1, 0.31), run(0.6, 0.31)]

    assert scale_out.judged(one, two, target=1.6)["speedup"] == 1.67
