"""Checkpoints that cannot wedge a job: a spot restart resumes from the last good one.

SageMaker syncs /opt/ml/checkpoints to S3 while the job runs and copies it back when a
managed-spot job restarts; one folder serves every host, so files are named per host:

    algo-1.epoch-000007.keras   the model with its optimizer state after epoch 7
    algo-1.epoch-000007.json    the history up to epoch 7, written last: it commits the pair

A checkpoint exists once its .json does, so a process killed between the two writes leaves
only an uncommitted model, which is ignored. The previous checkpoint is kept until a newer
one is complete, and so is the best epoch's, which early stopping returns to. At start the
newest checkpoint that loads is used; one that does not is moved aside (renamed *.broken)
with a warning, and the one before it, or a fresh start, takes its place.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from container.sagemaker_env import UserError, write_atomically

KEEP = 2  # the newest checkpoint and the one before it, in case the newest does not load
History = list[dict[str, float]]


class Checkpoints:
    def __init__(self, folder: Path, host: str) -> None:
        self.folder = folder
        self.host = host
        self._name = re.compile(rf"{re.escape(host)}\.epoch-([0-9]{{6}})\.json")

    def model_path(self, epoch: int) -> Path:
        return self.folder / f"{self.host}.epoch-{epoch:06d}.keras"

    def state_path(self, epoch: int) -> Path:
        return self.folder / f"{self.host}.epoch-{epoch:06d}.json"

    def committed(self) -> list[int]:
        """Epochs with a committed checkpoint, newest first."""
        if not self.folder.is_dir():
            return []
        epochs = (self._name.fullmatch(path.name) for path in self.folder.iterdir())
        return sorted((int(match.group(1)) for match in epochs if match), reverse=True)

    def restore(self, load_model: Callable[[Path], Any]) -> tuple[Any, History]:
        """The newest checkpoint that loads, as (model, history); (None, []) when there is none."""
        for epoch in self.committed():
            try:
                history = _history(json.loads(self.state_path(epoch).read_text(encoding="utf-8")), epoch)
                model = load_model(self.model_path(epoch))
            except Exception as error:  # a truncated or foreign file can fail in any way
                self._move_aside(epoch, error)
                continue
            print(f"resuming from {self.model_path(epoch)} after epoch {epoch}", flush=True)
            return model, history
        return None, []

    def load(self, epoch: int, load_model: Callable[[Path], Any]) -> Any:
        """The model of a committed epoch, or None (with a warning) when it is gone or broken."""
        try:
            return load_model(self.model_path(epoch))
        except Exception as error:  # a truncated or foreign file can fail in any way
            print(
                f"train: warning: the checkpoint of epoch {epoch} does not load "
                f"({type(error).__name__}: {str(error)[:200]}); the newest epoch counts as the best",
                file=sys.stderr,
                flush=True,
            )
            return None

    def save(self, model: Any, history: History, also_keep: int = 0) -> None:
        """Writes the model, then commits it with the history; then drops all but the newest
        KEEP and the epoch also_keep (the best so far)."""
        epoch = len(history)
        target = self.model_path(epoch)
        partial = target.with_name(f".{target.stem}.partial.keras")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            model.save(partial)
            os.replace(partial, target)
            write_atomically(self.state_path(epoch), json.dumps({"epoch": epoch, "history": history}))
        except (OSError, UserError) as error:
            # A partial file would keep a full disk full: the next epoch could not save either.
            partial.unlink(missing_ok=True)
            target.unlink(missing_ok=True)
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise UserError(
                f"cannot write the checkpoint of epoch {epoch} in {self.folder} ({reason}): free space "
                "for the checkpoints (VolumeSizeInGB), or run without CheckpointConfig"
            ) from None
        committed = self.committed()
        self._prune(keep=committed[:KEEP] + [also_keep] * (also_keep in committed))

    def _prune(self, keep: list[int]) -> None:
        """Removes older checkpoints and models no state ever committed (a kill between writes)."""
        kept = {self.model_path(epoch).name for epoch in keep} | {self.state_path(e).name for e in keep}
        host = re.escape(self.host)
        # committed files, partial models, and the temporary files of a write a kill cut short
        pattern = re.compile(
            rf"\.?{host}\.epoch-[0-9]{{6}}(\.partial)?\.(keras|json)|\.{host}\.epoch-[0-9]{{6}}\.json\.\w+"
        )
        for path in self.folder.iterdir():
            if pattern.fullmatch(path.name) and path.name not in kept:
                path.unlink(missing_ok=True)

    def _move_aside(self, epoch: int, error: Exception) -> None:
        moved = []
        for path in (self.state_path(epoch), self.model_path(epoch)):
            if path.exists():
                try:
                    path.replace(path.with_name(path.name + ".broken"))
                except OSError as rename_error:
                    raise UserError(
                        f"checkpoint {path} does not load and cannot be moved aside "
                        f"({rename_error.strerror}): make {self.folder} writable or delete it"
                    ) from None
                moved.append(path.name)
        older = [e for e in self.committed() if e < epoch]
        fallback = f"trying epoch {older[0]}" if older else "starting afresh"
        print(
            f"train: warning: checkpoint {' and '.join(moved)} does not load "
            f"({type(error).__name__}: {str(error)[:200]}); moved aside as *.broken, {fallback}",
            file=sys.stderr,
            flush=True,
        )


def _history(state: Any, epoch: int) -> History:
    """The state file's history, checked: epoch rows 1..epoch of numbers."""
    if not (isinstance(state, dict) and isinstance(state.get("history"), list)):
        raise ValueError("the state file holds no history list")
    history = state["history"]
    valid = all(
        isinstance(row, dict)
        and row.get("epoch") == number
        and all(isinstance(value, int | float) for value in row.values())
        for number, row in enumerate(history, start=1)
    )
    if not valid or len(history) != epoch:
        raise ValueError(f"the history is not epochs 1 to {epoch}")
    return history
