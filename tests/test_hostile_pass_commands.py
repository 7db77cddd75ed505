"""A hostile pass over three command surfaces: make plot, make predict, and the settings of
make submit, make tune, make local and make serve-local.

The contract for every input: it is accepted and does what the table says is right, or it is
refused (a non-zero exit, or a UserError) in one line that names what is wrong, with no
traceback, nothing written outside the expected folders, and nothing sent to AWS for a
refused setting.

Make only passes these settings on, as environment variables quoted into the command line,
so most inputs call the Python entry point in-process with the argv make would build (each
`make` costs a second or two); a few `make` runs show the Makefile's own path. No training
job is launched: every launch is a dry run, in which the SDK builds the request and sends
nothing, and what reaches the SDK (submit.run_estimator, tune.run_tuner) is recorded.
make local and make serve-local are driven through copies of their scripts in tmp_path, so
an input that were accepted could not empty the real test_dir.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.httpsession
import botocore.loaders
import botocore.session
import numpy as np
import pytest

import make_sample_data
import submit
from aws import plot, predict, tune
from aws.context import run_command
from conftest import OptMl, new_opt_ml
from moto_server import ACCOUNT, REGION, REPO, Aws, free_port

ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
PNG = b"\x89PNG\r\n\x1a\n"
HISTORY = (
    "epoch,loss,accuracy,val_loss,val_accuracy,time,kept\n1,0.7,0.5,0.6,0.7,1.2,0\n2,0.4,0.8,0.3,0.9,0.1,1\n"
)
ROW = ",".join(["0.5"] * 2000)  # one recording of the model trained here: 4 channels of 500 samples
HUGE = "1" + "0" * 30  # 10**30: no SageMaker integer field takes it
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


# --- 1. make plot: hostile history.csv contents


NUMBERS = Refused("holds something other than numbers")
NOT_AN_EPOCH = "not a whole number from 1"

HISTORIES = [
    # accepted: the epochs read, in file order; values past 1e15, inf and nan are gaps
    pytest.param(b"epoch,loss\n1,1e300\n2,-1e300\n3,0.5\n", [1, 2, 3], id="values-past-1e15"),
    pytest.param(b"epoch,$\\frac$,$x^{$\n1,0.5,0.4\n", [1], id="mathtext-in-column-names-is-text"),
    pytest.param(f"epoch,loss\n1,{'9' * 5000}\n2,0.5\n".encode(), [1, 2], id="a-5000-digit-value"),
    pytest.param(b"epoch,loss\n1,nan\n2,inf\n", [1, 2], id="every-value-nan-or-inf"),
    pytest.param(b"epoch,loss\n1,0.5\n1,0.4\n", [1, 1], id="a-duplicated-epoch"),
    pytest.param(b"epoch,loss\n3,0.5\n1,0.4\n2,0.3\n", [3, 1, 2], id="unordered-epochs"),
    pytest.param(b"epoch,loss\n1.0,0.5\n", [1], id="epoch-written-1.0"),
    pytest.param(b"epoch,loss\n 1 ,0.5\n", [1], id="an-epoch-padded-with-spaces"),
    pytest.param(b"epoch,loss\r\n1,0.5\r\n2,0.4\r\n", [1, 2], id="crlf-line-ends"),
    pytest.param(b"epoch,loss\r1,0.5\r2,0.4\r", [1, 2], id="cr-only-line-ends"),
    pytest.param(b"epoch,loss,foo,bar\n1,0.5,1,2\n", [1], id="extra-columns"),
    pytest.param(b"epoch,loss,accuracy\n1,0.5\n", [1], id="fewer-fields-than-the-header"),
    pytest.param(b"epoch,loss,loss\n1,0.5,0.6\n", [1], id="a-duplicated-column-name"),
    pytest.param(b"epoch,loss\n\n1,0.5\n\n", [1], id="blank-lines"),
    pytest.param(b"epoch,loss,\n1,0.5,\n", [1], id="a-trailing-comma"),
    pytest.param(b"epoch,loss,val_loss\n1,0.5,0.4\n2,0.4,\n", [1, 2], id="a-value-missing-in-a-later-row"),
    pytest.param(b"epoch,loss,kept\n1,0.5,1\n2,0.4,1\n", [1, 2], id="two-epochs-marked-kept"),
    pytest.param(b'epoch,"loss"\n"1","0.5"\n', [1], id="quoted-fields"),
    pytest.param(
        b"epoch,lo\0ss\n1,0.5\n",
        [1],
        id="a-nul-byte-in-a-column-name",
        marks=pytest.mark.filterwarnings("ignore:Glyph 0:UserWarning"),  # matplotlib has no glyph for it
    ),
    pytest.param(
        b"epoch,loss\n" + b"".join(b"%d,0.5\n" % epoch for epoch in range(1, 100_001)),
        list(range(1, 100_001)),
        id="100000-epochs",
    ),
    # refused, naming the line or the file
    pytest.param(b"epoch,loss\n0,0.5\n", Refused(f"line 2's epoch is '0', {NOT_AN_EPOCH}"), id="epoch-0"),
    pytest.param(b"epoch,loss\n-1,0.5\n", Refused("line 2's epoch is '-1'"), id="a-negative-epoch"),
    pytest.param(b"epoch,loss\n10000001,0.5\n", Refused("'10000001'"), id="an-epoch-past-ten-million"),
    pytest.param(b"epoch,loss\n,0.5\n", Refused("line 2's epoch is ''"), id="an-empty-epoch"),
    pytest.param(b"loss,accuracy\n0.5,0.6\n", Refused("holds no epochs"), id="no-epoch-column"),
    pytest.param(b"epoch,loss\n", Refused("holds no epochs"), id="only-a-header"),
    pytest.param(b"", Refused("holds no epochs"), id="an-empty-file"),
    pytest.param(b"epoch;loss\n1;0.5\n", Refused("holds no epochs"), id="semicolon-separated"),
    pytest.param(b"epoch\n1\n2\n", Refused("holds no metric to plot"), id="only-an-epoch-column"),
    pytest.param(b"epoch,time,kept\n1,0.5,1\n", Refused("holds no metric to plot"), id="only-time-and-kept"),
    pytest.param(b"epoch,loss\n1,\n", Refused("holds no metric to plot"), id="a-metric-without-values"),
    pytest.param(
        b"epoch,loss\n1," + b"1" * 200_000 + b"\n",
        Refused("line 2 cannot be read as CSV"),
        id="a-200-kb-field",
    ),
    pytest.param(b"epoch,loss\n1,0.5\0\n", NUMBERS, id="a-nul-byte-in-a-value"),
    pytest.param(b'epoch,loss\n"1,0.5\n', NUMBERS, id="an-unbalanced-quote"),
    pytest.param(b"epoch,loss\n1,True\n", NUMBERS, id="a-boolean-value"),
    pytest.param(b"epoch,loss\n0x1,0.5\n", NUMBERS, id="a-hex-epoch"),
    pytest.param(b"epoch,loss\n1,0.5\xe9\n", Refused("is not UTF-8 text (byte 16)"), id="latin-1-bytes"),
    pytest.param("epoch,loss\n1,0.5\n".encode("utf-16"), Refused("is not UTF-8 text (byte 0)"), id="utf-16"),
    pytest.param("\ufeffepoch,loss\n1,0.5\n".encode(), [1], id="a-byte-order-mark"),
    pytest.param(b"epoch,val_loss\n1,0.5\n2,0.4\n", [1, 2], id="only-validation-columns"),
]


@pytest.mark.parametrize(("content", "expected"), HISTORIES)
def test_a_hostile_history_is_plotted_or_refused_in_one_line_naming_the_file(
    content: bytes, expected: list[int] | Refused | None, tmp_path: Path, capsys
) -> None:
    """Accepted (a list): those epochs, in file order, and the PNG at --out; refused: one line
    naming the file, and no PNG; None: either, the contract only."""
    history = tmp_path / "output" / "data" / "history.csv"
    history.parent.mkdir(parents=True)
    history.write_bytes(content)
    before = files_under(tmp_path)
    out = tmp_path / "curves.png"

    outcome = run_main("plot", plot.plot, ["--history", str(history), "--out", str(out)], capsys)

    if isinstance(expected, Refused) or (expected is None and outcome.code):
        line = assert_refused(outcome, "plot", getattr(expected, "words", ""))
        assert str(history) in line
        assert files_under(tmp_path) == before
    else:
        assert outcome.code == 0 and outcome.out.strip() == str(out)
        assert out.read_bytes().startswith(PNG) and files_under(tmp_path) == before | {out}
        if expected is not None:
            text = plot.history_text(history.read_bytes(), "history.csv")  # as plot reads it
            epochs = [row["epoch"] for row in plot.read_history(text, "history.csv")]
            assert epochs == expected


def test_a_history_over_256_mb_is_refused_before_it_is_read(tmp_path: Path, capsys) -> None:
    history = tmp_path / "history.csv"
    with history.open("wb") as file:  # sparse: no disk is used
        file.truncate(plot.MAX_EXPANDED_BYTES + 1)

    outcome = run_main("plot", plot.plot, ["--history", str(history)], capsys)

    assert_refused(outcome, "plot", f"{history} is over 256 MB")


@pytest.mark.parametrize(
    "make_history",
    [
        pytest.param(lambda path: path.mkdir(), id="a-folder"),
        pytest.param(lambda path: os.mkfifo(path), id="a-fifo"),
    ],
)
def test_a_history_that_is_not_a_regular_file_is_refused_without_calling_it_missing(
    make_history: Callable[[Path], None], tmp_path: Path, capsys
) -> None:
    history = tmp_path / "history.csv"
    make_history(history)

    outcome = run_main("plot", plot.plot, ["--history", str(history)], capsys)

    line = assert_refused(outcome, "plot", str(history))
    assert f"no {history}" not in line


def test_a_history_of_hundreds_of_metric_columns_is_refused_or_drawn_on_a_bounded_figure(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    import matplotlib.pyplot as plt

    subplots = plt.subplots

    def bounded(*args: Any, **kwargs: Any) -> Any:
        width = kwargs.get("figsize", (6.4, 4.8))[0]
        if width * 100 > 2**16:  # pixels at plot.draw's dpi; drawing it would take minutes: stop here
            raise AssertionError(f"a figure {width} inches wide")
        return subplots(*args, **kwargs)

    monkeypatch.setattr(plt, "subplots", bounded)
    names = [f"metric{number}" for number in range(300)]
    history = tmp_path / "history.csv"
    history.write_text(f"epoch,{','.join(names)}\n1,{','.join(['0.5'] * 300)}\n")

    outcome = run_main(
        "plot", plot.plot, ["--history", str(history), "--out", str(tmp_path / "c.png")], capsys
    )

    if outcome.code:
        assert_refused(outcome, "plot", "history.csv")
    else:
        assert (tmp_path / "c.png").read_bytes().startswith(PNG)


# --- 1. make plot: hostile output.tar.gz archives


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


def zip_bytes() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("history.csv", HISTORY)
    return archive.getvalue()


def size_lies() -> bytes:
    """A tar whose history.csv header claims 100000 bytes, with the checksum made to match."""
    raw = bytearray(tar_bytes(regular(), mode="w"))
    raw[124:136] = b"%011o\0" % 100_000
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw[:512])
    return gzip.compress(bytes(raw))


def padding_bomb() -> bytes:
    """256 KB of gzip holding a 257 MB member before history.csv."""
    padding = tarfile.TarInfo("padding.bin")
    padding.size = 257 * 2**20
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(padding.tobuf())]
    parts += [compressor.compress(bytes(2**20)) for _ in range(257)]
    return b"".join([*parts, compressor.flush()])


NOT_TAR_GZ = Refused("cannot read s3://b/o.tar.gz as a tar.gz archive")
NOT_A_FILE = Refused("holds history.csv as a link or device, not a file")
NO_HISTORY = Refused("holds no history.csv")

ARCHIVES = [
    # accepted: read in memory, never extracted, so a member's path cannot reach the disk
    pytest.param(lambda: tar_bytes(regular("a/b/c/history.csv")), HISTORY, id="nested-folders"),
    pytest.param(lambda: tar_bytes(regular("../history.csv")), HISTORY, id="a-dot-dot-member"),
    pytest.param(lambda: tar_bytes(regular("/etc/history.csv")), HISTORY, id="an-absolute-member"),
    pytest.param(
        lambda: tar_bytes(*[regular(f"f{n}.txt", b"x") for n in range(5000)], regular()),
        HISTORY,
        id="after-5000-other-members",
    ),
    pytest.param(
        lambda: tar_bytes(regular("d/" * 200 + "history.csv"), format=tarfile.GNU_FORMAT),
        HISTORY,
        id="a-gnu-long-name",
    ),
    pytest.param(
        lambda: tar_bytes(regular(data=b"epoch,loss\n1,9\n"), regular()),
        "epoch,loss\n1,9\n",
        id="two-members-named-history-the-first-read",
    ),
    pytest.param(lambda: tar_bytes(regular(data=b"")), "", id="a-zero-size-member"),
    # refused in one line naming the archive
    pytest.param(lambda: tar_bytes(special("history.csv", tarfile.FIFOTYPE)), NOT_A_FILE, id="a-fifo-member"),
    pytest.param(lambda: tar_bytes(special("history.csv", tarfile.CHRTYPE)), NOT_A_FILE, id="a-char-device"),
    pytest.param(lambda: tar_bytes(special("history.csv", tarfile.BLKTYPE)), NOT_A_FILE, id="a-block-device"),
    pytest.param(
        lambda: tar_bytes(special("history.csv", tarfile.SYMTYPE, "../../etc/passwd")),
        NOT_A_FILE,
        id="a-symlink-out-of-the-archive",
    ),
    pytest.param(zip_bytes, NOT_TAR_GZ, id="a-zip"),
    pytest.param(lambda: tar_bytes(regular(), mode="w"), NOT_TAR_GZ, id="an-uncompressed-tar"),
    pytest.param(lambda: tar_bytes(regular(), mode="w:bz2"), NOT_TAR_GZ, id="a-bzip2-tar"),
    pytest.param(lambda: gzip.compress(HISTORY.encode()), NOT_TAR_GZ, id="a-gzipped-csv"),
    pytest.param(lambda: gzip.compress(tar_bytes(regular())), NOT_TAR_GZ, id="a-tar-gzipped-twice"),
    pytest.param(lambda: tar_bytes(regular()) + b"garbage", NOT_TAR_GZ, id="garbage-after-the-stream"),
    pytest.param(lambda: tar_bytes(regular())[:30], NOT_TAR_GZ, id="cut-in-the-gzip-header"),
    pytest.param(lambda: tar_bytes(regular())[:-20], NOT_TAR_GZ, id="cut-before-the-end"),
    pytest.param(size_lies, NOT_TAR_GZ, id="a-member-claiming-more-than-it-holds"),
    pytest.param(lambda: gzip.compress(b""), NOT_TAR_GZ, id="an-empty-gzip"),
    pytest.param(lambda: tar_bytes(), NO_HISTORY, id="an-empty-tar"),
    pytest.param(lambda: tar_bytes(regular("History.csv")), NO_HISTORY, id="history-capitalised"),
    pytest.param(lambda: tar_bytes(regular("data\\history.csv")), NO_HISTORY, id="a-backslash-path"),
    pytest.param(
        lambda: tar_bytes(regular(data=HISTORY.encode("utf-16"))),
        Refused("history.csv is not UTF-8 text (byte 0)"),
        id="a-utf-16-history",
    ),
    pytest.param(padding_bomb, Refused("expands to over 256 MB"), id="a-257-mb-member-before-history"),
    pytest.param(
        lambda: tar_bytes(special("history.csv", tarfile.DIRTYPE), regular("data/history.csv")),
        HISTORY,
        id="a-folder-named-history-csv-before-the-file",
    ),
    pytest.param(
        lambda: tar_bytes(special("history.csv", tarfile.DIRTYPE)),
        Refused("holds history.csv as a folder, not a file"),
        id="only-a-folder-named-history-csv",
    ),
    pytest.param(
        lambda: tar_bytes(regular(data=b"epoch,loss\r1,0.5\r")),
        "epoch,loss\n1,0.5\n",
        id="cr-line-ends-read-as-a-local-file-is",
    ),
    pytest.param(
        lambda: tar_bytes(regular(data=b"\xef\xbb\xbfepoch,loss\n1,0.5\n")),
        "epoch,loss\n1,0.5\n",
        id="a-byte-order-mark-dropped",
    ),
]


@pytest.mark.parametrize(("make_body", "expected"), ARCHIVES)
def test_a_hostile_output_archive_gives_its_history_or_is_refused_in_one_line_naming_it(
    make_body: Callable[[], bytes], expected: str | Refused, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where an extraction would land

    if isinstance(expected, Refused):
        with pytest.raises(plot.UserError) as refused:
            plot.history_in_archive(make_body(), "s3://b/o.tar.gz")
        message = str(refused.value)
        assert expected.words in message and "s3://b/o.tar.gz" in message and "\n" not in message
    else:
        assert plot.history_in_archive(make_body(), "s3://b/o.tar.gz") == expected
    assert not any(tmp_path.iterdir())


# --- 1. make plot: OUT


OUTS = [
    pytest.param("curves.pdf", "curves.pdf", id="a-pdf-name-writes-a-pdf"),
    pytest.param("c.PNG", "c.PNG", id="an-upper-case-suffix"),
    pytest.param("new folder/deeper/c.png", "new folder/deeper/c.png", id="folders-that-do-not-exist"),
    pytest.param("$(id)`id`.png", "$(id)`id`.png", id="shell-syntax-is-a-file-name"),
    pytest.param("curves", "curves", id="no-suffix-is-a-png-at-that-path"),
    pytest.param("a folder", "a folder/learning_curves.png", id="an-existing-folder-gets-it-inside"),
    pytest.param("new folder/", "new folder/learning_curves.png", id="a-trailing-slash-is-a-folder"),
    pytest.param("curves.txt", None, id="a-suffix-matplotlib-cannot-write"),
]


@pytest.mark.parametrize(("out", "written"), OUTS)
def test_an_out_path_is_written_as_printed_or_refused_in_one_line(
    out: str, written: str | None, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("history.csv").write_text(HISTORY)
    Path("a folder").mkdir()
    before = files_under(tmp_path)

    outcome = run_main("plot", plot.plot, ["--history", "history.csv", "--out", out], capsys)

    if written is None and outcome.code:
        assert_refused(outcome, "plot", out)
        assert files_under(tmp_path) == before
    else:
        assert outcome.code == 0 and outcome.out.strip() == written
        assert Path(written).is_file() and Path(written).stat().st_size > 0
        assert {path.relative_to(tmp_path) for path in files_under(tmp_path) - before} <= {
            Path(written),
            *Path(written).parents,
        }


# --- 1. make plot JOB=: through make and moto


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


def test_make_plot_reads_a_dot_dot_member_in_memory_and_writes_only_the_png(
    account: Aws, tmp_path: Path
) -> None:
    account.training_job("eeg-dot-dot", "eeg:latest")
    body = tar_bytes(regular("../../history.csv"))
    account.client("s3").put_object(
        Bucket="team-bucket", Key="output/eeg-dot-dot/output/output.tar.gz", Body=body
    )
    out = tmp_path / "plots" / "curves.png"

    result = account.run("make", "--no-print-directory", "-s", "plot", "JOB=eeg-dot-dot", f"OUT={out}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and out.read_bytes().startswith(PNG)
    assert files_under(tmp_path) == {out, out.parent}
    assert not (REPO / "local_output" / "eeg-dot-dot").exists()


def test_a_jobs_history_with_cr_line_ends_is_plotted_as_a_local_one_is(
    account: Aws, in_aws: list[str], tmp_path: Path, capsys
) -> None:
    account.training_job("eeg-cr", "eeg:latest")
    body = tar_bytes(regular(data=b"epoch,loss\r1,0.5\r2,0.4\r"))
    account.client("s3").put_object(Bucket="team-bucket", Key="output/eeg-cr/output/output.tar.gz", Body=body)
    out = tmp_path / "curves.png"

    outcome = run_main("plot", plot.plot, ["--job", "eeg-cr", "--out", str(out)], capsys)

    assert outcome.code == 0 and out.read_bytes().startswith(PNG)


def test_make_plot_refuses_a_job_name_of_shell_syntax_in_one_line_and_runs_none_of_it(
    account: Aws, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"

    result = account.run(
        "make", "--no-print-directory", "-s", "plot", f"JOB=$(touch {marker})`touch {marker}`"
    )

    assert result.returncode != 0
    line = refusal_line(result.stderr, "plot")
    assert f"no training job $(touch {marker})" in line
    assert not marker.exists()


# --- 2. make predict: a model to predict with, and hostile data files


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def npz(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def pickled(path: Path, value: Any) -> Path:
    return write(path, pickle.dumps(value))


def zip_of(path: Path, **members: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def folder_of(path: Path, *widths: int) -> Path:
    path.mkdir()
    for number, width in enumerate(widths):
        npz(path / f"part{number}.npz", x_train=np.zeros((2, width), np.float32), y_train=np.array([0, 1]))
    return path


def link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


def loop(path: Path) -> Path:
    link(path.with_name("other"), path)
    return link(path, path.with_name("other"))


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


ZEROS = np.zeros((2, 2000), np.float32)
LABELS = np.array([0, 1])
CSV = Refused("as CSV (")
SAMPLE = make_sample_data.output_dict(8, test_fraction=0.5, seed=1)

DATA_FILES = [
    # accepted: one line per recording, then the accuracy against the file's labels
    pytest.param(lambda d: write(d / "good.csv", f"0,{ROW}\n1,{ROW}\n"), 2, id="a-csv"),
    pytest.param(lambda d: write(d / "crlf.csv", f"0,{ROW}\r\n1,{ROW}\r\n"), 2, id="a-csv-with-crlf"),
    pytest.param(lambda d: write(d / "bom.csv", f"\ufeff0,{ROW}\n1,{ROW}\n"), 2, id="a-csv-with-a-bom"),
    pytest.param(
        lambda d: write(d / "names.csv", f"left,{ROW}\nright,{ROW}\n"), 2, id="labels-the-model-lacks-score-0"
    ),
    pytest.param(lambda d: pickled(d / "sample", SAMPLE), 4, id="a-pickle-without-a-suffix"),
    pytest.param(lambda d: pickled(d / "t.pkl", {"x_test": ZEROS, "y_test": LABELS}), 2, id="test-rows-only"),
    pytest.param(
        lambda d: pickled(d / "b.pkl", {"x_train": np.ones((2, 2000), bool), "y_train": LABELS}),
        2,
        id="booleans-as-zeros-and-ones",
    ),
    pytest.param(lambda d: npz(d / "t.npz", x_test=ZEROS, y_test=LABELS), 2, id="an-npz"),
    pytest.param(lambda d: folder_of(d / "recordings", 2000), 2, id="a-folder"),
    pytest.param(lambda d: write(d / "-h", f"0,{ROW}\n"), 1, id="a-file-named-dash-h"),
    pytest.param(
        lambda d: write(d / "header.csv", "label," + ",".join(["s"] * 2000) + f"\n0,{ROW}\n"),
        1,
        id="a-header-line-is-skipped",
    ),
    # refused, naming the file
    pytest.param(
        lambda d: write(d / "narrow.csv", "0,1,2,3\n1,4,5,6\n"),
        Refused("the recordings hold 3 values each; the model reads 2000 values"),
        id="3-values-wide",
    ),
    pytest.param(
        lambda d: write(d / "wide.csv", f"0,{ROW},0.5\n"),
        Refused("hold 2001 values each"),
        id="2001-values-wide",
    ),
    pytest.param(
        lambda d: write(d / "huge.csv", "0," + ",".join(["0.5"] * 300_000) + "\n"),
        Refused("hold 300000 values each"),
        id="a-300000-value-line",
    ),
    pytest.param(lambda d: write(d / "ragged.csv", f"0,{ROW}\n1,0.5\n"), CSV, id="a-ragged-csv"),
    pytest.param(
        lambda d: write(d / "nan.csv", f"0,{ROW[:-3]}nan\n"), Refused("1 NaN or infinite values"), id="nan"
    ),
    pytest.param(
        lambda d: write(d / "inf.csv", f"0,{ROW[:-3]}-inf\n"), Refused("1 NaN or infinite values"), id="inf"
    ),
    pytest.param(
        lambda d: write(d / "big.csv", f"0,{ROW[:-3]}1e39\n"), Refused("beyond float32's range"), id="1e39"
    ),
    pytest.param(
        lambda d: write(d / "bad.csv", f"0,{ROW[:-3]}abc\n1,{ROW}\n"), CSV, id="a-first-row-with-one-word"
    ),
    pytest.param(lambda d: write(d / "nul.csv", f"0,{ROW}\0\n"), CSV, id="a-nul-byte"),
    pytest.param(lambda d: write(d / "semi.csv", "0;1;2\n"), CSV, id="semicolons"),
    pytest.param(
        lambda d: write(d / "empty.csv", ""), Refused("empty.csv 'samples' has no rows"), id="empty"
    ),
    pytest.param(lambda d: write(d / "blank.csv", "\n\n\n"), Refused("has no rows"), id="only-blank-lines"),
    pytest.param(
        lambda d: write(d / "empty", ""),
        Refused("cannot tell what empty holds (text, 0 bytes"),
        id="empty-no-name",
    ),
    pytest.param(
        lambda d: write(d / "noise.bin", np.random.default_rng(0).bytes(4096)),
        Refused("cannot tell what noise.bin holds (binary data"),
        id="random-bytes",
    ),
    pytest.param(lambda d: pickled(d / "l.pkl", [1, 2]), Refused("l.pkl holds a list"), id="a-pickled-list"),
    pytest.param(
        lambda d: pickled(d / "n.pkl", None), Refused("n.pkl holds a NoneType"), id="a-pickled-none"
    ),
    pytest.param(
        lambda d: pickled(d / "s.pkl", {"x_train": "abc", "y_train": [0]}),
        Refused("'x_train' is not numeric"),
        id="text-recordings",
    ),
    pytest.param(
        lambda d: pickled(d / "o.pkl", {"x_train": np.zeros((2, 2000), object), "y_train": LABELS}),
        Refused("refused o.pkl"),
        id="an-object-array",
    ),
    pytest.param(
        lambda d: pickled(d / "c.pkl", {"x_train": np.ones((2, 2000), complex), "y_train": LABELS}),
        Refused("is not numeric (dtype complex128)"),
        id="complex-numbers",
    ),
    pytest.param(
        lambda d: write(d / "cut.pkl", pickle.dumps(SAMPLE)[:100]),
        Refused("cannot read cut.pkl: not a valid pickle"),
        id="a-truncated-pickle",
    ),
    pytest.param(
        lambda d: pickled(d / "x.pkl", {"x_train": ZEROS}),
        Refused("x.pkl has no 'y_train' or 'y_train2' array"),
        id="no-labels",
    ),
    pytest.param(
        lambda d: pickled(d / "z.pkl", {"x_train": np.zeros((0, 2000)), "y_train": np.zeros(0)}),
        Refused("'x_train' has no rows"),
        id="zero-rows",
    ),
    pytest.param(
        lambda d: npz(d / "k.npz", a=ZEROS, b=LABELS),
        Refused("has no 'x_train' array (found: a, b)"),
        id="wrong-keys",
    ),
    pytest.param(
        lambda d: npz(d / "one.npz", x_train=np.zeros(2000), y_train=np.zeros(2000)),
        Refused("has shape (2000,)"),
        id="one-dimension",
    ),
    pytest.param(
        lambda d: npz(d / "four.npz", x_train=np.zeros((2, 2, 2, 500)), y_train=LABELS),
        Refused("has shape (2, 2, 2, 500)"),
        id="four-dimensions",
    ),
    pytest.param(
        lambda d: zip_of(d / "z.npz", **{"readme.txt": b"hi"}),
        Refused("is a zip archive but not an .npz"),
        id="a-zip-named-npz",
    ),
    pytest.param(
        lambda d: (np.save(d / "recs.npy", ZEROS), d / "recs.npy")[1],
        Refused("recs.npy holds one numpy array (np.save)"),
        id="a-lone-npy",
    ),
    pytest.param(
        lambda d: (d / "none").mkdir() or d / "none", Refused("channel 'none' is empty"), id="empty-folder"
    ),
    pytest.param(
        lambda d: folder_of(d / "mixed", 2000, 7),
        Refused("every file holds recordings of the same shape"),
        id="two-widths",
    ),
    pytest.param(lambda d: loop(d / "loop"), Refused("does not exist"), id="a-loop-of-links"),
    pytest.param(
        lambda d: link(d / "x.csv", d / "gone.csv"), Refused("does not exist"), id="a-dangling-link"
    ),
    pytest.param(lambda d: d / "missing.csv", Refused("{path} does not exist"), id="a-missing-file"),
    pytest.param(lambda d: fifo(d / "fifo"), Refused("{path} is not a regular file"), id="a-fifo"),
    pytest.param(lambda d: Path("/dev/zero"), Refused("/dev/zero is not a regular file"), id="dev-zero"),
    pytest.param(  # the default kernels' proportions cannot overflow; timefreq's can (below)
        lambda d: write(d / "loud.csv", "0," + ",".join(["1e30"] * 2000) + "\n"), 1, id="values-of-1e30"
    ),
    pytest.param(
        lambda d: pickled(d / "5x400.pkl", {"x_train": np.zeros((2, 5, 400), np.float32), "y_train": LABELS}),
        Refused(),
        id="5-channels-of-400-samples",
    ),
]


def predict_quietly(argv: list[str], capsys) -> tuple[Outcome, list[str]]:
    """predict(argv), and the warnings it gave: on a terminal each is two more lines of stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = run_main("predict", predict.predict, argv, capsys)
    shown = [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
    return outcome, shown


def assert_predicted(outcome: Outcome, rows: int) -> None:
    assert outcome.code == 0, outcome.err
    lines = outcome.out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [f"row={number}" for number in range(1, rows + 1)]
    assert lines[-1].startswith("accuracy=")


@pytest.mark.parametrize(("make_data", "expected"), DATA_FILES)
def test_a_hostile_data_file_is_predicted_or_refused_in_one_line(
    make_data: Callable[[Path], Path], expected: int | Refused, trained: OptMl, tmp_path: Path, capsys
) -> None:
    data = make_data(tmp_path)

    outcome, shown = predict_quietly([str(data), "--model", str(trained.base / "model")], capsys)

    if isinstance(expected, Refused):
        assert_refused(outcome, "predict", expected.words.format(path=data))
    else:
        assert_predicted(outcome, expected)
    assert shown == []


def test_values_whose_timefreq_features_overflow_are_refused_in_one_line(tmp_path, capsys) -> None:
    tree = new_opt_ml(tmp_path / "opt ml")
    tree.hyperparameters({"epochs": "1", "features": "timefreq", "refit": "0"})
    assert tree.run().returncode == 0
    data = write(tmp_path / "loud.csv", "0," + ",".join(["1e30"] * 2000) + "\n")

    outcome, shown = predict_quietly([str(data), "--model", str(tree.base / "model")], capsys)

    assert_refused(outcome, "predict", "the recordings' features overflow float32")
    assert shown == []


# --- 2. make predict MODEL=: hostile model folders and archives


FAST = {"compresslevel": 1}  # the model.keras is 11 MB: gzip's default level takes a second an archive


def model_tar(
    path: Path,
    trained: OptMl,
    *extra: tuple[tarfile.TarInfo, bytes | None],
    prefix: str = "",
    mode: str = "w:gz",
) -> Path:
    """trained's model.keras and metadata.json under prefix, then extra, as a tar at path."""
    members = [
        regular(prefix + file.name, file.read_bytes()) for file in sorted((trained.base / "model").iterdir())
    ]
    path.write_bytes(tar_bytes(*members, *extra, mode=mode, **(FAST if mode == "w:gz" else {})))
    return path


def replaced(folder: Path, trained: OptMl, name: str, data: bytes) -> Path:
    """A copy of the model folder with one of its two files' content replaced."""
    shutil.copytree(trained.base / "model", folder)
    (folder / name).write_bytes(data)
    return folder


def escape_name(tmp_path: Path) -> str:
    return f"escaped-{tmp_path.name}.txt"


UNPACK = Refused("cannot unpack {path}")

MODELS = [
    # accepted: the sample's 10 test rows predicted
    pytest.param(lambda d, t: model_tar(d / "model.tar.gz", t), 10, id="a-tar-gz-as-sagemaker-writes-it"),
    pytest.param(lambda d, t: model_tar(d / "model.tar", t, mode="w"), 10, id="an-uncompressed-tar"),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, regular(str(d / escape_name(d)), b"x")),
        10,
        id="an-absolute-member-lands-inside",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("link.keras", tarfile.SYMTYPE, "model.keras")),
        10,
        id="a-link-to-a-file-inside",
    ),
    # refused, naming the archive or the folder
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, regular(f"../{escape_name(d)}", b"x")),
        Refused("cannot unpack {path}: '../escaped-"),
        id="a-dot-dot-member",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.SYMTYPE, "/etc/passwd")),
        Refused("cannot unpack {path}: 'x' is a link to an absolute path"),
        id="a-symlink-to-etc-passwd",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.LNKTYPE, "/etc/passwd")),
        Refused("cannot unpack {path}: 'x' is a link to an absolute path"),
        id="a-hard-link-to-etc-passwd",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.CHRTYPE)),
        Refused("cannot unpack {path}: 'x' is a special file"),
        id="a-device-member",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, special("x", tarfile.FIFOTYPE)),
        Refused("cannot unpack {path}: 'x' is a special file"),
        id="a-fifo-member",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "model.keras", b"not a model"),
        Refused("cannot load {path}/model.keras"),
        id="a-model-keras-of-text",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "metadata.json", b"{not json"),
        Refused("{path}/metadata.json is damaged"),
        id="metadata-not-json",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "metadata.json", b"[]"),
        Refused("{path}/metadata.json is damaged"),
        id="metadata-a-list",
    ),
    pytest.param(
        lambda d, t: d / "nowhere", Refused("no model.keras or metadata.json in {path}"), id="no-folder"
    ),
    pytest.param(
        lambda d, t: (d / "empty").mkdir() or d / "empty",
        Refused("no model.keras or metadata.json in {path}"),
        id="an-empty-folder",
    ),
    pytest.param(
        lambda d, t: write(d / "m.tar.gz", model_tar(d / "full.tar.gz", t).read_bytes()[:5000]),
        UNPACK,
        id="a-truncated-archive",
    ),
    pytest.param(
        lambda d, t: write(d / "m.tar.gz", "not an archive\n"),
        UNPACK,
        id="a-text-file",
    ),
    pytest.param(
        lambda d, t: zip_of(d / "m.zip", **{f.name: f.read_bytes() for f in (t.base / "model").iterdir()}),
        UNPACK,
        id="a-zip",
    ),
    pytest.param(
        lambda d, t: replaced(d / "model", t, "metadata.json", b"[" * 100_000 + b"]" * 100_000),
        Refused("{path}/metadata.json is damaged"),
        id="metadata-nested-100000-deep",
    ),
    pytest.param(
        lambda d, t: model_tar(d / "m.tar.gz", t, prefix="model/"),
        Refused("{path}"),
        id="files-under-a-folder",
    ),
    pytest.param(
        lambda d, t: write(d / "m.tar.gz", tar_bytes()),
        Refused("{path}"),
        id="an-empty-archive",
    ),
]


