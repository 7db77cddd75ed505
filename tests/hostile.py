"""What the hostile passes over the commands share (test_hostile_plot, _predict, _settings):
running a command's entry point in-process as `python -m` would, the refusal contract every
input is held to, and one moto account per test module.

The contract: an input is accepted and does what the tests say is right, or it is refused (a
non-zero exit, or a UserError) in one line that names what is wrong, with no traceback,
nothing written outside the expected folders, and nothing sent to AWS for a refused setting.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.httpsession
import botocore.loaders
import botocore.session
import pytest

from aws.context import run_command
from moto_server import ACCOUNT, REGION, Aws

BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
HISTORY = (
    "epoch,loss,accuracy,val_loss,val_accuracy,time,kept\n1,0.7,0.5,0.6,0.7,1.2,0\n2,0.4,0.8,0.3,0.9,0.1,1\n"
)
LOADER = botocore.loaders.create_loader()


# --- running a command in-process, and the refusal contract


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run_main(program: str, main: Callable[[list[str]], int], argv: list[str], capsys) -> Outcome:
    """main(argv) as `python -m` runs it: run_command turns a UserError into its one line; an
    argparse refusal is a SystemExit. Any other exception propagates: it would be a traceback."""
    try:
        code = run_command(program, lambda: main(argv))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def refusal_line(err: str, program: str) -> str:
    """stderr's one error line, checked: besides it, only argparse's usage may be there."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("make")]
    assert "Traceback" not in err, err
    assert lines and lines[-1].startswith(f"{program}: error: "), err
    if lines[0].startswith("usage:"):
        assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), err
    else:
        assert len(lines) == 1, err
    return lines[-1]


def assert_refused(outcome: Outcome, program: str, words: str) -> str:
    assert outcome.code != 0
    line = refusal_line(outcome.err, program)
    assert words in line, line
    return line


@dataclass(frozen=True)
class Refused:
    """The expected refusal: one line holding words ({path} is the input's path)."""

    words: str = ""


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


# --- one moto account per module, and this process pointed at it


@pytest.fixture(scope="module")
def account(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Aws:
    """One moto account for this module: the default bucket holding training data for the
    images used here, and team-bucket for jobs' outputs."""
    aws = Aws.fresh(moto_endpoint, tmp_path_factory.mktemp("hostile-aws"))
    s3 = aws.client("s3")
    for bucket in (BUCKET, "team-bucket"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in ("data/eeg/output_dict", "data/team/eeg-v2/output_dict"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"recordings")
    return aws


@pytest.fixture
def in_aws(account: Aws, monkeypatch) -> list[str]:
    """This process's AWS settings pointed at the module's moto account; returns the list each
    request made is added to, as 'service operation'."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "SAGEMAKER_")):
            monkeypatch.delenv(name)
    for name, value in account.env.items():
        if name.startswith(("AWS_", "SAGEMAKER_")) or name in ("HOME", "NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, value)
    # Each boto3.Session reads botocore's service models anew (about 0.2 s): one loader, shared, reads
    # each once. A cache only: the clients and what they send are the same.
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args, shared=LOADER: shared)
    sent: list[str] = []
    send = botocore.httpsession.URLLib3Session.send

    def recording(session: Any, request: Any) -> Any:
        authorization = request.headers.get("Authorization", b"")
        authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
        service = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        sent.append(f"{service.group(1) if service else '?'} {target or request.method}")
        return send(session, request)

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", recording)
    return sent


# --- archives: members of any kind


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes | None], mode: str = "w:gz", **options: Any) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode=mode, **options) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return archive.getvalue()


def regular(name: str = "history.csv", data: bytes = HISTORY.encode()) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None
