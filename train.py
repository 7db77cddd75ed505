"""The training job, step by step: read the job, prepare the data, build, train, publish.

SageMaker runs `docker run IMAGE train`; `train` execs this file. By hand:

    make local                                   # the bundled sample, in Docker or natively
    SAGEMAKER_BASE_DIR=test_dir ./train          # natively, on any /opt/ml-shaped folder

What is learnt, and how, is task.py's: the hyperparameters, the network and its loss, the
labels and the metrics. This file and container/ work for any task. Hyperparameters come
from input/config/hyperparameters.json (all values strings, as SageMaker sends them); an
unknown name or a bad value stops the job with a message saying what is accepted.
"""

from __future__ import annotations

import math
import os
import platform
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import task
from container import loop, training_data
from container.checkpoint import Checkpoints
from container.cluster import Cluster, wait_until_resolvable
from container.distribution import (
    Distribution,
    check_same_names,
    for_cluster,
    lost_peer,
    pooled_standardisation,
)
from container.early_stopping import BestEpoch
from container.job_outputs import (
    HISTORY_FILE,
    MODEL_FILE,
    check_writable,
    history_csv,
    publish_model,
    remove_previous_results,
)
from container.native_log import native_log_filtered
from container.sagemaker_env import (
    Paths,
    UserError,
    checkpointing_requested,
    format_epoch_line,
    format_test_line,
    input_data_config,
    parse_hyperparameters,
    read_json_config,
    release_failure_space,
    report_failure,
    reserve_failure_space,
    resource_config,
    write_atomically,
)
from container.stopping import EXIT_STOPPED, exit_at_sigterm
from container.tensorboard import Scalars


class Stopped(UserError):
    """SageMaker sent SIGTERM (StopTrainingJob, MaxRuntime or a spot interruption)."""


@dataclass
class Job:
    """What SageMaker asked for: where, with which settings, on which hosts."""

    paths: Paths
    hyperparameters: dict[str, Any]
    hosts: Cluster
    sharded: bool  # ShardedByS3Key: each host holds its own files of the training channel
    stop_requested: list[int] = field(default_factory=list)
    precision: str = ""  # float32 or bfloat16, once "auto" is resolved
    batch_size: int = 0  # rows per step on each host, once 0 (automatic) is resolved


def main() -> int:
    job_paths = Paths.from_env()
    stop_requested: list[int] = []
    # SageMaker sends SIGTERM, then SIGKILL 120 s later: finish the batch, checkpoint, leave.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))
    try:
        remove_previous_results(job_paths)
        check_writable(job_paths)
        reserve_failure_space(job_paths)
        job = read_job(job_paths, stop_requested)
        data = prepare_data(job)
        distribution, keras = start_distribution(job, data)
        model, history, checkpoints = build(job, data, keras, distribution)
        kept_epoch = train(job, data, keras, model, history, checkpoints, distribution)
        model = refit(job, data, keras, distribution, kept_epoch) or model
        publish(job, data, keras, model, history, kept_epoch)
        release_failure_space(job_paths)
    except Stopped as stopped:
        report_failure(job_paths, str(stopped))
        return EXIT_STOPPED
    except Exception as error:
        if stop_requested:  # SIGTERM came first: what failed after it (a peer that stopped too) is its effect
            report_failure(job_paths, f"stopped by SIGTERM; then {error}; no model written")
            return EXIT_STOPPED
        if not isinstance(error, UserError):
            traceback.print_exc()
        report_failure(
            job_paths,
            str(error)
            if isinstance(error, UserError)
            else f"training failed: {type(error).__name__}: {error}",
        )
        return 1
    return 0


def read_job(paths: Paths, stop_requested: list[int]) -> Job:
    hyperparameters = parse_hyperparameters(
        read_json_config(paths, "hyperparameters.json", {}), task.HYPERPARAMETERS, task.ACCEPTED
    )
    training_input = input_data_config(paths).get("training", {})
    return Job(
        paths=paths,
        hyperparameters=hyperparameters,
        hosts=Cluster.from_resource_config(resource_config(paths)),
        sharded=training_input.get("S3DistributionType") == "ShardedByS3Key",
        stop_requested=stop_requested,
    )


