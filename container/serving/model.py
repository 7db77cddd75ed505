"""The trained model as the server and make predict use it: recordings in, the task's answers out."""

from __future__ import annotations

import json
import math
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import task
from container import transform
from container.job_outputs import METADATA_FILE, MODEL_FILE
from container.native_log import native_log_filtered
from container.sagemaker_env import UserError, one_line

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
            shape = checked_metadata(metadata)
            metadata["features"] = transform.loaded(metadata["features"])
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            reason = "nested too deeply" if isinstance(error, RecursionError) else one_line(str(error))
            raise UserError(f"{model_dir / METADATA_FILE} is damaged ({reason}): train again") from None

        with native_log_filtered():  # TensorFlow's loading chatter (absl, oneDNN) held back
            import keras
            import tensorflow as tf

        try:
            model = keras.saving.load_model(model_dir / MODEL_FILE, compile=False)
        except Exception as error:  # Keras raises many kinds for a damaged archive
            raise UserError(f"cannot load {model_dir / MODEL_FILE}: {one_line(repr(error))}") from None
        # One compiled function for any batch size: concurrent requests share it, and no
        # request pays for tracing after the first.
        predict = tf.function(
            lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, *shape], tf.float32)]
        )
        loaded = cls(model, metadata, predict)
        outputs = loaded.outputs(np.zeros((1, loaded.recording_size), dtype=np.float32))  # traces it now
        try:  # the task's reading of the outputs is what it declares them to be
            answered = task.answers(outputs, loaded.names)
            if len(answered) != 1 or not isinstance(answered[0], dict):
                raise ValueError(f"task.answers gave {len(answered)} answers for one row")
        except (ValueError, IndexError, KeyError) as error:
            width = "x".join(map(str, outputs.shape[1:]))
            raise UserError(
                f"the model in {model_dir} gives {width} outputs, which task.answers cannot "
                f"read with the names in {METADATA_FILE} ({metadata['names'][:5]}): {error}"
            ) from None
        return loaded

    @classmethod
    def from_archive(cls, archive: Path) -> ServedModel:
        """A model.tar.gz as SageMaker stores it, unpacked into a temporary folder."""
        with tempfile.TemporaryDirectory() as folder:
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(folder, filter="data")
            except (OSError, EOFError, zlib.error, tarfile.TarError) as error:  # EOFError: cut short
                raise UserError(
                    f"cannot unpack {archive}: {one_line(str(error)) or type(error).__name__}"
                ) from None
            held = sorted(path.name for path in Path(folder).iterdir())
            if MODEL_FILE not in held or METADATA_FILE not in held:
                raise UserError(
                    f"{archive} holds no {MODEL_FILE} and {METADATA_FILE} at its top level (it holds "
                    f"{', '.join(held[:5]) or 'nothing'}): archive the model folder's files, as "
                    "training's model.tar.gz does (tar -czf model.tar.gz -C model .)"
                )
            try:
                return cls.load(Path(folder))
            except UserError as error:  # named by the archive, not the folder that is gone
                raise UserError(str(error).replace(folder, f"{archive}:")) from None

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
        if rows.ndim > 2 and list(rows.shape[1:]) != self.input_shape:  # not one flattened as another
            raise UserError(
                f"the recordings are {' x '.join(map(str, rows.shape[1:]))} each; the model reads "
                f"{self.describe_recording()}"
            )
        with np.errstate(over="ignore"):  # beyond float32: inf, refused below
            rows = np.asarray(rows, dtype=np.float32)
        if rows.size != len(rows) * self.recording_size:
            raise UserError(
                f"the recordings hold {rows.size // max(1, len(rows))} values each; the model reads "
                f"{self.describe_recording()}"
            )
        recordings = rows.reshape(len(rows), *self.input_shape)
        with np.errstate(over="ignore", invalid="ignore"):
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


def checked_metadata(metadata: Any) -> list[int]:
    """The model input's shape, once every field a request depends on is of its kind: names
    a list of strings; the transform one of transform.FEATURES; channels a whole number;
    mean and std numbers of the features' shape; kernels' biases, one row per channel.
    ValueError or TypeError says which is not."""
    spec = metadata["features"]
    shape, recording = spec["shape"], metadata["input_shape"]
    for sizes in (shape, recording):
        if not isinstance(sizes, list) or not all(type(size) is int and size >= 1 for size in sizes):
            raise TypeError(f"shape {sizes!r} is not a list of positive whole numbers")
    names = metadata["names"]
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise TypeError(f"names is {names!r}, not a list of strings")
    if len(set(names)) < len(names):  # an answer's probabilities are keyed by name
        raise ValueError(f"names {names!r} name an output twice")
    if spec["transform"] not in transform.FEATURES:
        raise ValueError(f"transform {spec['transform']!r} is none of {', '.join(transform.FEATURES)}")
    if type(spec["channels"]) is not int or spec["channels"] < 1:
        raise TypeError(f"channels is {spec['channels']!r}, not a whole number of channels")
    for name in ("mean", "std"):
        with np.errstate(over="ignore"):  # as the model reads them: in float32
            values = np.asarray(spec[name], dtype=np.float64).astype(np.float32)
        if list(values.shape) != shape or not np.isfinite(values).all():
            raise ValueError(f"{name} is not {'x'.join(map(str, shape))} finite numbers, the features' shape")
    if not (np.asarray(spec["std"], dtype=np.float64).astype(np.float32) > 0).all():
        raise ValueError("std holds values that are not above 0")
    if spec["transform"] == "kernels":
        fitted = spec["fitted"]
        channels = recording[0] if len(recording) == 2 else spec["channels"]
        if [fitted["channels"], fitted["samples"]] != [channels, math.prod(recording) // channels]:
            raise ValueError("the kernels were fitted to recordings of another shape")
        plan = np.asarray(fitted["plan"], dtype=np.float64)
        if plan.ndim != 2 or plan.shape[1] != 2 or not (plan >= 1).all() or (plan != np.round(plan)).any():
            raise ValueError("the kernels' plan is not (dilation, count) pairs of whole numbers")
        with np.errstate(over="ignore"):
            biases = np.asarray(fitted["biases"], dtype=np.float64).astype(np.float32)
        per_channel = len(transform.TWOS) * int(plan[:, 1].sum())
        if biases.shape != (channels, per_channel) or not np.isfinite(biases).all():
            raise ValueError(f"the kernels' biases are not {channels}x{per_channel} finite numbers")
    return shape