@pytest.mark.parametrize(("make_model", "expected"), MODELS)
def test_a_hostile_model_is_used_or_refused_in_one_line_and_nothing_is_written_outside(
    make_model: Callable[[Path, OptMl], Path], expected: int | Refused, trained: OptMl, tmp_path: Path, capsys
) -> None:
    model = make_model(tmp_path, trained)
    before = files_under(tmp_path)

    outcome, _ = predict_quietly([str(trained.training / "output_dict"), "--model", str(model)], capsys)

    if isinstance(expected, Refused):
        assert_refused(outcome, "predict", expected.words.format(path=model))
    else:
        assert_predicted(outcome, expected)
    assert files_under(tmp_path) == before
    assert not (Path(tempfile.gettempdir()) / escape_name(tmp_path)).exists()


# --- 2. make predict PORT=, and --url (python -m aws.predict only)


NOT_A_PORT = "is not a port number from 1 to 65535"
NO_SERVER = "no server answers at http://127.0.0.1:{free}: start one with 'make serve-local'"

ADDRESSES = [
    # accepted: the server at that port is asked; none is there
    pytest.param(["--port", "{free}"], NO_SERVER, id="a-free-port"),
    pytest.param(["--port", "0{free}"], NO_SERVER.replace(":{free}", ":0{free}"), id="a-leading-zero"),
    pytest.param(["--url", "http://127.0.0.1:{free}/"], NO_SERVER.replace("{free}:", "{free}/:"), id="a-url"),
    # refused before the data is read
    *[
        pytest.param(["--port", port], Refused(f"--port {port!r} {NOT_A_PORT}"), id=f"port-{name}")
        for name, port in [
            ("minus-1", "-1"),
            ("0", "0"),
            ("65536", "65536"),
            ("20-digits", "9" * 20),
            ("space-before", " 8080"),
            ("space-after", "8080 "),
            ("newline-after", "8080\n"),
            ("1e3", "1e3"),
            ("plus-sign", "+8080"),
            ("hex", "0x1F90"),
            ("shell-substitution", "$(id)"),
            ("semicolon", "8080;rm -rf x"),
        ]
    ],
    *[
        pytest.param(
            ["--port", port],
            Refused(f"--port {port!r} {NOT_A_PORT}"),
            id=f"port-{name}",
        )
        for name, port, failure in [
            ("arabic-indic-digits", "\u0668\u0660\u0668\u0660", "requests' InvalidURL"),
            ("fullwidth-digits", "\uff18\uff10\uff18\uff10", "requests' InvalidURL"),
            ("superscript-two", "\u00b2", "int()'s ValueError"),
        ]
    ],
    pytest.param(
        ["--url", "127.0.0.1:8080"],
        Refused("127.0.0.1:8080"),
        id="a-url-without-http",
    ),
    pytest.param(
        ["--url", "http://127.0.0.1:99999"],
        Refused("99999"),
        id="a-url-with-port-99999",
    ),
    pytest.param(
        ["--url", f"http://{'a' * 64}.example/"],
        Refused("cannot get an answer from"),
        id="a-host-label-of-64-characters",
    ),
]