def prepare_data(job: Job) -> dict[str, Any]:
    """The task's inputs and targets. With FullyReplicated input every host holds every file
    and trains on its share of the rows (a solved model: on all of them); with ShardedByS3Key
    each trains on all of its own."""
    hosts = job.hosts
    fitted_to_rows = {"kernels": "its biases", "auto": "its choice"}
    if hosts.size > 1 and job.sharded and (kind := job.hyperparameters["features"]) in fitted_to_rows:
        raise UserError(
            f"features={kind} fits {fitted_to_rows[kind]} to the training rows, and sharded hosts each "
            "hold other rows: use DISTRIBUTION=replicated (FullyReplicated), or other features"
        )
    solved = solved_in_closed_form(job.hyperparameters)
    if hosts.size > 1 and job.sharded and solved:
        raise UserError(
            "the model is solved in closed form (task.solved) on every training row, and sharded "
            "hosts each hold other rows: use DISTRIBUTION=replicated (FullyReplicated), or one instance"
        )
    # A solved model is solved on every row, the same on every host: there are no steps to share.
    share = None if hosts.size == 1 or job.sharded or solved else (hosts.index, hosts.size)
    data = training_data.load_data(job.paths, job.hyperparameters, task, share, read_test=hosts.is_chief)
    on_hosts = (
        f" host={hosts.current_host} ({hosts.index + 1} of {hosts.size}, "
        f"{'sharded' if job.sharded else 'replicated'})"
    )
    print(
        f"data: train={len(data['x_train'])} validation={len(data['x_val'])} "
        f"test={len(data['x_test'])} recording={'x'.join(map(str, data['input_shape']))} "
        f"features={'x'.join(map(str, data['x_train'].shape[1:]))} names={len(data['names'])}"
        + (on_hosts if hosts.size > 1 else ""),
        flush=True,
    )
    if data["choice"]:
        print(data["choice"], flush=True)
    for warning in data["warnings"]:
        print(f"warning: {warning}", flush=True)
    return data


def start_distribution(job: Job, data: dict[str, Any]) -> tuple[Distribution, Any]:
    """TensorFlow's strategy for this job's hosts, once they agree on the data."""
    hosts, paths, noted = job.hosts, job.paths, job.stop_requested
    if hosts.size > 1:
        with exit_at_sigterm("the other hosts' names to resolve", paths, noted):
            wait_until_resolvable(hosts.addresses)
    # Imported here, not at the top: the host-side commands import task.py without TensorFlow.
    with exit_at_sigterm("the other hosts to start", paths, noted), native_log_filtered():
        import keras

        distribution = for_cluster(hosts)  # before anything else runs in TensorFlow
    if hosts.size > 1:
        with exit_at_sigterm("the other hosts to agree on the data", paths, noted):
            check_same_names(distribution, data["names"], hosts.current_host)
            if job.sharded:
                pooled = pooled_standardisation(distribution, len(data["x_train"]), data["mean"], data["std"])
                training_data.restandardise(data, *pooled)
    print(loop.describe_machine(), flush=True)
    print(f"job: name={os.environ.get('TRAINING_JOB_NAME', 'local')} base_dir={job.paths.base}", flush=True)
    as_tensors(data)
    return distribution, keras


def as_tensors(data: dict[str, Any]) -> None:
    """The training and validation rows as tensors in data, their numpy arrays let go:
    training reads tensors, and converting copies (one copy of the features saved at the
    peak, which is the refit's)."""
    import tensorflow as tf

    for name in ("x_train", "y_train", "x_val", "y_val"):
        data[name] = tf.convert_to_tensor(data[name])


