"""The defaults of what runs on your machine, in one place.

make passes every setting it is given (an empty one means "the default"), and so does a
command run by hand without an option: each then takes its default from here. The shell
scripts read theirs with `python3 -m aws.defaults NAME`; make help lists the same values.

Usage: python3 -m aws.defaults NAME    # prints one default, e.g. IMAGE
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = "eeg"  # the ECR repository, the prefix of job names, and the local image's name
INSTANCE_TYPE = "ml.m5.large"  # training and hosting: 2 vCPUs, 8 GiB
MAX_RUN = 24 * 60 * 60  # seconds a job may run; SageMaker's own default, at most 28 days
VOLUME_SIZE = 30  # GB of storage per training instance, the SDK's default
SAMPLE_DATA = REPO / "test_dir" / "input" / "data" / "training"  # the bundled sample
LOCAL_OUTPUT = REPO / "local_output"  # local-mode jobs' output: not under test_dir, which make local empties

PRINTABLE = ("IMAGE", "INSTANCE_TYPE", "MAX_RUN", "VOLUME_SIZE")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in PRINTABLE:
        print(f"usage: python3 -m aws.defaults {{{','.join(PRINTABLE)}}}", file=sys.stderr)
        return 2
    print(globals()[argv[0]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
