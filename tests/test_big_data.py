"""Recordings larger than memory: .npy and uncompressed .npz are memory-mapped, so ./train
runs under a real memory limit (a cgroup) smaller than its data, where reading the same
recordings whole is refused with one line."""

from __future__ import annotations

import os
import pickle
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import TRAIN, OptMl, new_opt_ml
from container import data_formats
from container.memory_budget import Budget

CGROUPS = Path("/sys/fs/cgroup/memory")  # cgroup v1's memory controller, as on our machines
LIMIT = 1200 * 2**20  # TensorFlow alone takes about 650 MB
ROWS, SAMPLES = 400_000, 1000  # 1.6 GB of float32 recordings: more than LIMIT


@pytest.fixture
def memory_cgroup(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0 or not (CGROUPS / "memory.limit_in_bytes").exists():
        pytest.skip("needs root and cgroup v1's memory controller to set a memory limit")
    group = CGROUPS / f"eeg-test-{os.getpid()}-{tmp_path.name}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(LIMIT))
        yield group
    finally:
        group.rmdir()  # the processes in it have ended by now


@pytest.fixture(scope="module")
def big_recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """x_train.npy and y_train.npy, written a slice at a time: never whole in this process."""
    folder = tmp_path_factory.mktemp("big")
    x = np.lib.format.open_memmap(folder / "x_train.npy", mode="w+", dtype=np.float32, shape=(ROWS, SAMPLES))
    y = np.arange(ROWS) % 2
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, SAMPLES, dtype=np.float32)
    for start in range(0, ROWS, 50_000):
        labels = y[start : start + 50_000, None]
        noise = rng.standard_normal((len(labels), SAMPLES), dtype=np.float32)
        x[start : start + 50_000] = noise + np.where(labels == 1, np.sin(2 * np.pi * 10 * t), 0)
    x.flush()
    del x
    np.save(folder / "y_train.npy", y)
    return folder


def in_cgroup(tree: OptMl, group: Path) -> subprocess.CompletedProcess:
    """./train as the only process of group, so the group's limit is the job's memory."""
    command = f'echo $$ > "{group}/cgroup.procs" && exec "{TRAIN}"'
    return subprocess.run(
        ["bash", "-c", command], env=tree.environment(), capture_output=True, text=True, timeout=600
    )


def tree_with(base: Path, files: dict[str, Path]) -> OptMl:
    tree = new_opt_ml(base)
    # timefreq: 64 features a recording, which fit where the recordings do not (the default
    # kernels' 10,000 would not: their budget refuses them, tested in test_kernels.py)
    tree.hyperparameters({"epochs": "1", "patience": "0", "features": "timefreq"})
    (tree.training / "output_dict").unlink()
    for name, source in files.items():
        os.link(source, tree.training / name)  # the same bytes, no second copy on disk
    return tree


def test_npy_recordings_larger_than_the_memory_limit_train_under_it(big_recordings, memory_cgroup, tmp_path):
    assert (big_recordings / "x_train.npy").stat().st_size > LIMIT
    tree = tree_with(
        tmp_path / "opt ml", {name: big_recordings / name for name in ("x_train.npy", "y_train.npy")}
    )

    result = in_cgroup(tree, memory_cgroup)

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"data: train={ROWS * 4 // 5} validation={ROWS // 5}" in result.stdout
    assert tree.model_file.stat().st_size > 0


def test_the_same_recordings_read_whole_are_refused_under_that_limit_with_one_line(
    big_recordings, memory_cgroup, tmp_path
):
    with (tmp_path / "output_dict").open("wb") as file:  # today's original layout: one pickle
        x = np.load(big_recordings / "x_train.npy", mmap_mode="r")
        pickle.dump(
            {"x_train": np.asarray(x), "y_train": np.load(big_recordings / "y_train.npy")}, file, protocol=4
        )
    tree = tree_with(tmp_path / "opt ml", {"output_dict": tmp_path / "output_dict"})

    result = in_cgroup(tree, memory_cgroup)

    assert result.returncode == 1
    reason = (tree.base / "output/failure").read_text()
    assert "claims 1.5 GiB in memory" in reason and "container memory limit" in reason
    assert not tree.model_file.exists()


def test_kernel_features_larger_than_the_memory_limit_are_refused_with_one_line_naming_them(
    big_recordings, memory_cgroup, tmp_path
):
    tree = tree_with(
        tmp_path / "opt ml", {name: big_recordings / name for name in ("x_train.npy", "y_train.npy")}
    )
    tree.hyperparameters({"epochs": "1", "features": "kernels"})

    result = in_cgroup(tree, memory_cgroup)

    assert result.returncode == 1
    reason = (tree.base / "output/failure").read_text()
    assert f"the kernels features of {ROWS} training recordings claims" in reason
    assert "container memory limit" in reason and len(reason.splitlines()) == 1
    assert not tree.model_file.exists()


def test_an_uncompressed_npz_maps_its_recordings_and_a_compressed_one_reads_them(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.savez(tmp_path / "stored.npz", x_train=x, y_train=np.array([0, 1, 0, 1]))
    np.savez_compressed(tmp_path / "deflated.npz", x_train=x, y_train=np.array([0, 1, 0, 1]))

    stored = data_formats.read_npz([tmp_path / "stored.npz"], Budget(2**30, "test"))
    deflated = data_formats.read_npz([tmp_path / "deflated.npz"], Budget(2**30, "test"))

    assert isinstance(stored["x_train"], np.memmap) and not isinstance(deflated["x_train"], np.memmap)
    np.testing.assert_array_equal(stored["x_train"], x)
    np.testing.assert_array_equal(deflated["x_train"], x)


def test_a_mapped_npz_member_whose_header_claims_more_than_the_archive_holds_is_refused(tmp_path):
    x = np.zeros((4, 6), dtype=np.float32)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=np.array([0, 1, 0, 1]))
    with zipfile.ZipFile(tmp_path / "data.npz") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["x_train.npy"] = members["x_train.npy"].replace(b"(4, 6)", b"(9, 6)")
    with zipfile.ZipFile(tmp_path / "data.npz", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)

    with pytest.raises(Exception, match="claims more data than the archive holds"):
        data_formats.read_npz([tmp_path / "data.npz"], Budget(2**30, "test"))
