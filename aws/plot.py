"""Learning curves of a training run as a PNG: the loss and each of the task's metrics per
epoch, training and validation, with the epoch early stopping kept marked.

    make plot                           # make local's run: test_dir/output/data/history.csv
    make plot JOB=eeg-2026-11-26-...    # a SageMaker job: its output.tar.gz, fetched from S3
    .venv/bin/python -m aws.plot --history path/to/history.csv --out curves.png

Writes test_dir/output/learning_curves.png for the local run, local_output/JOB/learning_curves.png
for a job, and prints the path. OUT= elsewhere: its suffix picks the format (.png, .pdf, .svg...;
none is a PNG), and a folder gets learning_curves.png inside it.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import io
import math
import os
import sys
import tarfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from aws.context import connect, describe_training_job, run_command
from aws.defaults import LOCAL_OUTPUT, REPO
from container.sagemaker_env import HISTORY_FILE, UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOCAL_HISTORY = REPO / "test_dir" / "output" / "data" / HISTORY_FILE
PLOT_FILE = "learning_curves.png"
# A job's output.tar.gz holds history.csv (about 100 bytes an epoch) and little else: far
# below these, which bound what a damaged or hostile archive can make this read.
MAX_ARCHIVE_BYTES = 64 * 2**20
MAX_EXPANDED_BYTES = 256 * 2**20
MAX_EPOCH = 10_000_000
MAX_PLOTTED = 1e15  # beyond it a value (a loss that diverged) is a gap: matplotlib cannot scale to 1e308
NOT_METRICS = ("epoch", "time", "kept")
# A task logs a handful of metrics; a history of hundreds would make a figure minutes to draw
# and too wide to read, so the first MAX_METRICS are drawn, GRID_COLUMNS to a row.
MAX_METRICS = 12
GRID_COLUMNS = 4


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="plot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--job", default="", help="a SageMaker training job's name")
    parser.add_argument("--history", default="", help=f"a {HISTORY_FILE} (default: make local's)")
    parser.add_argument("--out", default="", help=f"the PNG to write (default: {PLOT_FILE} beside the run)")
    return parser.parse_args(argv)


def history_text(data: bytes, source: str) -> str:
    """history.csv's bytes as text, read the same whether from a local file or a job's archive:
    UTF-8, a leading byte order mark (Excel, Notepad) dropped, \r\n and \r line ends made \n."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{source} is not UTF-8 text (byte {bom + error.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_history(text: str, source: str) -> list[dict[str, float]]:
    """history.csv's rows as numbers; a missing or empty column is left out. Epochs are
    whole numbers from 1; a value that is not finite or beyond MAX_PLOTTED (a loss that
    diverged) is kept as NaN, a gap in its curve. At least one metric must have a value."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as error:  # a field past csv's 128 KB limit; line_num counts the lines read whole
        raise UserError(f"{source}: line {reader.line_num + 1} cannot be read as CSV ({error})") from None
    if not rows or "epoch" not in rows[0]:
        raise UserError(f"{source} holds no epochs: is it a {HISTORY_FILE} that training wrote?")
    history = []
    for number, row in enumerate(rows, start=2):
        if None in row:
            raise UserError(f"{source}: line {number} has more fields than the header")
        try:
            values = {name: float(value) for name, value in row.items() if value not in ("", None)}
        except ValueError as error:
            raise UserError(f"{source}: line {number} holds something other than numbers ({error})") from None
        epoch = values.get("epoch", math.nan)
        if not (1 <= epoch <= MAX_EPOCH and epoch == int(epoch)):
            raise UserError(f"{source}: line {number}'s epoch is {row['epoch']!r}, not a whole number from 1")
        history.append(
            {name: value if abs(value) <= MAX_PLOTTED else math.nan for name, value in values.items()}
        )
    if not metrics(history):
        raise UserError(
            f"{source} holds no metric to plot: it needs a column besides epoch, time and kept (loss...)"
        )
    return history


def metrics(history: list[dict[str, float]]) -> list[str]:
    """The loss and each metric the task logged, in column order, each drawn with its val_
    twin. A val_ column alone still counts: a validation curve is worth seeing by itself."""
    names = (name.removeprefix("val_") for row in history for name in row if name not in NOT_METRICS)
    return list(dict.fromkeys(names))


def kept_epoch(history: list[dict[str, float]]) -> int:
    """The epoch the model was saved from: history.csv's kept column, else the last."""
    kept = [int(row["epoch"]) for row in history if row.get("kept") == 1]
    return kept[0] if kept else int(history[-1]["epoch"])


def job_history(job: str) -> str:
    """history.csv from the job's output.tar.gz (what it left in /opt/ml/output/data)."""
    aws = connect()
    description = describe_training_job(aws.client("sagemaker"), job, aws.region)
    uri = f"{description['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job}/output/output.tar.gz"
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = aws.client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_ARCHIVE_BYTES + 1)
    except s3.exceptions.NoSuchKey:
        raise UserError(f"no {uri}: the job has not finished, or left no output") from None
    return history_in_archive(body, uri)


