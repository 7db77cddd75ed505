"""What a training job leaves for SageMaker: the model, its metadata and the history.

Everything here is written so a reader never sees half of it, and so a failed run never
leaves an earlier run's results where they could be taken for its own.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from container.sagemaker_env import (
    HISTORY_FILE,
    METADATA_FILE,
    MODEL_FILE,
    Paths,
    UserError,
    write_atomically,
)

__all__ = [
    "HISTORY_FILE",
    "METADATA_FILE",
    "MODEL_FILE",
    "check_writable",
    "history_csv",
    "publish_model",
    "remove_previous_results",
]


def publish_model(model_dir: Path, model: Any, metadata: dict[str, Any]) -> None:
    """Writes model.keras and metadata.json under temporary names, then renames both."""
    model_dir.mkdir(parents=True, exist_ok=True)
    partial = model_dir / f".{MODEL_FILE}.partial.keras"
    try:
        model.save(partial)
        # allow_nan=False: NaN is not JSON, and strict readers refuse the file.
        write_atomically(model_dir / METADATA_FILE, json.dumps(metadata, indent=2, allow_nan=False) + "\n")
        os.replace(partial, model_dir / MODEL_FILE)
    except BaseException as error:
        partial.unlink(missing_ok=True)
        (model_dir / METADATA_FILE).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise UserError(
                f"cannot write the model to {model_dir} ({error.strerror or error}): free space on "
                "the disk (VolumeSizeInGB)"
            ) from None
        raise


def remove_previous_results(paths: Paths) -> None:
    """A failed run must not leave an earlier run's results behind to be mistaken for its own."""
    earlier = [paths.model / MODEL_FILE, paths.model / METADATA_FILE, paths.failure]
    earlier += [paths.output_data / HISTORY_FILE, *paths.model.glob(".*.partial.keras"), paths.tensorboard]
    for path in earlier:
        try:
            _remove(path)
        except OSError as error:
            raise UserError(
                f"cannot remove {path}, which an earlier run left ({error.strerror}): make "
                f"{path.parent} writable or delete it yourself; that file is not this run's"
            ) from None


def check_writable(paths: Paths) -> None:
    """Writes and removes a file in model/ and output/data/ now (or the nearest folder above
    that exists; nothing is made here): a read-only folder would otherwise be found only at
    the end, after every epoch of training."""
    for wanted in (paths.model, paths.output_data):
        folder = next(folder for folder in (wanted, *wanted.parents) if folder.exists())
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
                pass
        except OSError as error:
            raise UserError(
                f"cannot write to {folder} ({error.strerror}): training writes its results there; "
                "make it writable (mount it read-write)"
            ) from None


def _remove(path: Path) -> None:
    """Deletes a file, a link or a whole folder in its place; a read-only parent of ours is made writable."""
    if not path.is_symlink() and not path.exists():
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
        return
    try:
        path.unlink()
    except PermissionError:
        parent_mode = path.parent.stat().st_mode
        path.parent.chmod(parent_mode | stat.S_IWUSR)  # fails unless the folder is ours
        path.unlink()


def history_csv(history: list[dict[str, float]]) -> str:
    """One row per epoch: epoch, the loss and the task's metrics as logged, time, kept."""
    present = list(dict.fromkeys(name for row in history for name in row))
    present = [name for name in present if name not in ("time", "kept")] + [
        name for name in ("time", "kept") if name in present
    ]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=present, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return text.getvalue()
