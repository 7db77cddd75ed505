"""A hostile pass over make plot: history.csv contents, output archives, OUT, and JOB=
through make and moto. The contract every input is held to is in hostile.py."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aws import plot
from hostile import (
    HISTORY,
    Refused,
    assert_refused,
    files_under,
    refusal_line,
    regular,
    run_main,
    special,
    tar_bytes,
)
from moto_server import REPO, Aws

PNG = b"\x89PNG\r\n\x1a\n"


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


def test_plot_refuses_an_out_that_is_its_own_history(tmp_path: Path, capsys) -> None:
    history = tmp_path / "history"
    history.write_text(HISTORY)

    outcome = run_main("plot", plot.plot, ["--history", str(history), "--out", str(history)], capsys)

    assert_refused(outcome, "plot", "is the history itself")
    assert history.read_text() == HISTORY
