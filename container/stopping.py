"""SIGTERM while the job waits on something Python cannot interrupt.

SageMaker stops a job with SIGTERM and kills it 120 s later. train.py's handler only notes
the signal, and the training loop reads that note between steps. Before training, though,
a job can wait for minutes: for its peers' host names to resolve, or inside one TensorFlow
call while the cluster forms, where no Python signal handler runs until the call returns.
Under exit_at_sigterm, a thread that the signal itself wakes (signal.set_wakeup_fd) writes
the failure reason and ends the process at once, with 143 as a shell reports SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from container.sagemaker_env import Paths, one_line, write_failure_file

EXIT_STOPPED = 143  # 128 + SIGTERM


@contextlib.contextmanager
def exit_at_sigterm(waiting_for: str, paths: Paths, noted: list[int]) -> Iterator[None]:
    """Within the block, SIGTERM ends the process now: 'stopped by SIGTERM while waiting for
    WAITING_FOR' in the failure file and on stderr, exit 143. noted: the signals the handler already
    noted, so one that came just before the block counts too. Call from the main thread, with
    a Python handler for SIGTERM installed (the wakeup fd is written only then)."""
    line = one_line(f"stopped by SIGTERM while waiting for {waiting_for}")
    stderr = os.dup(2)  # the terminal's, even while native_log_filtered holds fd 2 back
    wake_read, wake_write = os.pipe()
    finished = threading.Event()
    stopping = threading.Lock()  # the watcher and the main thread may both see the same signal

    def stop_now() -> None:
        if not stopping.acquire(blocking=False):
            threading.Event().wait()  # the other one is writing the reason and will exit
        try:
            with contextlib.suppress(Exception):
                os.write(stderr, f"train: error: {line}\n".encode())
            with contextlib.suppress(Exception):
                write_failure_file(paths, line)
            with contextlib.suppress(Exception):
                sys.stdout.flush()
        finally:
            os._exit(EXIT_STOPPED)

    def watch() -> None:
        while not finished.is_set():
            woken_by = os.read(wake_read, 64)
            if signal.SIGTERM in woken_by and not finished.is_set():
                stop_now()

    watcher = threading.Thread(target=watch, name="exit-at-sigterm", daemon=True)
    previous = None
    try:
        os.set_blocking(wake_write, False)
        previous = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        watcher.start()
        # Checked once the wakeup fd is set: a SIGTERM before it was noted by the handler,
        # which has run by now (starting a thread runs Python code); one after wakes the watcher.
        if noted:
            stop_now()
        yield
    finally:
        finished.set()
        if previous is not None:
            signal.set_wakeup_fd(previous)
        if watcher.is_alive():
            os.write(wake_write, b"\0")  # lets the watcher see that the block is over
            watcher.join()
        for fd in (wake_read, wake_write, stderr):
            os.close(fd)
