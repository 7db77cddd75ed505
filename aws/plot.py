"""Learning curves of a training run as a PNG: the loss and each of the task's metrics per
epoch, training and validation, with the epoch early stopping kept marked.

    make plot                           # make local's run: test_dir/output/data/history.csv
    make plot JOB=eeg-2026-11-26-...    # a SageMaker job: its output.tar.gz, fetched from S3
    .venv/bin/python -m aws.plot --history path/to/history.csv --out curves.png

Writes test_dir/output/learning_curves.png for the local run, local_output/JOB/learning_curves.png
for a job (OUT= elsewhere), and prints the path.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import math
import sys
import tarfile
import zlib
from pathlib import Path

from aws.context import connect, describe_training_job, run_command
from aws.defaults import LOCAL_OUTPUT, REPO
from container.sagemaker_env import HISTORY_FILE, UserError

LOCAL_HISTORY = REPO / "test_dir" / "output" / "data" / HISTORY_FILE
PLOT_FILE = "learning_curves.png"
# A job's output.tar.gz holds history.csv (about 100 bytes an epoch) and little else: far
# below these, which bound what a damaged or hostile archive can make this read.
MAX_ARCHIVE_BYTES = 64 * 2**20
MAX_EXPANDED_BYTES = 256 * 2**20
MAX_EPOCH = 10_000_000
MAX_PLOTTED = 1e15  # beyond it a value (a loss that diverged) is a gap: matplotlib cannot scale to 1e308


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="plot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--job", default="", help="a SageMaker training job's name")
    parser.add_argument("--history", default="", help=f"a {HISTORY_FILE} (default: make local's)")
    parser.add_argument("--out", default="", help=f"the PNG to write (default: {PLOT_FILE} beside the run)")
    return parser.parse_args(argv)


def read_history(text: str, source: str) -> list[dict[str, float]]:
    """history.csv's rows as numbers; a missing or empty column is left out. Epochs are
    whole numbers from 1; a value that is not finite or beyond MAX_PLOTTED (a loss that
    diverged) is kept as NaN, a gap in its curve."""
    rows = list(csv.DictReader(io.StringIO(text)))
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
    return history


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
            if not members[0].isreg():
                raise UserError(f"{uri} holds {members[0].name} as a link or device, not a file")
            member = archive.extractfile(members[0])
            text = member.read() if member is not None else b""
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise UserError(f"cannot read {uri} as a tar.gz archive ({error or type(error).__name__})") from None
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{uri}: {HISTORY_FILE} is not UTF-8 text (byte {error.start})") from None


def draw(history: list[dict[str, float]], title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed: a file, on any machine
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    kept = kept_epoch(history)
    # The loss, then each metric the task logged (the columns between epoch and time).
    metrics = [
        name for name in history[0] if name not in ("epoch", "time", "kept") and not name.startswith("val_")
    ]
    figure, axes = plt.subplots(
        1, len(metrics), figsize=(5.5 * len(metrics), 4), constrained_layout=True, squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        for name, style in ((metric, "-"), (f"val_{metric}", "--")):
            if all(name in row for row in history) and any(math.isfinite(row[name]) for row in history):
                ax.plot(epochs, [row[name] for row in history], style, label=name.replace("_", " "))
        ax.axvline(kept, color="grey", linestyle=":", label=f"kept epoch {kept}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    figure.suptitle(title)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=100)
    except OSError as error:
        raise UserError(
            f"cannot write {out} ({error.strerror or error}): give OUT= a writable path"
        ) from None
    finally:
        plt.close(figure)


def plot(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.job and args.history:
        raise UserError("give --job or --history, not both")
    if args.job:
        history = read_history(job_history(args.job), f"job {args.job}'s {HISTORY_FILE}")
        out, title = Path(args.out or LOCAL_OUTPUT / args.job / PLOT_FILE), args.job
    else:
        path = Path(args.history) if args.history else LOCAL_HISTORY
        if not path.is_file():
            raise UserError(f"no {path}: run 'make local' first, or give JOB=name of a SageMaker job")
        if path.stat().st_size > MAX_EXPANDED_BYTES:
            raise UserError(
                f"{path} is over {MAX_EXPANDED_BYTES // 2**20} MB: not a {HISTORY_FILE} training wrote"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise UserError(
                f"{path} is not UTF-8 text (byte {error.start}): is it a {HISTORY_FILE}?"
            ) from None
        history = read_history(text, str(path))
        out, title = Path(args.out or path.parent.parent / PLOT_FILE), str(path)
    draw(history, title, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(run_command("plot", plot))
