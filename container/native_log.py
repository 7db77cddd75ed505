"""What TensorFlow's C++ libraries print to stderr while they load, held back.

They print before their logging is set up, so TF_CPP_MIN_LOG_LEVEL does not reach it:
./train and the server import TensorFlow inside native_log_filtered, which passes on only
the lines that level allows.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# What TensorFlow's C++ libraries print while they load, before their logging is set up, so
# that TF_CPP_MIN_LOG_LEVEL does not reach it: "I..." lines are INFO, "W..." WARNING, "E..."
# ERROR (absl's format), and absl's own note that logging is not set up yet.
NATIVE_LOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d")
ABSL_NOTE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


@contextlib.contextmanager
def native_log_filtered() -> Iterator[None]:
    """Holds back what the C++ libraries write to stderr meanwhile, then passes on what
    TF_CPP_MIN_LOG_LEVEL allows (default here 1: no INFO lines); VERBOSE=1 passes all."""
    if os.environ.get("VERBOSE") == "1":
        yield
        return
    # 1 unless set, as ./train and ./serve set it: what TensorFlow holds back once its logging is up
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"] or 1)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines(keepends=True):
                severity = "IWEF".find(line[0]) if NATIVE_LOG_LINE.match(line) else 3
                if line.rstrip("\n") != ABSL_NOTE and severity >= level:
                    sys.stderr.write(line)
            sys.stderr.flush()