def build(
    job: Job, data: dict[str, Any], keras: Any, distribution: Distribution
) -> tuple[Any, list[dict[str, float]], Checkpoints]:
    """The task's network, new or resumed from this job's checkpoints."""
    hyperparameters = job.hyperparameters
    job.precision = loop.use_precision(keras, hyperparameters["precision"])
    keras.utils.set_random_seed(hyperparameters["seed"])
    epoch_rows = int(distribution.all_reduce(len(data["x_train"]), "max")[0])
    job.batch_size = loop.training_batch_size(hyperparameters["batch_size"], epoch_rows)
    shape = tuple(data["x_train"].shape[1:])
    checkpoints = Checkpoints(job.paths.checkpoints, job.hosts.current_host)
    with distribution.strategy.scope():  # the model's variables are made by the strategy, one per replica
        # Only a job with CheckpointConfig resumes: a checkpoint another run left is not this job's.
        resuming = checkpointing_requested(job.paths)
        model, history = checkpoints.restore(keras.saving.load_model) if resuming else (None, [])
        if model is None:
            model = task.build_model(keras, hyperparameters, shape, data["names"])
        elif tuple(model.input_shape[1:]) != shape:
            raise UserError(
                f"the checkpoint in {job.paths.checkpoints} expects inputs of shape {model.input_shape[1:]} "
                f"but the data gives {shape}: delete the checkpoint folder to start afresh"
            )
    # Built outside the strategy's scope: its variables are compared, never shared with other hosts.
    if history and weight_shapes(model) != weight_shapes(
        task.build_model(keras, hyperparameters, shape, data["names"])
    ):
        raise UserError(
            f"the checkpoint in {job.paths.checkpoints} holds another network than the hyperparameters "
            "build: resume with the ones it was trained with, or delete the checkpoint folder to "
            "start afresh"
        )
    resumed = distribution.all_reduce([len(history), -len(history)], "max")
    if resumed[0] != -resumed[1]:
        raise UserError(
            f"the hosts resumed from different epochs ({int(-resumed[1])} to {int(resumed[0])}; "
            f"{job.hosts.current_host}: {len(history)}): delete the checkpoints in the job's checkpoint "
            "S3 URI to start afresh"
        )
    print(
        f"training: model={model.name} parameters={model.count_params()} precision={job.precision} "
        + (
            "solved in closed form"
            if solved_in_closed_form(hyperparameters)
            else f"batch_size={job.batch_size}{'' if hyperparameters['batch_size'] else ' (auto)'}"
            + (f" x {distribution.replicas} replicas" if distribution.replicas > 1 else "")
            + f" epochs<={hyperparameters['epochs']} patience={hyperparameters['patience']}"
        ),
        flush=True,
    )
    return model, history, checkpoints


def train(
    job: Job,
    data: dict[str, Any],
    keras: Any,
    model: Any,
    history: list[dict[str, float]],
    checkpoints: Checkpoints,
    distribution: Distribution,
) -> int:
    """Epochs until the last, or until patience runs out; returns the epoch whose weights are kept."""
    import tensorflow as tf

    hyperparameters, hosts = job.hyperparameters, job.hosts
    solved = solved_in_closed_form(hyperparameters)
    epochs, patience = 1 if solved else hyperparameters["epochs"], hyperparameters["patience"]
    save_every_epoch = checkpointing_requested(job.paths)
    validation_rows = distribution.all_reduce(len(data["x_val"]))[0]
    watched, goal = task.EARLY_STOPPING
    best = BestEpoch(watch=patience > 0 and validation_rows > 0, metric=watched, goal=goal)
    best.resume(history, model, checkpoints if save_every_epoch else None, keras.saving.load_model)
    scalars = Scalars(job.paths.tensorboard) if hosts.is_chief else None  # every host sees the same numbers

    def after_epoch(row: dict[str, float]) -> bool:
        """Records a finished epoch; True when training should stop early."""
        print(format_epoch_line(row["epoch"], epochs, row, row["time"]), flush=True)
        if scalars:
            scalars.write(int(row["epoch"]), {k: v for k, v in row.items() if k not in ("epoch", "time")})
        if not all(math.isfinite(value) for value in row.values()):
            raise UserError(
                f"training diverged in epoch {row['epoch']} (loss={row.get('loss')}): lower "
                f"learning_rate (now {hyperparameters.get('learning_rate')}) or rescale the data; "
                "no model written"
            )
        history.append(row)
        best.update(history, model)
        if save_every_epoch:
            checkpoints.save(model, history, also_keep=best.epoch)
        return best.patience_spent(history, patience)

    metrics = task.metrics(keras)
    if solved:
        if len(history) > 1:
            raise UserError(
                f"the checkpoint in {job.paths.checkpoints} holds {len(history)} epochs of a model trained "
                "by epochs, and this model is solved in one (task.solved): resume with the "
                "hyperparameters it was trained with, or delete the checkpoint folder to start afresh"
            )
        if not history:  # a resumed job's checkpoint holds the solved weights
            after_epoch(solved_epoch(data, keras, model, hyperparameters, metrics))
        return 1
    # A job resumed after its patience ran out goes straight to saving the kept epoch.
    try:
        interrupted = not best.patience_spent(history, patience) and loop.fit(
            keras,
            model,
            data,
            metrics,
            hyperparameters,
            len(history),
            after_epoch,
            job.stop_requested,
            distribution,
        )
    except tf.errors.OpError as error:
        if hosts.size == 1:
            raise
        raise lost_peer(error, hosts.hosts, f"epoch {len(history) + 1}") from error
    if interrupted:
        # The weights are part-way through an epoch now: each finished epoch was saved as it
        # ended, and these must not overwrite the last good checkpoint. A SIGTERM after the
        # last epoch lets the finished model be written, well inside the 120 s grace.
        kept = f"; the checkpoint of epoch {len(history)} resumes it" if save_every_epoch and history else ""
        raise Stopped(f"stopped by SIGTERM after epoch {len(history)} of {epochs}{kept}; no model written")

    kept_epoch = best.restore_into(model) if best.watch else len(history)
    if kept_epoch < len(history):
        print(
            f"early stopping: kept epoch {kept_epoch} of {len(history)}, {watched} "
            f"{history[kept_epoch - 1][watched]:.4f}; patience {patience}",
            flush=True,
        )
    return kept_epoch


