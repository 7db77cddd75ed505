"""Scalars for TensorBoard, one point per epoch; SageMaker uploads them while the job runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Scalars:
    """An event file in folder, written one epoch at a time.

    tf.summary.scalar needs the tensorboard package, which the image leaves out: its
    plugin tag is written here instead, which is all TensorBoard's scalar charts read.
    """

    def __init__(self, folder: Path) -> None:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        self.writer = tf.summary.create_file_writer(str(folder))
        self.metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR,
        ).SerializeToString()

    def write(self, step: int, values: dict[str, Any]) -> None:
        import tensorflow as tf

        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.write(name, tf.constant(value, tf.float32), metadata=self.metadata)
        self.writer.flush()
