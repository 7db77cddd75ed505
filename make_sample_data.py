"""Writes the bundled sample: synthetic 2-class EEG-like recordings in the original output_dict format.

    python make_sample_data.py                       # test_dir/input/data/training/output_dict
    python make_sample_data.py --rows 40 out.pkl     # a smaller file anywhere

Each row is 8 s at 250 Hz (2000 samples) of 1/f background noise plus an alpha (8-12 Hz)
and a beta (18-25 Hz) rhythm, each narrow-band noise of random amplitude. The classes differ
the way "eyes closed" and "eyes open" recordings do: class 0 carries more alpha than beta
power, class 1 the reverse, with overlap, so neither the raw samples nor one frequency
bin give the label away. The same seed always writes the same file.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

SAMPLE_RATE_HZ = 250
SAMPLES_PER_ROW = 2000
DEFAULT_OUTPUT = Path(__file__).parent / "test_dir/input/data/training/output_dict"


def recordings(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """rows recordings, half of each class in random order, and their class ids."""
    labels = rng.permutation(np.arange(rows) % 2)
    frequencies = np.fft.rfftfreq(SAMPLES_PER_ROW, 1 / SAMPLE_RATE_HZ)
    # 1/f background: white noise shaped in the frequency domain, the usual EEG floor.
    background = band_noise(rows, rng, np.ones_like(frequencies) / np.sqrt(np.maximum(frequencies, 1.0)))
    # Rhythms are narrow-band noise, not pure tones, as in real recordings.
    alpha = band_noise(rows, rng, ((frequencies >= 8) & (frequencies <= 12)).astype(float))
    beta = band_noise(rows, rng, ((frequencies >= 18) & (frequencies <= 25)).astype(float))
    strong = rng.uniform(0.8, 1.6, rows)
    weak = rng.uniform(0.2, 0.8, rows)
    alpha_amplitude = np.where(labels == 0, strong, weak)[:, None]
    beta_amplitude = np.where(labels == 0, weak, strong)[:, None]
    microvolts = 20.0 * (background + alpha_amplitude * alpha + beta_amplitude * beta)
    return microvolts.astype(np.float32), labels


def band_noise(rows: int, rng: np.random.Generator, gain: np.ndarray) -> np.ndarray:
    """Gaussian noise with the spectral shape gain, each row scaled to unit deviation."""
    spectrum = np.fft.rfft(rng.standard_normal((rows, SAMPLES_PER_ROW)), axis=1) * gain
    noise = np.fft.irfft(spectrum, n=SAMPLES_PER_ROW, axis=1)
    return noise / noise.std(axis=1, keepdims=True)


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
