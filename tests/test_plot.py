"""make plot: learning curves as a PNG, from make local's run or from a SageMaker job's output."""

from __future__ import annotations

import io
import re
import tarfile
import zlib
from pathlib import Path

import pytest

from aws import plot
from container.sagemaker_env import UserError
from moto_server import Aws

PNG = b"\x89PNG\r\n\x1a\n"
HISTORY = (
    "epoch,loss,accuracy,val_loss,val_accuracy,time,kept\n"
    "1,0.70,0.55,0.60,0.70,1.2,0\n"
    "2,0.40,0.85,0.35,0.90,0.1,1\n"
    "3,0.20,0.95,0.45,0.85,0.1,0\n"
)


def test_a_history_becomes_a_png_beside_it(tmp_path):
    history = tmp_path / "output" / "data" / "history.csv"
    history.parent.mkdir(parents=True)
    history.write_text(HISTORY)

    assert plot.plot(["--history", str(history)]) == 0

    assert (tmp_path / "output" / "learning_curves.png").read_bytes().startswith(PNG)


def test_the_kept_epoch_is_the_one_history_marks_else_the_last():
    assert plot.kept_epoch(plot.read_history(HISTORY, "test")) == 2
    assert plot.kept_epoch(plot.read_history(HISTORY.replace(",1\n", ",0\n"), "test")) == 3


def test_a_file_that_is_not_a_history_is_refused_naming_it():
    with pytest.raises(UserError, match=r"notes\.txt holds no epochs"):
        plot.read_history("just some notes\n", "notes.txt")


def test_without_a_local_run_it_says_to_run_make_local(tmp_path):
    with pytest.raises(UserError, match="run 'make local' first"):
        plot.plot(["--history", str(tmp_path / "history.csv")])


def test_make_plot_job_fetches_the_jobs_output_from_s3(aws: Aws, tmp_path: Path):
    aws.client("s3").create_bucket(
        Bucket="team-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    aws.training_job("eeg-1", "eeg:latest")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        member = tarfile.TarInfo("history.csv")
        member.size = len(HISTORY)
        tar.addfile(member, io.BytesIO(HISTORY.encode()))
    aws.client("s3").put_object(
        Bucket="team-bucket", Key="output/eeg-1/output/output.tar.gz", Body=archive.getvalue()
    )
    out = tmp_path / "eeg-1.png"

    result = aws.run("make", "--no-print-directory", "-s", "plot", "JOB=eeg-1", f"OUT={out}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and out.read_bytes().startswith(PNG)


def tar_gz(*members: tarfile.TarInfo, contents: bytes = HISTORY.encode()) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(contents) if member.isreg() else None)
    return archive.getvalue()


def regular(name: str = "history.csv", size: int = len(HISTORY)) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size = size
    return member


def link(kind: bytes) -> tarfile.TarInfo:
    member = tarfile.TarInfo("history.csv")
    member.type, member.linkname = kind, "/etc/passwd"
    return member


def bomb() -> bytes:
    """A few MB of gzip that expand past the bound: one history.csv of 300 MB of zeros."""
    header = regular(size=300 * 2**20).tobuf()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip stream
    chunk, parts = b"0" * 2**20, [compressor.compress(header)]
    parts += [compressor.compress(chunk) for _ in range(300)]
    return b"".join([*parts, compressor.flush()])


def test_a_jobs_archive_gives_its_history_text():
    assert plot.history_in_archive(tar_gz(regular()), "s3://b/o.tar.gz") == HISTORY


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (tar_gz(link(tarfile.SYMTYPE)), "as a link or device, not a file"),
        (tar_gz(link(tarfile.LNKTYPE)), "as a link or device, not a file"),
        (b"not a tar at all", "cannot read s3://b/o.tar.gz as a tar.gz archive"),
        (b"", "cannot read s3://b/o.tar.gz as a tar.gz archive"),
        (tar_gz(regular())[:-20], "cannot read s3://b/o.tar.gz as a tar.gz archive"),
        (tar_gz(regular(), contents=b"epoch\n\xff\xfe\n" + b" " * (len(HISTORY) - 8)), "is not UTF-8 text"),
        (tar_gz(regular("notes.txt")), "holds no history.csv"),
        (b"x" * (plot.MAX_ARCHIVE_BYTES + 1), "is over 64 MB"),
    ],
)
def test_a_damaged_or_hostile_archive_is_one_line_naming_it(body, words):
    with pytest.raises(UserError, match=re.escape(words)):
        plot.history_in_archive(body, "s3://b/o.tar.gz")


def test_an_archive_that_expands_past_the_bound_is_refused_before_it_is_all_read():
    body = bomb()
    assert len(body) < 2 * 2**20

    with pytest.raises(UserError, match="expands to over 256 MB"):
        plot.history_in_archive(body, "s3://b/o.tar.gz")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("epoch,loss\ninf,0.5\n", "line 2's epoch is 'inf', not a whole number from 1"),
        ("epoch,loss\nnan,0.5\n", "line 2's epoch is 'nan'"),
        ("epoch,loss\n1e308,0.5\n", "line 2's epoch is '1e308'"),
        ("epoch,loss\n1.5,0.5\n", "line 2's epoch is '1.5'"),
        ("epoch,loss\n1,0.5,7\n", "line 2 has more fields than the header"),
        ("epoch,loss\n1,abc\n", "line 2 holds something other than numbers"),
    ],
)
def test_a_history_with_epochs_that_are_not_epochs_is_one_line_naming_the_line(text, words):
    with pytest.raises(UserError, match=re.escape(words)):
        plot.read_history(text, "history.csv")