def solved_in_closed_form(hyperparameters: dict[str, Any]) -> bool:
    """Whether task.py solves this model's weights (task.solve) rather than training epochs;
    a task.py of your own may leave task.solved out."""
    solved = getattr(task, "solved", None)
    if not (solved and solved(hyperparameters)):
        return False
    if not callable(getattr(task, "solve", None)):
        raise UserError(
            "task.solved says the model is solved, but task.py has no solve(model, x, wanted, ...)"
        )
    return True


def solved_epoch(
    data: dict[str, Any], keras: Any, model: Any, hyperparameters: dict[str, Any], metrics: dict[str, Any]
) -> dict[str, float]:
    """task.solve on the training rows, logged as the one epoch: its loss and metrics on the
    training and validation rows, as an epoch's."""
    started = time.monotonic()
    print_solved(task.solve(model, data["x_train"], data["y_train"], hyperparameters))
    row = {"epoch": 1, **loop.evaluate(keras, model, data["x_train"], data["y_train"], metrics)}
    if len(data["x_val"]):
        validated = loop.evaluate(keras, model, data["x_val"], data["y_val"], metrics)
        row.update({f"val_{name}": value for name, value in validated.items()})
    return {**row, "time": round(time.monotonic() - started, 3)}


def print_solved(chosen: dict[str, float]) -> None:
    print("solved: " + " ".join(f"{name}={value:.6g}" for name, value in chosen.items()), flush=True)