def history_in_archive(body: bytes, uri: str) -> str:
    """history.csv's text from the bytes of an output.tar.gz, read within bounds: the
    archive, what it expands to, and a regular file member only."""
    if len(body) > MAX_ARCHIVE_BYTES:
        raise UserError(
            f"{uri} is over {MAX_ARCHIVE_BYTES // 2**20} MB: not the output.tar.gz of a training job"
        )
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as compressed:
            expanded = compressed.read(MAX_EXPANDED_BYTES + 1)
        if len(expanded) > MAX_EXPANDED_BYTES:
            raise UserError(
                f"{uri} expands to over {MAX_EXPANDED_BYTES // 2**20} MB: not a training job's output"
            )
        with tarfile.open(fileobj=io.BytesIO(expanded), mode="r:") as archive:
            members = [member for member in archive.getmembers() if Path(member.name).name == HISTORY_FILE]
            if not members:
                raise UserError(f"{uri} holds no {HISTORY_FILE}")
            # The first regular file: a folder or link of the same name before it is passed over.
            files = [member for member in members if member.isreg()]
            if not files:
                kind = "a folder" if members[0].isdir() else "a link or device"
                raise UserError(f"{uri} holds {members[0].name} as {kind}, not a file")
            member = archive.extractfile(files[0])
            data = member.read() if member is not None else b""
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise UserError(f"cannot read {uri} as a tar.gz archive ({error or type(error).__name__})") from None
    return history_text(data, f"{uri}'s {HISTORY_FILE}")


def out_path(out: str, default: Path) -> tuple[Path, str]:
    """Where the figure goes and its format, checked before any work: an existing folder (or a
    path ending in /) gets PLOT_FILE inside it; the suffix names the format, none is a PNG,
    so the path printed is the path written (matplotlib would otherwise add .png to it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(out) if out else default
    if out.endswith(("/", os.sep)) or path.is_dir():
        path = path / PLOT_FILE
    kind = path.suffix.removeprefix(".").lower() or "png"
    formats = FigureCanvasAgg.get_supported_filetypes()
    if kind not in formats:
        raise UserError(
            f"cannot write {path}: .{kind} is not a format matplotlib writes ({', '.join(sorted(formats))})"
        )
    return path, kind


def draw(history: list[dict[str, float]], title: str, out: Path, kind: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed: a file, on any machine
    matplotlib.rcParams["text.parse_math"] = False  # names and paths are text, a $ included
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    kept = kept_epoch(history)
    names = metrics(history)
    shown = names[:MAX_METRICS]
    if len(names) > len(shown):
        note = f"the first {len(shown)} of {len(names)} metrics"
        print(f"plot: drawing {note}, in {HISTORY_FILE}'s column order", file=sys.stderr)
        title = f"{title} ({note})"
    columns = min(len(shown), GRID_COLUMNS)
    rows = math.ceil(len(shown) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5.5 * columns, 4 * rows), constrained_layout=True, squeeze=False
    )
    try:
        for ax, metric in zip(axes.flat, shown, strict=False):  # a grid's last row may have room left
            for name, style in ((metric, "-"), (f"val_{metric}", "--")):
                values = [row.get(name, math.nan) for row in history]  # a missing value is a gap
                if any(math.isfinite(value) for value in values):
                    # A point of its own where a line has none (a solved model's one epoch)
                    marker = "o" if len(epochs) == 1 else None
                    ax.plot(epochs, values, style, marker=marker, label=name.replace("_", " "))
            ax.axvline(kept, color="grey", linestyle=":", label=f"kept epoch {kept}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.legend()
        for ax in axes.flat[len(shown) :]:
            ax.remove()
        figure.suptitle(title)
        save(figure, out, kind)
    finally:
        plt.close(figure)


def save(figure: Figure, out: Path, kind: str) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, format=kind, dpi=100)
    except OSError as error:
        raise UserError(
            f"cannot write {out} ({error.strerror or error}): give OUT= a writable path"
        ) from None
    except (ValueError, RuntimeError) as error:  # matplotlib's refusal: .pgf without LaTeX, say
        raise UserError(f"cannot write {out} ({error})") from None


def plot(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.job and args.history:
        raise UserError("give --job or --history, not both")
    if args.job:
        out, kind = out_path(args.out, LOCAL_OUTPUT / args.job / PLOT_FILE)
        history = read_history(job_history(args.job), f"job {args.job}'s {HISTORY_FILE}")
        title = args.job
    else:
        path = Path(args.history) if args.history else LOCAL_HISTORY
        out, kind = out_path(args.out, path.parent.parent / PLOT_FILE)
        if not path.exists():
            raise UserError(f"no {path}: run 'make local' first, or give JOB=name of a SageMaker job")
        if not path.is_file():
            raise UserError(
                f"{path} is not a regular file (a folder, FIFO or device): plot reads a {HISTORY_FILE}"
            )
        if out.resolve() == path.resolve():
            raise UserError(f"--out {out} is the history itself: give another OUT=")
        if path.stat().st_size > MAX_EXPANDED_BYTES:
            raise UserError(
                f"{path} is over {MAX_EXPANDED_BYTES // 2**20} MB: not a {HISTORY_FILE} training wrote"
            )
        try:
            data = path.read_bytes()
        except OSError as error:
            raise UserError(f"cannot read {path} ({error.strerror or error})") from None
        history = read_history(history_text(data, str(path)), str(path))
        title = str(path)
    draw(history, title, out, kind)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(run_command("plot", plot))
