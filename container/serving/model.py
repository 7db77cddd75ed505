"""The trained model as the server and make predict use it: recordings in, the task's answers out."""

from __future__ import annotations

import json
import math
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import task
from container import transform
from container.job_outputs import METADATA_FILE, MODEL_FILE
from container.sagemaker_env import UserError

PREDICT_ROWS = 1024  # rows per call into the model: bounds the memory of a large request


@dataclass
class ServedModel:
    model: Any
    metadata: dict[str, Any]
    predict: Any  # the model's forward pass, compiled once for any number of rows

    @classmethod
    def load(cls, model_dir: Path) -> ServedModel:
        """model.keras and metadata.json from model_dir, as training wrote them."""
        missing = [name for name in (MODEL_FILE, METADATA_FILE) if not (model_dir / name).is_file()]
        if missing:
            raise UserError(
                f"no {' or '.join(missing)} in {model_dir}: serve a folder that training wrote "
                "(make local writes test_dir/model; SageMaker unpacks model.tar.gz into /opt/ml/model)"
            )
        try:
            metadata = json.loads((model_dir / METADATA_FILE).read_text())
            spec = metadata["features"]
            shape = [int(size) for size in spec["shape"]]
            _ = spec["transform"], spec["channels"], spec["mean"], spec["std"], metadata["names"]
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(f"{model_dir / METADATA_FILE} is damaged ({error}): train again") from None

        import keras
        import tensorflow as tf

        try:
            model = keras.saving.load_model(model_dir / MODEL_FILE, compile=False)
        except Exception as error:  # Keras raises many kinds for a damaged archive
            raise UserError(f"cannot load {model_dir / MODEL_FILE}: {error!r}") from None
        # One compiled function for any batch size: concurrent requests share it, and no
        # request pays for tracing after the first.
        predict = tf.function(
            lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, *shape], tf.float32)]
        )
        loaded = cls(model, metadata, predict)
        loaded.outputs(np.zeros((1, loaded.recording_size), dtype=np.float32))  # traces it now
        return loaded

    @classmethod
    def from_archive(cls, archive: Path) -> ServedModel:
        """A model.tar.gz as SageMaker stores it, unpacked into a temporary folder."""
        with tempfile.TemporaryDirectory() as folder:
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(folder, filter="data")
            except (OSError, tarfile.TarError) as error:
                raise UserError(f"cannot unpack {archive}: {error}") from None
            return cls.load(Path(folder))

    @property
    def names(self) -> list[str]:
        """The task's names for the model's outputs: the classes of a classifier."""
        return [str(name) for name in self.metadata["names"]]

    @property
    def input_shape(self) -> list[int]:
        return [int(size) for size in self.metadata["input_shape"]]

    @property
    def recording_size(self) -> int:
        """Numbers in one recording: what a request row must hold."""
        return math.prod(self.input_shape)

    def describe_recording(self) -> str:
        shape = self.input_shape
        if len(shape) == 2:
            channels, samples = shape
            return (
                f"{self.recording_size} values ({channels} channels of {samples} samples, one after another)"
            )
        return f"{self.recording_size} values"

    def outputs(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The model's outputs for rows of recording_size numbers (or rows of input_shape)."""
        recordings = np.asarray(rows, dtype=np.float32).reshape(len(rows), *self.input_shape)
        x = transform.model_input(recordings, self.metadata["features"])
        if not np.isfinite(x).all():
            raise UserError(
                "the recordings' features overflow float32: send values in the training data's range"
            )
        if not len(x):
            return np.zeros((0, *self.model.output_shape[1:]), dtype=np.float32)
        parts = [
            np.asarray(self.predict(x[start : start + PREDICT_ROWS]))
            for start in range(0, len(x), PREDICT_ROWS)
        ]
        return np.concatenate(parts).astype(np.float32)

    def answers(self, rows: npt.NDArray[np.float32]) -> list[dict[str, Any]]:
        """What the task says of each row (task.answers): for a classifier, its class and probabilities."""
        return task.answers(self.outputs(rows), self.names)
