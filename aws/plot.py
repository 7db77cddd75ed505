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
import io
import sys
import tarfile
from pathlib import Path

from aws.context import connect, describe_training_job, run_command
from aws.defaults import LOCAL_OUTPUT, REPO
from container.sagemaker_env import HISTORY_FILE, UserError

LOCAL_HISTORY = REPO / "test_dir" / "output" / "data" / HISTORY_FILE
PLOT_FILE = "learning_curves.png"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="plot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--job", default="", help="a SageMaker training job's name")
    parser.add_argument("--history", default="", help=f"a {HISTORY_FILE} (default: make local's)")
    parser.add_argument("--out", default="", help=f"the PNG to write (default: {PLOT_FILE} beside the run)")
    return parser.parse_args(argv)


def read_history(text: str, source: str) -> list[dict[str, float]]:
    """history.csv's rows as numbers; a missing or empty column is left out."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "epoch" not in rows[0]:
        raise UserError(f"{source} holds no epochs: is it a {HISTORY_FILE} that training wrote?")
    try:
        return [
            {name: float(value) for name, value in row.items() if value not in ("", None)} for row in rows
        ]
    except ValueError as error:
        raise UserError(f"{source} holds something other than numbers ({error})") from None


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
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise UserError(f"no {uri}: the job has not finished, or left no output") from None
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        names = [name for name in archive.getnames() if Path(name).name == HISTORY_FILE]
        member = archive.extractfile(names[0]) if names else None
        if member is None:
            raise UserError(f"{uri} holds no {HISTORY_FILE}")
        return member.read().decode()


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
            if all(name in row for row in history):
                ax.plot(epochs, [row[name] for row in history], style, label=name.replace("_", " "))
        ax.axvline(kept, color="grey", linestyle=":", label=f"kept epoch {kept}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    figure.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
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
        history = read_history(path.read_text(), str(path))
        out, title = Path(args.out or path.parent.parent / PLOT_FILE), str(path)
    draw(history, title, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(run_command("plot", plot))
