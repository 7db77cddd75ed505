"""make predict (aws/predict.py): a model's answers, offline or from a server."""

from __future__ import annotations

import os
import tarfile

import numpy as np
import pytest

from local_server import (
    predict_py,
)
from moto_server import free_port


def test_predictions_over_http_equal_offline_ones_and_reproduce_the_test_accuracy(server, trained):
    data = str(trained.training / "output_dict")

    over_http = predict_py(data, "--url", server.url)
    offline = predict_py(data, "--model", str(trained.base / "model"))

    assert over_http.returncode == 0, over_http.stderr
    assert offline.returncode == 0, offline.stderr
    assert over_http.stdout.splitlines()[:-1] == offline.stdout.splitlines()[:-1]
    accuracy = float(over_http.stdout.splitlines()[-1].split()[0].removeprefix("accuracy="))
    assert accuracy == pytest.approx(trained.metadata()["metrics"]["test_accuracy"], abs=1e-4)


def test_predict_reads_model_tar_gz_as_sagemaker_stores_it(trained, tmp_path):
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in (trained.base / "model").iterdir():
            tar.add(path, arcname=path.name)

    result = predict_py(str(trained.training / "output_dict"), "--model", str(archive))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("accuracy=")


def test_predict_without_a_server_says_how_to_start_one(trained):
    result = predict_py(str(trained.training / "output_dict"), "--url", f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 1
    assert "no server answers" in result.stderr and "make serve-local" in result.stderr


def test_predict_offline_refuses_recordings_of_another_width_in_one_line(trained, tmp_path):
    np.savez(tmp_path / "narrow.npz", x_train=np.zeros((3, 7), dtype=np.float32), y_train=np.array([0, 1, 0]))

    result = predict_py(str(tmp_path / "narrow.npz"), "--model", str(trained.base / "model"))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "predict: error: the recordings hold 7 values each; the model reads 2000 values "
        "(4 channels of 500 samples, one after another)"
    ]


@pytest.mark.parametrize(("options", "words"), [(["--port", "abc"], "--port 'abc' is not a port number")])
def test_predict_refuses_a_port_that_is_not_one(trained, options, words):
    result = predict_py(str(trained.training / "output_dict"), *options)

    assert result.returncode == 1 and words in result.stderr and "Traceback" not in result.stderr


def test_predict_says_a_fifo_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "recordings"
    os.mkfifo(fifo)

    result = predict_py(str(fifo))

    assert result.returncode == 1 and "is not a regular file" in result.stderr