@pytest.mark.parametrize(("options", "expected"), ADDRESSES)
def test_a_hostile_port_or_url_is_that_address_or_refused_in_one_line(
    options: list[str], expected: str | Refused, trained: OptMl, capsys
) -> None:
    free = str(free_port())
    argv = [str(trained.training / "output_dict"), *(option.replace("{free}", free) for option in options)]

    outcome = run_main("predict", predict.predict, argv, capsys)

    words = expected.words if isinstance(expected, Refused) else expected
    assert_refused(outcome, "predict", words.replace("{free}", free))


# --- 2. make predict ENDPOINT=, against moto


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


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param("; rm -rf x", id="shell-syntax"),
        pytest.param("$(id)", id="a-substitution"),
        pytest.param("a" * 64, id="64-characters"),
        pytest.param("eeg_endpoint", id="an-underscore"),
    ],
)
def test_an_endpoint_name_sagemaker_refuses_is_refused_before_it_is_sent(
    endpoint: str, trained: OptMl, in_aws: list[str], capsys
) -> None:
    outcome = run_main(
        "predict", predict.predict, [str(trained.training / "output_dict"), "--endpoint", endpoint], capsys
    )

    assert_refused(outcome, "predict", repr(endpoint))
    assert in_aws == []


# --- 2. make predict against a server that answers badly