def test_losses_that_diverged_are_gaps_in_the_curve_not_an_error(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss,val_loss,kept\n1,1e308,-1e308,0\n2,inf,nan,1\n3,0.5,0.4,0\n")

    assert plot.plot(["--history", str(history), "--out", str(tmp_path / "curves.png")]) == 0

    assert (tmp_path / "curves.png").read_bytes().startswith(PNG)


def test_a_history_that_is_not_utf8_is_refused_naming_it(tmp_path):
    history = tmp_path / "history.csv"
    history.write_bytes(b"epoch,loss\n1,\xff\n")

    with pytest.raises(UserError, match=r"history\.csv is not UTF-8 text \(byte 13\)"):
        plot.plot(["--history", str(history)])


def test_an_out_that_cannot_be_written_is_refused_naming_it(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text(HISTORY)
    (tmp_path / "a file").write_text("")

    with pytest.raises(UserError, match=r"cannot write .*a file/curves\.png"):
        plot.plot(["--history", str(history), "--out", str(tmp_path / "a file" / "curves.png")])


def test_a_byte_order_mark_and_cr_line_ends_read_as_plain_text():
    text = plot.history_text(b"\xef\xbb\xbfepoch,loss\r1,0.5\r\n2,0.4\r", "history.csv")

    assert text == "epoch,loss\n1,0.5\n2,0.4\n"
    assert [row["epoch"] for row in plot.read_history(text, "history.csv")] == [1, 2]


def test_a_byte_past_a_byte_order_mark_is_counted_from_the_files_start():
    with pytest.raises(UserError, match=r"history\.csv is not UTF-8 text \(byte 3\)"):
        plot.history_text(b"\xef\xbb\xbf\xff", "history.csv")


def test_a_field_past_csvs_limit_is_refused_naming_the_line():
    with pytest.raises(UserError, match=r"history\.csv: line 2 cannot be read as CSV"):
        plot.read_history("epoch,loss\n1," + "1" * 200_000 + "\n", "history.csv")


@pytest.mark.parametrize("header", ["epoch", "epoch,time,kept"])
def test_a_history_without_a_metric_is_refused_saying_what_it_needs(header):
    with pytest.raises(UserError, match="holds no metric to plot: it needs a column besides epoch"):
        plot.read_history(f"{header}\n" + ",".join(["1"] * len(header.split(","))) + "\n", "history.csv")


def test_a_validation_column_alone_is_drawn_on_its_metrics_axes():
    history = plot.read_history("epoch,val_loss,time\n1,0.5,1.0\n", "history.csv")

    assert plot.metrics(history) == ["loss"]


def test_hundreds_of_metrics_draw_the_first_twelve_on_a_grid_with_a_note(tmp_path, capsys):
    history = tmp_path / "history.csv"
    names = [f"m{number}" for number in range(300)]
    history.write_text(f"epoch,{','.join(names)}\n1,{','.join(['0.5'] * 300)}\n")
    out = tmp_path / "c.png"

    assert plot.plot(["--history", str(history), "--out", str(out)]) == 0

    assert "drawing the first 12 of 300 metrics" in capsys.readouterr().err
    assert out.read_bytes()[16:24] == (2200).to_bytes(4, "big") + (1200).to_bytes(4, "big")  # 4 x 3 plots


@pytest.mark.parametrize(("out", "written"), [("curves", "curves"), (".", "learning_curves.png")])
def test_the_path_printed_is_the_path_written(out, written, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("history.csv").write_text(HISTORY)

    assert plot.plot(["--history", "history.csv", "--out", out]) == 0

    assert Path(capsys.readouterr().out.strip()) == Path(written)
    assert Path(written).read_bytes().startswith(PNG)


def test_an_out_suffix_matplotlib_cannot_write_is_refused_before_any_work(tmp_path):
    with pytest.raises(
        UserError, match=r"cannot write .*curves\.txt: \.txt is not a format matplotlib writes"
    ):
        plot.plot(["--history", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "new" / "curves.txt")])

    assert not (tmp_path / "new").exists()


def test_a_history_that_is_a_folder_is_not_called_missing(tmp_path):
    (tmp_path / "history.csv").mkdir()

    with pytest.raises(UserError, match=r"history\.csv is not a regular file"):
        plot.plot(["--history", str(tmp_path / "history.csv")])


def test_an_archive_skips_a_folder_named_history_for_the_file_after_it():
    folder = tarfile.TarInfo("history.csv")
    folder.type = tarfile.DIRTYPE

    assert plot.history_in_archive(tar_gz(folder, regular("data/history.csv")), "s3://b/o.tar.gz") == HISTORY


def test_a_history_reads_as_numbers_with_epoch_times_to_the_millisecond():
    text = "epoch,loss,accuracy,time,kept\n1,0.5123,0.75,0.412,0\n2,0.4012,0.8,0.147,1\n"

    rows = plot.read_history(text, "history.csv")

    assert rows == [
        {"epoch": 1.0, "loss": 0.5123, "accuracy": 0.75, "time": 0.412, "kept": 0.0},
        {"epoch": 2.0, "loss": 0.4012, "accuracy": 0.8, "time": 0.147, "kept": 1.0},
    ]


def test_a_solved_models_one_epoch_is_drawn_as_points(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    closed = []
    monkeypatch.setattr(plt, "close", closed.append)  # matplotlib's: keeps the figure to look at
    history = plot.read_history("epoch,loss,val_loss,time,kept\n1,0.2,0.3,0.4,1\n", "history.csv")

    plot.draw(history, "one epoch", tmp_path / "curves.png", "png")

    drawn = [line for line in closed[0].axes[0].lines if line.get_label() in ("loss", "val loss")]
    assert [line.get_marker() for line in drawn] == ["o", "o"]
