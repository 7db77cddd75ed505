"""What the repository itself must keep true for SageMaker to run what it builds."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


SCRIPTS = [
    "train",
    "serve",
    "train_local.sh",
    "serve_local.sh",
    "aws/moto_local.sh",
    "tests/run.sh",
    "build_and_push.sh",
    ".ci/run",
    "tests/stubs/docker",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_committed_with_their_run_bit(script):
    assert git("ls-files", "--stage", script).startswith("100755 ")


@pytest.mark.parametrize(
    "script", ["train", "serve", "train_local.sh", "serve_local.sh", "Dockerfile", ".ci/run"]
)
def test_scripts_are_checked_out_with_lf_line_endings(script):
    assert "eol: lf" in git("check-attr", "eol", script)


def test_no_model_or_output_is_committed_under_test_dir():
    committed = git("ls-files", "test_dir/model", "test_dir/output").split()

    assert committed == ["test_dir/model/.gitkeep", "test_dir/output/.gitkeep"]


@pytest.mark.parametrize("program", ["train", "serve"])
def test_the_container_programs_hand_over_to_python_with_exec_so_sigterm_reaches_it(program):
    last_command = [line for line in (REPO / program).read_text().splitlines() if line.strip()][-1]

    assert re.match(r"exec python3? ", last_command)


@pytest.mark.parametrize("program", ["train", "serve"])
def test_the_container_programs_give_numpy_one_blas_thread_unless_told_otherwise(program, tmp_path):
    python = tmp_path / "python3"  # what the program hands over to: says what it was given
    python.write_text('#!/bin/sh\necho "${OPENBLAS_NUM_THREADS-unset}"\n')
    python.chmod(0o755)
    environment = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    environment["PATH"] = f"{tmp_path}{os.pathsep}{environment['PATH']}"

    def threads(**setting: str) -> str:
        done = subprocess.run(
            [str(REPO / program)], env={**environment, **setting}, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert (threads(), threads(OPENBLAS_NUM_THREADS="4")) == ("1", "4")


def test_the_gpu_requirements_pin_the_same_versions_as_the_cpu_ones():
    def pins(name: str) -> dict[str, str]:
        lines = (REPO / name).read_text().splitlines()
        pairs = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
        return {package.split("[")[0].lower().replace("_", "-"): version for package, version in pairs}

    cpu, gpu = pins("requirements.txt"), pins("requirements-gpu.txt")

    assert gpu.pop("tensorflow") == cpu.pop("tensorflow-cpu")
    assert all(cpu[package] == version for package, version in gpu.items())


def test_the_docker_build_context_leaves_out_data_environments_and_history():
    ignored = (REPO / ".dockerignore").read_text().splitlines()

    first_exception = min(i for i, line in enumerate(ignored) if line.startswith("!"))
    assert "*" in ignored[:first_exception]  # everything out, then the program back in
    assert {"!train", "!train.py", "!serve", "!task.py", "!container/"} <= set(ignored)
    assert not any(
        line.startswith(("!test_dir", "!.venv", "!tests", "!.git", "!aws", "!tools")) for line in ignored
    )