def publish(
    job: Job, data: dict[str, Any], keras: Any, model: Any, history: list[dict[str, float]], kept_epoch: int
) -> None:
    """The chief tests the kept model, then writes it with what serving needs to use it."""
    if not job.hosts.is_chief:
        print(f"done: the model is written by {job.hosts.chief}", flush=True)
        return
    kept_row = history[kept_epoch - 1]
    metrics = {name: value for name, value in kept_row.items() if name not in ("epoch", "time")}
    if len(data["x_test"]):
        # The test set is only ever looked at here, after every choice has been made.
        tested = loop.evaluate(keras, model, data["x_test"], data["y_test"], task.metrics(keras))
        metrics.update({f"test_{name}": value for name, value in tested.items()})
        print(format_test_line(tested), flush=True)
    hyperparameters = job.hyperparameters
    metadata = {
        "input_shape": data["input_shape"],
        "names": data["names"],
        "features": {
            "transform": data["transform"],
            "channels": data["channels"],
            **({"fitted": data["fitted"]} if data["fitted"] is not None else {}),
            "shape": [int(size) for size in data["x_train"].shape[1:]],
            "mean": data["mean"].tolist(),
            "std": data["std"].tolist(),
        },
        "hyperparameters": hyperparameters,
        "precision": job.precision,
        "batch_size": job.batch_size,
        "epochs_run": len(history),
        "epoch_kept": kept_epoch,
        "metrics": metrics,
        "versions": {"keras": keras.__version__, "python": platform.python_version()},
    }
    if not all(bool(keras.ops.all(keras.ops.isfinite(weight))) for weight in model.weights):
        raise UserError(
            "the trained weights hold NaN or infinite values: lower learning_rate; no model written"
        )
    rows = [{**row, "kept": int(row["epoch"] == kept_epoch)} for row in history]
    write_atomically(job.paths.output_data / HISTORY_FILE, history_csv(rows))
    publish_model(job.paths.model, model, metadata)
    print(f"model saved to {job.paths.model / MODEL_FILE}", flush=True)


def refit(job: Job, data: dict[str, Any], keras: Any, distribution: Distribution, kept_epoch: int) -> Any:
    """refit=1: once early stopping has chosen the epoch count, a fresh network (same seed)
    trained that many epochs on the training and validation rows together, so the rows held
    out for validation train too; a model task.py solves is solved again on them. None when
    refit is off or there are no validation rows.

    Its epochs are logged as refit=N/M, which the metric definitions do not read, and are
    not checkpointed: a job stopped while refitting refits again when it resumes. data's
    training rows become the refit's, its validation rows none.
    """
    hyperparameters = job.hyperparameters
    # .get: a task.py of your own may leave refit out
    if not hyperparameters.get("refit") or not distribution.all_reduce(len(data["x_val"]))[0]:
        return None
    keras.utils.set_random_seed(hyperparameters["seed"])
    with distribution.strategy.scope():
        model = task.build_model(keras, hyperparameters, tuple(data["x_train"].shape[1:]), data["names"])
    rows = {
        "x_train": keras.ops.concatenate([data["x_train"], data["x_val"]]),
        "y_train": keras.ops.concatenate([data["y_train"], data["y_val"]]),
        "x_val": data["x_val"][:0],
        "y_val": data["y_val"][:0],
    }
    # The rows once, not twice: they replace data's own, which publish reads the shape of alone
    # (make bench's peak memory on 131 MB of recordings: 4.0 GB to 3.5 GB with the kernels).
    data.update(rows)
    if solved_in_closed_form(hyperparameters):
        if job.stop_requested:  # the solved epoch is written; a resumed job solves again from it
            raise Stopped(
                "stopped by SIGTERM after solving, before solving again on every row; no model written"
            )
        print(f"refit: solved again on {len(rows['x_train'])} training and validation rows", flush=True)
        print_solved(task.solve(model, rows["x_train"], rows["y_train"], hyperparameters))
        return model
    print(
        f"refit: a new network on {len(rows['x_train'])} training and validation rows, epochs={kept_epoch}",
        flush=True,
    )

    def after_epoch(row: dict[str, float]) -> bool:
        print(
            format_epoch_line(row["epoch"], kept_epoch, row, row["time"]).replace("epoch=", "refit=", 1),
            flush=True,
        )
        if not all(math.isfinite(value) for value in row.values()):
            raise UserError(
                f"refitting diverged in epoch {row['epoch']}: lower learning_rate, or set refit=0"
            )
        return False

    settings = {**hyperparameters, "epochs": kept_epoch}
    metrics = task.metrics(keras)
    if loop.fit(keras, model, rows, metrics, settings, 0, after_epoch, job.stop_requested, distribution):
        raise Stopped(
            f"stopped by SIGTERM while refitting, after the {kept_epoch} epochs chosen; no model written"
        )
    return model


def weight_shapes(model: Any) -> list[tuple[int, ...]]:
    return [tuple(weight.shape) for weight in model.weights]


if __name__ == "__main__":
    sys.exit(main())
