"""Writes the bundled sample: synthetic 2-class, 4-channel EEG-like recordings as an output_dict.

    python tests/make_sample_data.py                       # test_dir/input/data/training/output_dict
    python tests/make_sample_data.py --rows 40 out.pkl     # a smaller file anywhere

Each recording is 2 s at 250 Hz from 4 channels, stored as (rows, channels, samples) =
(rows, 4, 500): 1/f background noise, partly shared between channels as volume conduction
makes it, plus an alpha (8-12 Hz) and a beta (18-25 Hz) rhythm of random amplitude. The
classes differ the way real EEG tasks do, in two weak ways at once:
- band power: class 0 tends to carry more alpha than beta, class 1 the reverse;
- a time-locked event: 300 ms after the cue at 0.5 s, class 1 shows a positive deflection
  on channels 3 and 4 (an event-related potential), with jittered latency and amplitude;
  class 0 shows a smaller one.
Neither cue alone separates the classes well; a model that sees both the time course and
the spectrum does. The same seed always writes the same file.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

SAMPLE_RATE_HZ = 250
CHANNELS = 4
SAMPLES_PER_CHANNEL = 500
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "test_dir/input/data/training/output_dict"


def recordings(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """rows recordings (rows, CHANNELS, SAMPLES_PER_CHANNEL), half of each class, and their class ids."""
    labels = rng.permutation(np.arange(rows) % 2)
    shape = (rows, CHANNELS)
    frequencies = np.fft.rfftfreq(SAMPLES_PER_CHANNEL, 1 / SAMPLE_RATE_HZ)
    # 1/f background, half of it common to all channels.
    pink = 1 / np.sqrt(np.maximum(frequencies, 1.0))
    background = band_noise(shape, rng, pink) + band_noise((rows, 1), rng, pink)
    # Rhythms are narrow-band noise, not pure tones, as in real recordings.
    alpha = band_noise(shape, rng, ((frequencies >= 8) & (frequencies <= 12)).astype(float))
    beta = band_noise(shape, rng, ((frequencies >= 18) & (frequencies <= 25)).astype(float))
    more, less = rng.uniform(0.7, 1.5, rows), rng.uniform(0.2, 0.9, rows)
    alpha_amplitude = np.where(labels == 0, more, less)[:, None, None]
    beta_amplitude = np.where(labels == 0, less, more)[:, None, None]
    signal = background + alpha_amplitude * alpha + beta_amplitude * beta
    signal += event_related_potential(labels, rng)
    return (20.0 * signal).astype(np.float32), labels  # microvolts


def event_related_potential(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A positive bump 300 ms (jittered) after a cue at 0.5 s on channels 3 and 4, larger in class 1."""
    seconds = np.arange(SAMPLES_PER_CHANNEL) / SAMPLE_RATE_HZ
    latency = 0.8 + rng.normal(0, 0.04, len(labels))[:, None]
    amplitude = np.where(labels == 1, 2.0, 0.5)[:, None] * rng.uniform(0.6, 1.4, len(labels))[:, None]
    bump = amplitude * np.exp(-0.5 * ((seconds - latency) / 0.08) ** 2)
    on_channel = np.array([0.0, 0.0, 1.0, 0.7])[None, :, None]
    return bump[:, None, :] * on_channel


def band_noise(shape: tuple[int, int], rng: np.random.Generator, gain: np.ndarray) -> np.ndarray:
    """Gaussian noise with the spectral shape gain, each recording scaled to unit deviation."""
    spectrum = np.fft.rfft(rng.standard_normal((*shape, SAMPLES_PER_CHANNEL)), axis=-1) * gain
    noise = np.fft.irfft(spectrum, n=SAMPLES_PER_CHANNEL, axis=-1)
    return noise / noise.std(axis=-1, keepdims=True)


def output_dict(rows: int, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """The original workflow's dict: x_train, y_train2, x_test, y_test2, labels one-hot."""
    x, labels = recordings(rows, np.random.default_rng(seed))
    one_hot = np.eye(2, dtype=np.float32)[labels]
    n_test = int(rows * test_fraction)
    return {
        "x_train": x[n_test:],
        "y_train2": one_hot[n_test:],
        "x_test": x[:n_test],
        "y_test2": one_hot[:n_test],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--rows", type=int, default=400, help="recordings in all (default 400)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share kept as x_test")
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("wb") as file:
        pickle.dump(output_dict(args.rows, args.test_fraction, args.seed), file, protocol=4)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, {args.rows} rows)")


if __name__ == "__main__":
    main()