SERVER_BODIES = {  # the first part of the request's path picks one
    "good": (200, json.dumps({"predictions": [{"class": "1", "probabilities": {"0": 0.2, "1": 0.8}}] * 10})),
    "nan": (200, json.dumps({"predictions": [{"class": float("nan")}] * 10})),
    "few": (200, json.dumps({"predictions": [{"class": "1"}] * 3})),
    "html": (200, "<html>\nok\n</html>"),
    "a-list": (200, "[1, 2]"),
    "a-string": (200, '{"predictions": "x"}'),
    "numbers": (200, json.dumps({"predictions": [1] * 10})),
    "empty": (200, ""),
    "no-content": (204, ""),
    "json-400": (400, '{"error": "the recordings hold 7 values"}'),
    "deep": (200, '{"predictions": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "deep-error": (500, '{"error": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "html-502": (502, "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>\n"),
    "two-line-error": (400, '{"error": "line one\\nline two"}'),
    "control-bytes": (500, "oops\r\x1b[2Jgone"),
}


class Answers(BaseHTTPRequestHandler):
    """A stand-in for a serving container: answers as SERVER_BODIES says, or cut short."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        name = self.path.strip("/").split("/")[0]
        if name == "cut":  # promises 1000 bytes, sends 6, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"pred')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, body = SERVER_BODIES[name]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture(scope="module")
def answering() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


NOT_PREDICTIONS = Refused("the answer is not predictions JSON")

SERVER_ANSWERS = [
    pytest.param("good", 10, id="predictions"),
    pytest.param("nan", 10, id="a-nan-class"),
    pytest.param("few", Refused("sent 10 recordings, got 3 predictions back"), id="too-few"),
    pytest.param("html", NOT_PREDICTIONS, id="html"),
    pytest.param("a-list", NOT_PREDICTIONS, id="a-json-list"),
    pytest.param("a-string", NOT_PREDICTIONS, id="predictions-a-string"),
    pytest.param("numbers", NOT_PREDICTIONS, id="predictions-numbers"),
    pytest.param("empty", NOT_PREDICTIONS, id="an-empty-200"),
    pytest.param("no-content", Refused("answered 204"), id="a-204"),
    pytest.param("json-400", Refused("answered 400: the recordings hold 7 values"), id="a-json-400"),
    pytest.param(
        "deep",
        NOT_PREDICTIONS,
        id="json-nested-100000-deep",
    ),
    pytest.param(
        "deep-error",
        Refused("answered 500"),
        id="an-error-nested-100000-deep",
    ),
    pytest.param(
        "html-502",
        Refused("answered 502"),
        id="a-proxys-html-502",
    ),
    pytest.param(
        "two-line-error",
        Refused("answered 400: line one"),
        id="an-error-of-two-lines",
    ),
    pytest.param(
        "control-bytes",
        Refused("answered 500"),
        id="control-bytes",
    ),
    pytest.param(
        "cut",
        Refused("answer"),
        id="an-answer-cut-short",
    ),
]


@pytest.mark.parametrize(("path", "expected"), SERVER_ANSWERS)
def test_a_hostile_server_answer_is_printed_or_refused_in_one_line(
    path: str, expected: int | Refused, answering: str, trained: OptMl, capsys
) -> None:
    argv = [str(trained.training / "output_dict"), "--url", f"{answering}/{path}"]

    outcome = run_main("predict", predict.predict, argv, capsys)

    if isinstance(expected, Refused):
        line = assert_refused(outcome, "predict", expected.words)
        assert "\r" not in line and "\x1b" not in line
    else:
        assert_predicted(outcome, expected)


def test_make_predict_reads_data_whose_name_starts_with_a_dash_as_a_file(account: Aws) -> None:
    result = account.run("make", "--no-print-directory", "-s", "predict", "DATA=-h", "MODEL=nowhere")

    assert result.returncode != 0
    assert "-h does not exist" in refusal_line(result.stderr, "predict")


# --- 3. make submit / make tune settings, in-process against moto


@dataclass
class Launch:
    outcome: Outcome
    sent: list[str]
    reached: list[Any]  # what would have gone to the SDK: the Job (and tune's ranges and limits)


@pytest.fixture
def launch(in_aws: list[str], monkeypatch, capsys) -> Callable[..., Launch]:
    """Runs submit or tune with argv (after the role and --dry-run=1, as make passes them),
    recording what reaches the SDK, whose dry run then builds the request and sends nothing."""
    reached: list[Any] = []
    real_estimator, real_tuner = submit.run_estimator, tune.run_tuner

    def estimator(job: submit.Job, wait: bool, dry_run: bool, created: Callable[[], None]) -> dict[str, Any]:
        reached.append(job)
        assert dry_run
        return real_estimator(job, wait, dry_run, created)

    def tuner(
        job: submit.Job, ranges: dict, max_jobs: int, max_parallel: int, dry_run: bool
    ) -> dict[str, Any]:
        reached.append((job, ranges, max_jobs, max_parallel))
        assert dry_run
        return real_tuner(job, ranges, max_jobs, max_parallel, dry_run)

    monkeypatch.setattr(submit, "run_estimator", estimator)
    monkeypatch.setattr(tune, "run_tuner", tuner)

    def run(program: str, *argv: str) -> Launch:
        main = {"submit": submit.submit, "tune": tune.tune}[program]
        in_aws.clear()
        outcome = run_main(program, main, ["--role", ROLE, "--dry-run=1", *argv], capsys)
        return Launch(outcome, list(in_aws), reached[:])

    return run


REFUSED_SETTINGS = [
    *[
        pytest.param("submit", ["--image", image], f"invalid image name {image!r}", id=f"IMAGE-{name}")
        for name, image in [
            ("blank", " "),
            ("upper-case", "EEG"),
            ("substitution", "$(id)"),
            ("space", "eeg model"),
        ]
    ],
    *[
        pytest.param("submit", ["--tag", tag], f"invalid tag {tag!r}", id=f"TAG-{name}")
        for name, tag in [
            ("substitution", "$(id)"),
            ("backticks", "`id`"),
            ("semicolon", "v1;rm -rf x"),
            ("newline", "v1\n"),
            ("unicode", "v\u00fc"),
            ("129-characters", "v" * 129),
            ("dot-dot", "../x"),
        ]
    ],
    pytest.param(
        "submit", ["--image", "eeg:v1", "--tag", "v2"], "two tags: 'eeg:v1' and 'v2'", id="TAG-twice"
    ),
    *[
        pytest.param(
            "submit", ["--instance-type", kind], f"invalid instance type {kind!r}", id=f"INSTANCE_TYPE-{name}"
        )
        for name, kind in [
            ("trailing-space", "ml.m5.large "),
            ("upper-case", "ML.M5.LARGE"),
            ("semicolon", "ml.m5.large;rm -rf /"),
            ("newline", "ml.m5.large\n"),
            ("fullwidth", "ml.\uff4d5.large"),
            ("local", "local"),
        ]
    ],
    *[
        pytest.param("submit", [flag, value], words, id=f"{flag[2:].upper().replace('-', '_')}-{name}")
        for flag, name, value, words in [
            ("--instance-count", "0", "0", "expected a positive whole number, got '0'"),
            ("--instance-count", "minus-1", "-1", "got '-1'"),
            ("--instance-count", "1.5", "1.5", "got '1.5'"),
            ("--instance-count", "arabic-indic", "\u0663", "got '\u0663'"),
            ("--instance-count", "1e1", "1e1", "got '1e1'"),
            ("--instance-count", "hex", "0x2", "got '0x2'"),
            ("--instance-count", "20-digits", "9" * 20, "a training job runs 1 to 100 instances"),
            ("--instance-count", "101", "101", "invalid --instance-count 101"),
            ("--volume-size", "0", "0", "argument --volume-size: expected a positive whole number"),
            ("--volume-size", "float", "50.0", "got '50.0'"),
            ("--max-run", "minus-5", "-5", "argument --max-run: expected a positive whole number, got '-5'"),
            ("--max-run", "substitution", "$(id)", "got '$(id)'"),
            ("--distribution", "upper-case", "SHARDED", "invalid --distribution 'SHARDED'"),
            ("--distribution", "api-name", "ShardedByS3Key", "use replicated or sharded"),
            ("--input-mode", "pipe", "Pipe", "invalid --input-mode 'Pipe': use File or FastFile"),
            ("--input-mode", "lower-case", "file", "invalid --input-mode 'file'"),
            ("--input-mode", "leading-space", " File", "invalid --input-mode ' File'"),
            ("--job-name", "40-characters", "a" * 40, "at most 39 characters"),
            ("--job-name", "underscore", "x_y", "invalid --job-name 'x_y'"),
            ("--job-name", "trailing-dash", "x-", "invalid --job-name 'x-'"),
            ("--job-name", "substitution", "$(id)", "invalid --job-name '$(id)'"),
            ("--job-name", "unicode", "\u00fc", "invalid --job-name"),
            ("--job-name", "newline", "x\n", "invalid --job-name 'x\\n'"),
        ]
    ],
    *[
        pytest.param("submit", ["--role", role], f"invalid role {role!r}", id=f"ROLE-{name}")
        for name, role in [
            ("11-digit-account", "arn:aws:iam::12345678901:role/x"),
            ("no-name", f"arn:aws:iam::{ACCOUNT}:role/"),
            ("space", f"arn:aws:iam::{ACCOUNT}:role/x y"),
            ("a-user", f"arn:aws:iam::{ACCOUNT}:user/x"),
            ("blank", " "),
            ("newline", f"arn:aws:iam::{ACCOUNT}:role/x\n"),
        ]
    ],
    *[
        pytest.param("submit", ["--hyperparameters", pairs], words, id=f"HYPERPARAMETERS-{name}")
        for name, pairs, words in [
            ("twice", "epochs=3 epochs=3", "--hyperparameters gives epochs twice ('3' and '3')"),
            ("no-value", "epochs=", "hyperparameter epochs='' is not valid"),
            ("no-name", "=3", "takes NAME=VALUE pairs, got '=3'"),
            ("no-equals", "epochs", "takes NAME=VALUE pairs, got 'epochs'"),
            ("negative", "epochs=-1", "epochs='-1' is out of range"),
            ("float-for-int", "epochs=1e3", "epochs='1e3' is not valid"),
            ("semicolon", "epochs=3;rm", "epochs='3;rm' is not valid"),
            ("fullwidth-digit", "epochs=\uff13", "epochs='\uff13' is not valid"),
            ("nan", "learning_rate=nan", "learning_rate='nan' is not valid"),
            ("inf", "learning_rate=inf", "learning_rate='inf' is not valid"),
            ("underflow", "learning_rate=1e-400", "learning_rate='1e-400' is out of range"),
            ("20-digits", f"batch_size={'9' * 20}", "batch_size='99999999999999999999'"),
            ("upper-case-name", "EPOCHS=3", "unknown hyperparameter 'EPOCHS'"),
            ("substitution", "features=$(id)", "features='$(id)' is out of range"),
        ]
    ],
    *[
        pytest.param("submit", ["--inputs", pairs], words, id=f"INPUTS-{name}")
        for name, pairs, words in [
            (
                "no-objects",
                "training=s3://nope-bucket/x/",
                "channel training: no objects under s3://nope-bucket/x/",
            ),
            ("a-local-path", "training=/etc/passwd", "'/etc/passwd' is not an s3:// URI"),
            ("file-uri", "training=file:///etc", "'file:///etc' is not an s3:// URI"),
            ("slash-in-channel", "bad/name=s3://b/", "invalid channel name 'bad/name'"),
            ("unicode-channel", "\u00fc=s3://b/", "invalid channel name"),
            ("no-uri", "training", "--inputs takes CHANNEL=URI pairs, got 'training'"),
            ("twice", "training=s3://a/ training=s3://b/", "--inputs gives training twice"),
        ]
    ],
    *[
        pytest.param("submit", [*options], words, id=f"SPOT-{name}")
        for name, options, words in [
            (
                "2",
                ["--spot=2"],
                "argument --spot: expected one of 1, true, yes, on, 0, false, no, off, got '2'",
            ),
            ("substitution", ["--spot=$(id)"], "got '$(id)'"),
            ("max-wait-without-spot", ["--max-wait", "7200"], "--max-wait applies to spot training only"),
            ("max-wait-below-max-run", ["--spot=1", "--max-run", "3600", "--max-wait", "3599"], "less than"),
        ]
    ],
    pytest.param(
        "submit", ["--local=1", "--instance-type", "ml.m5.large"], "drop --spot", id="LOCAL-with-type"
    ),
    pytest.param("submit", ["--local=tpu"], "argument --local: expected one of", id="LOCAL-tpu"),
    pytest.param(
        "submit",
        ["--local=1", "--distribution", "sharded"],
        "drop --distribution sharded",
        id="LOCAL-sharded",
    ),
    *[
        pytest.param("tune", options, words, id=f"{options[0][2:].upper().replace('-', '_')}-{name}")
        for name, options, words in [
            ("zero-rate", ["--ranges", "learning_rate=0:1"], "learning_rate='0' is out of range"),
            ("nan", ["--ranges", "learning_rate=nan:1"], "learning_rate='nan' is not valid"),
            ("float-for-int", ["--ranges", "batch_size=1.5:8"], "batch_size='1.5' is not valid"),
            ("empty-range", ["--ranges", "batch_size=8:8"], "is not LOW:HIGH with LOW below HIGH"),
            ("no-high", ["--ranges", "epochs=1:"], "epochs='' is not valid"),
            ("three-bounds", ["--ranges", "learning_rate=0.001:0.01:0.1"], "learning_rate='0.01:0.1'"),
            ("no-equals", ["--ranges", "learning_rate"], "--ranges takes NAME=LOW:HIGH or NAME=A,B pairs"),
            (
                "range-of-choices",
                ["--ranges", "features=timefreq:fft"],
                "is not LOW:HIGH with LOW below HIGH",
            ),
            ("substitution", ["--ranges", "$(id)=1:2"], "unknown hyperparameter '$(id)'"),
            ("0", ["--max-jobs", "0"], "argument --max-jobs: expected a positive whole number, got '0'"),
            (
                "more-parallel",
                ["--max-jobs", "1", "--max-parallel", "2"],
                "MAX_PARALLEL=2 is more than MAX_JOBS=1",
            ),
            ("1", ["--local", "1"], "tuning runs on SageMaker only: drop LOCAL"),
        ]
    ],
    pytest.param(
        "submit",
        ["--inputs", " ".join(f"c{i}=s3://b-{i}/data/" for i in range(21))],
        "--inputs names 21 channels: a training job takes at most 20",
        id="INPUTS-21-channels",
    ),
    pytest.param(
        "submit", ["--image", "e" * 256], "SageMaker takes at most 255: shorten IMAGE or TAG", id="IMAGE-256"
    ),
    pytest.param(
        "submit",
        ["--output-path", "s3://Bad_Bucket/out"],
        "'Bad_Bucket' is not an S3 bucket name",
        id="OUTPUT_PATH-upper-case-bucket",
    ),
    pytest.param(
        "submit",
        ["--inputs", f"training=s3://{'b' * 64}/data/"],
        "is not an S3 bucket name",
        id="INPUTS-64-character-bucket",
    ),
]


@pytest.mark.parametrize(("program", "argv", "words"), REFUSED_SETTINGS)
def test_a_hostile_job_setting_is_refused_in_one_line_naming_it_and_sagemaker_is_never_asked(
    program: str, argv: list[str], words: str, launch: Callable[..., Launch]
) -> None:
    launched = launch(program, *argv)

    assert_refused(launched.outcome, program, words)
    assert launched.reached == [] and launched.outcome.out == ""
    assert not [request for request in launched.sent if request.startswith("sagemaker")]


def request_of(launched: Launch) -> dict[str, Any]:
    """The Job submit would send, as a dict; for tune, with its ranges and limits."""
    assert launched.outcome.code == 0, launched.outcome.err
    assert launched.outcome.err == ""
    (reached,) = launched.reached
    if isinstance(reached, tuple):
        job, ranges, max_jobs, max_parallel = reached
        return {**vars(job), "ranges": ranges, "max_jobs": max_jobs, "max_parallel": max_parallel}
    return vars(reached)


ACCEPTED_SETTINGS = [
    pytest.param("submit", [], "image_uri", f"{ECR}/eeg:latest", id="the-defaults"),
    pytest.param("submit", ["--instance-count", " 2 "], "instance_count", 2, id="INSTANCE_COUNT-padded"),
    pytest.param("submit", ["--instance-count", "100"], "instance_count", 100, id="INSTANCE_COUNT-100"),
    pytest.param("submit", ["--volume-size", " 50"], "volume_size", 50, id="VOLUME_SIZE-padded"),
    pytest.param("submit", ["--max-run", "3600 "], "max_run", 3600, id="MAX_RUN-padded"),
    pytest.param("submit", ["--spot= YES "], "max_wait", 2 * 86400, id="SPOT-YES-padded"),
    pytest.param("submit", ["--spot=off"], "max_wait", None, id="SPOT-off"),
    pytest.param("submit", ["--spot=1", "--spot=0"], "max_wait", None, id="SPOT-twice-the-last-counts"),
    pytest.param(
        "submit",
        ["--spot=1", "--max-run", "60", "--max-wait", "60"],
        "max_wait",
        60,
        id="MAX_WAIT-equal-to-run",
    ),
    pytest.param(
        "submit", ["--distribution", " sharded "], "distribution", "ShardedByS3Key", id="DISTRIBUTION-padded"
    ),
    pytest.param("submit", ["--input-mode", "FastFile"], "input_mode", "FastFile", id="INPUT_MODE-FastFile"),
    pytest.param(
        "submit",
        ["--hyperparameters", "epochs=3\nbatch_size=4"],
        "hyperparameters",
        {"epochs": "3", "batch_size": "4"},
        id="HYPERPARAMETERS-on-two-lines",
    ),
    pytest.param("submit", ["--hyperparameters", ""], "hyperparameters", {}, id="HYPERPARAMETERS-empty"),
    pytest.param(
        "submit", ["--tag", "v1.2_rc-3"], "image_uri", f"{ECR}/eeg:v1.2_rc-3", id="TAG-dots-and-dashes"
    ),
    pytest.param(
        "submit", ["--tag", "v" * 128], "image_uri", f"{ECR}/eeg:{'v' * 128}", id="TAG-128-characters"
    ),
    pytest.param(
        "submit",
        ["--image", "eeg:v1", "--tag", "v1"],
        "image_uri",
        f"{ECR}/eeg:v1",
        id="TAG-given-twice-alike",
    ),
    pytest.param(
        "submit",
        ["--image", "team/eeg-v2"],
        "image_uri",
        f"{ECR}/team/eeg-v2:latest",
        id="IMAGE-in-a-namespace",
    ),
    pytest.param(
        "submit",
        ["--role", f"arn:aws:iam::{ACCOUNT}:role/path/Name+=,.@-_"],
        "role",
        f"arn:aws:iam::{ACCOUNT}:role/path/Name+=,.@-_",
        id="ROLE-every-allowed-character",
    ),
    pytest.param(
        "submit",
        ["--inputs", f"training=s3://{BUCKET}/data/eeg/ validation=s3://{BUCKET}/data/eeg/"],
        "inputs",
        {"training": f"s3://{BUCKET}/data/eeg/", "validation": f"s3://{BUCKET}/data/eeg/"},
        id="INPUTS-two-channels",
    ),
    pytest.param(
        "submit",
        ["--output-path", "s3://team-bucket/out;rm -rf x"],
        "output_path",
        "s3://team-bucket/out;rm -rf x",
        id="OUTPUT_PATH-a-key-with-shell-syntax",
    ),
    pytest.param("submit", ["--local= "], "instance_type", "ml.m5.large", id="LOCAL-blank-is-off"),
    pytest.param("submit", ["--local=GPU"], "instance_type", "local_gpu", id="LOCAL-GPU"),
    pytest.param("submit", ["--tensorboard=0"], "tensorboard_uri", None, id="TENSORBOARD-0"),
    pytest.param(
        "tune",
        ["--ranges", "patience=1,2,3"],
        "ranges",
        {"patience": ("categorical", ["1", "2", "3"])},
        id="RANGES-choices",
    ),
    pytest.param(
        "tune",
        ["--ranges", "features=raw"],
        "ranges",
        {"features": ("categorical", ["raw"])},
        id="RANGES-one-choice",
    ),
    pytest.param(
        "tune",
        ["--ranges", "learning_rate=0.001:0.01\nbatch_size=8:16"],
        "ranges",
        {"learning_rate": ("continuous", [0.001, 0.01]), "batch_size": ("integer", [8, 16])},
        id="RANGES-on-two-lines",
    ),
    pytest.param(
        "tune", ["--max-jobs", " 4 ", "--max-parallel", "4"], "max_parallel", 4, id="MAX_PARALLEL-equal"
    ),
    pytest.param("tune", ["--local", ""], "instance_type", "ml.m5.large", id="LOCAL-empty-on-tune"),
]


@pytest.mark.parametrize(("program", "argv", "field", "value"), ACCEPTED_SETTINGS)
def test_an_odd_but_valid_job_setting_is_accepted_as_what_it_means(
    program: str, argv: list[str], field: str, value: Any, launch: Callable[..., Launch]
) -> None:
    assert request_of(launch(program, *argv))[field] == value


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        pytest.param(["--output-path", "s3://"], "s3://", id="OUTPUT_PATH-s3-with-no-bucket"),
        pytest.param(["--image", "../eeg"], "../eeg", id="IMAGE-dot-dot"),
        pytest.param(["--image", "eeg@sha256:abc"], "sha256:abc", id="IMAGE-a-3-digit-digest"),
        pytest.param(["--max-run", HUGE], HUGE, id="MAX_RUN-10-to-the-30"),
        pytest.param(["--volume-size", HUGE], HUGE, id="VOLUME_SIZE-10-to-the-30"),
        pytest.param(["--spot=1", "--max-wait", HUGE], HUGE, id="MAX_WAIT-10-to-the-30"),
    ],
)
def test_a_setting_sagemaker_would_refuse_is_refused_here_first(
    argv: list[str], words: str, launch: Callable[..., Launch]
) -> None:
    launched = launch("submit", *argv)

    assert_refused(launched.outcome, "submit", words)
    assert launched.reached == []


REFUSED_WITHOUT_AWS = [
    pytest.param("submit", ["--role", "arn:aws:iam::1:role/x"], id="ROLE"),
    pytest.param("submit", ["--job-name", "x_y"], id="JOB_NAME"),
    pytest.param("submit", ["--hyperparameters", "epochs=0"], id="HYPERPARAMETERS"),
    pytest.param("submit", ["--image", "EEG"], id="IMAGE"),
    pytest.param("submit", ["--input-mode", "Pipe"], id="INPUT_MODE"),
    pytest.param("submit", ["--instance-type", "m5.large"], id="INSTANCE_TYPE"),
    pytest.param("submit", ["--tag", "$(id)"], id="TAG"),
    pytest.param("tune", ["--ranges", "learning_rate=0:1"], id="RANGES"),
    pytest.param("submit", ["--output-path", "/tmp/out"], id="OUTPUT_PATH"),
    pytest.param("submit", ["--output-path", "s3://"], id="OUTPUT_PATH-no-bucket"),
    pytest.param("submit", ["--inputs", "training=s3:///data/"], id="INPUTS-no-bucket"),
    pytest.param("submit", ["--max-run", HUGE], id="MAX_RUN"),
]


@pytest.mark.parametrize(("program", "argv"), REFUSED_WITHOUT_AWS)
def test_a_refused_setting_asks_nothing_of_aws_not_even_who_the_caller_is(
    program: str, argv: list[str], launch: Callable[..., Launch]
) -> None:
    launched = launch(program, *argv)

    assert launched.outcome.code != 0
    assert launched.sent == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        pytest.param("--job-name", "-x", id="JOB_NAME"),
        pytest.param("--tag", "-v1", id="TAG"),
        pytest.param("--instance-type", "-m5", id="INSTANCE_TYPE"),
        pytest.param("--output-path", "--dry-run", id="OUTPUT_PATH"),
    ],
)
def test_a_setting_that_starts_with_a_dash_is_named_in_its_refusal(
    flag: str, value: str, launch: Callable[..., Launch]
) -> None:
    # make passes --job-name="${JOB_NAME}": one word, so the value is never taken for an option
    assert_refused(launch("submit", f"{flag}={value}").outcome, "submit", repr(value))


# --- 3. through make itself


def job_names(account: Aws) -> set[str]:
    return {job["TrainingJobName"] for job in account.training_jobs()}


@pytest.mark.parametrize(
    ("setting", "quoted"),
    [
        pytest.param("JOB_NAME=$(touch {marker})", "invalid --job-name '$(touch {marker})'", id="JOB_NAME"),
        pytest.param("TAG=`touch {marker}`", "invalid tag '`touch {marker}`'", id="TAG"),
        pytest.param(
            "HYPERPARAMETERS=features=`touch${{IFS}}{marker}`",
            "features='`touch${{IFS}}{marker}`'",
            id="HYPERPARAMETERS",
        ),
    ],
)
def test_make_passes_shell_syntax_in_a_setting_on_as_text_and_runs_none_of_it(
    setting: str, quoted: str, account: Aws, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    jobs = job_names(account)

    result = account.run(
        "make",
        "--no-print-directory",
        "-s",
        "submit",
        f"ROLE={ROLE}",
        "DRY_RUN=1",
        setting.format(marker=marker),
    )

    assert result.returncode != 0
    assert quoted.format(marker=marker) in refusal_line(result.stderr, "submit")
    assert not marker.exists()
    assert job_names(account) == jobs


def test_make_submit_dry_run_sends_padded_and_multi_line_settings_as_meant(account: Aws) -> None:
    jobs = job_names(account)

    result = account.run(
        "make",
        "--no-print-directory",
        "-s",
        "submit",
        f"ROLE={ROLE}",
        "DRY_RUN=1",
        "INSTANCE_COUNT= 2 ",
        "DISTRIBUTION= sharded ",
        "SPOT=YES ",
        "VOLUME_SIZE= 50",
        "HYPERPARAMETERS=epochs=3\nbatch_size=4",
        f"JOB_NAME={'a' * 39}",
        "LOCAL= ",
    )

    assert result.returncode == 0, result.stderr
    request = json.loads(result.stdout)
    assert request["ResourceConfig"] == {
        "VolumeSizeInGB": 50,
        "InstanceCount": 2,
        "InstanceType": "ml.m5.large",
    }
    (channel,) = request["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert request["EnableManagedSpotTraining"] is True
    assert request["HyperParameters"] == {"epochs": "3", "batch_size": "4"}
    assert re.fullmatch(r"a{39}-\d{4}(-\d\d){5}-\d{3}", request["TrainingJobName"])
    assert job_names(account) == jobs


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        pytest.param("JOB_NAME=-x", "invalid --job-name '-x'", id="JOB_NAME"),
        pytest.param("TAG=-v1", "invalid tag '-v1'", id="TAG"),
        pytest.param("INSTANCE_TYPE=-m5", "invalid instance type '-m5'", id="INSTANCE_TYPE"),
        pytest.param("OUTPUT_PATH=--dry-run", "--output-path '--dry-run'", id="OUTPUT_PATH"),
    ],
)
def test_make_submit_passes_a_setting_that_starts_with_a_dash_as_its_value(
    setting: str, named: str, account: Aws
) -> None:
    result = account.run("make", "--no-print-directory", "-s", "submit", f"ROLE={ROLE}", "DRY_RUN=1", setting)

    assert result.returncode != 0
    assert named in refusal_line(result.stderr, "submit")


def test_make_tune_takes_local_0_as_not_local(account: Aws) -> None:
    result = account.run("make", "--no-print-directory", "-s", "tune", f"ROLE={ROLE}", "DRY_RUN=1", "LOCAL=0")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["TrainingJobDefinition"]["RoleArn"] == ROLE


# --- 3. make local HOSTS= and make serve-local PORT=, on copies of the scripts


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """train_local.sh and serve_local.sh beside a test_dir of their own: what they empty is here."""
    for name in ("train_local.sh", "serve_local.sh"):
        shutil.copy2(REPO / name, tmp_path / name)
    (tmp_path / "test_dir" / "input" / "data").mkdir(parents=True)
    return tmp_path


def run_script(folder: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(folder / script), "eeg"],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def as_quoted(value: str) -> str:
    """value as the scripts name it in an error: as bash's printf %q writes it, on one line."""
    return subprocess.run(
        ["bash", "-c", 'printf %q "$1"', "bash", value], capture_output=True, text=True, check=True
    ).stdout


HOSTS_REFUSED = "is not a number of hosts from 1 to 99"


@pytest.mark.parametrize(
    ("hosts", "accepted"),
    [
        pytest.param("", True, id="empty-is-1"),
        pytest.param("2", True, id="2"),
        pytest.param("99", True, id="99"),
        *[
            pytest.param(hosts, False, id=name)
            for name, hosts in [
                ("0", "0"),
                ("minus-1", "-1"),
                ("100", "100"),
                ("leading-zero", "02"),
                ("1.5", "1.5"),
                ("1e1", "1e1"),
                ("trailing-space", "2 "),
                ("arabic-indic", "\u0663"),
                ("semicolon", "1;rm -rf x"),
                ("substitution", "$(touch ran)"),
            ]
        ],
        pytest.param("2\n3", False, id="two-lines"),
    ],
)
def test_a_hostile_hosts_for_make_local_is_refused_in_one_line_before_test_dir_is_touched(
    hosts: str, accepted: bool, scripts: Path
) -> None:
    # RUNNER=bogus: an accepted HOSTS goes on to the runner's check, which stops before training
    result = run_script(scripts, "train_local.sh", HOSTS=hosts, RUNNER="bogus")

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    if accepted:
        assert result.stderr == "train_local: RUNNER=bogus is not docker or native\n"
    else:
        assert result.stderr.startswith(f"train_local: HOSTS={as_quoted(hosts)} {HOSTS_REFUSED}")
        assert sorted(path.name for path in (scripts / "test_dir").iterdir()) == ["input"]
    assert not (scripts / "ran").exists()


@pytest.mark.parametrize(
    ("port", "accepted"),
    [
        pytest.param("", True, id="empty-is-8080"),
        pytest.param("1", True, id="1"),
        pytest.param("65535", True, id="65535"),
        *[
            pytest.param(port, False, id=name)
            for name, port in [
                ("minus-1", "-1"),
                ("0", "0"),
                ("65536", "65536"),
                ("trailing-space", "8080 "),
                ("1e3", "1e3"),
                ("arabic-indic", "\u0668\u0660\u0668\u0660"),
                ("semicolon", "8080;rm -rf x"),
                ("substitution", "$(touch ran)"),
            ]
        ],
        *[pytest.param(port, True, id=f"leading-zero-{port}") for port in ("08080", "09")],
        pytest.param("80\n80", False, id="two-lines"),
    ],
)
def test_a_hostile_port_for_make_serve_local_is_refused_in_one_line(
    port: str, accepted: bool, scripts: Path
) -> None:
    # no model in the copy's test_dir: an accepted PORT stops there, before anything is served
    result = run_script(scripts, "serve_local.sh", PORT=port)

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    if accepted:
        assert result.stderr.startswith("serve_local: no model in")
    else:
        assert result.stderr == f"serve_local: PORT={as_quoted(port)} is not a port number\n"
    assert not (scripts / "ran").exists()


# --- a second pass: file names past the file system's limit, an OUT over its own input


@pytest.mark.parametrize(
    ("program", "argv"),
    [
        pytest.param("plot", ["--history", "{long}/history.csv"], id="plot-a-long-history-folder"),
        pytest.param("plot", ["--history", "{history}", "--out", "{long}.png"], id="plot-a-long-out"),
        pytest.param("predict", ["{long}.npz", "--model", "{model}"], id="predict-long-data"),
        pytest.param("predict", ["{data}", "--model", "{long}"], id="predict-a-long-model"),
    ],
)
def test_a_path_with_a_name_past_255_bytes_is_refused_in_one_line(
    program: str, argv: list[str], trained: OptMl, tmp_path: Path, capsys
) -> None:
    history = tmp_path / "history.csv"
    history.write_text(HISTORY)
    places = {
        "{long}": str(tmp_path / ("n" * 300)),
        "{history}": str(history),
        "{model}": str(trained.base / "model"),
        "{data}": str(trained.training / "output_dict"),
    }
    for name, place in places.items():
        argv = [argument.replace(name, place) for argument in argv]
    main = {"plot": plot.plot, "predict": predict.predict}[program]

    assert_refused(run_main(program, main, argv, capsys), program, "File name too long")


def test_plot_refuses_an_out_that_is_its_own_history(tmp_path: Path, capsys) -> None:
    history = tmp_path / "history"
    history.write_text(HISTORY)

    outcome = run_main("plot", plot.plot, ["--history", str(history), "--out", str(history)], capsys)

    assert_refused(outcome, "plot", "is the history itself")
    assert history.read_text() == HISTORY
