"""Trains a Keras MLP that tells two classes of EEG recordings apart, the SageMaker way.

SageMaker runs `docker run IMAGE train`; `train` execs this file. By hand:

    make local                                   # the bundled sample, in Docker or natively
    SAGEMAKER_BASE_DIR=test_dir ./train          # natively, on any /opt/ml-shaped folder

Hyperparameters come from input/config/hyperparameters.json (all values strings, as
SageMaker sends them) and override HYPERPARAMETERS below; an unknown name or a bad value
stops the job with a message saying what is accepted. To bring your own model, replace
build_model() and, if your data differs, transform.features(); sagemaker_env.py holds
the container contract and needs no change.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import platform
import re
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import cluster
import fused_adam
import training_data
import transform
from checkpoint import Checkpoints
from distribution import Distribution, check_same_classes, for_cluster, lost_peer, pooled_standardisation
from early_stopping import BestEpoch
from job_outputs import HISTORY_FILE, MODEL_FILE, history_csv, publish_model, remove_previous_results
from sagemaker_env import (
    Paths,
    UserError,
    checkpointing_requested,
    format_epoch_line,
    format_test_line,
    input_data_config,
    parse_hyperparameters,
    read_json_config,
    report_failure,
    resource_config,
    write_atomically,
)

HYPERPARAMETERS: dict[str, Any] = {
    # data
    "features": "timefreq",  # timefreq: time course and spectrum per channel; fft; raw (transform.py)
    "channels": 1,  # channels each 2-D row concatenates, one after another; 3-D arrays give their own
    "validation_fraction": 0.2,  # share of training rows held out when there is no validation channel
    # model and training
    "model": "mlp",  # mlp: the original Dense 1024-512-256-64, tanh (see build_model)
    "members": 1,  # networks side by side, trained on their averaged prediction (see build_model)
    "epochs": 100,
    "patience": 10,  # stop after this many epochs without a lower validation loss; 0: run every epoch
    "batch_size": 0,  # rows per training step; 0: automatic, see training_batch_size
    "learning_rate": 0.001,  # Adam's step size
    "precision": "auto",  # auto: bfloat16 on CPUs with bfloat16 instructions (AMX, AVX512-BF16), else float32
    "seed": 42,  # fixes the validation split and the initial weights
}
# (low, high) is an inclusive range; a tuple of strings lists the accepted values.
ACCEPTED: dict[str, tuple[Any, ...]] = {
    "features": transform.FEATURES,
    "channels": (1, 10_000),
    "validation_fraction": (0.0, 0.9),
    "model": ("mlp",),
    "members": (1, 16),
    "epochs": (1, 100_000),
    "patience": (0, 100_000),
    "batch_size": (0, 1_000_000),
    "learning_rate": (1e-7, 10.0),
    "precision": ("auto", "float32", "bfloat16"),
    "seed": (0, 2**31 - 1),
}
HIDDEN_UNITS = (1024, 512, 256, 64)  # the original model's Dense layers, tanh activated
# batch_size=0 picks an eighth of the training rows within these bounds: the largest batch
# fills the CPU (README, "Performance"); small sets get at least 8 steps per epoch, which
# lowered the 5-fold CV loss on all four real EEG sets against full-batch steps.
AUTO_BATCH_SIZE = (32, 1024)
AUTO_STEPS_PER_EPOCH = 8
VALIDATION_SLICE = 1024  # rows per validation call

EXIT_STOPPED = 143  # 128 + SIGTERM, as a shell reports a process ended by it


class Stopped(UserError):
    """SageMaker sent SIGTERM (StopTrainingJob, MaxRuntime or a spot interruption)."""


def main() -> int:
    paths = Paths.from_env()
    stop_requested: list[int] = []
    # SageMaker sends SIGTERM, then SIGKILL 120 s later: finish the batch, checkpoint, leave.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))
    try:
        train(paths, stop_requested)
    except Stopped as stopped:
        report_failure(paths, str(stopped))
        return EXIT_STOPPED
    except UserError as error:
        report_failure(paths, str(error))
        return 1
    except Exception as error:
        traceback.print_exc()
        report_failure(paths, f"training failed: {type(error).__name__}: {error}")
        return 1
    return 0


def train(paths: Paths, stop_requested: list[int]) -> None:
    remove_previous_results(paths)
    hyperparameters = parse_hyperparameters(
        read_json_config(paths, "hyperparameters.json", {}), HYPERPARAMETERS, ACCEPTED
    )
    hosts = cluster.Cluster.from_resource_config(resource_config(paths))
    host = hosts.current_host
    # With FullyReplicated input every host holds every file and trains on its share of the
    # rows; with ShardedByS3Key each holds only its own files and trains on all of them.
    training_input = input_data_config(paths).get("training", {})
    sharded = training_input.get("S3DistributionType") == "ShardedByS3Key"
    share = None if hosts.size == 1 or sharded else (hosts.index, hosts.size)
    data = training_data.load_data(paths, hyperparameters, share, read_test=hosts.is_chief)
    print(
        f"data: train={len(data['x_train'])} validation={len(data['x_val'])} "
        f"test={len(data['x_test'])} recording={'x'.join(map(str, data['input_shape']))} "
        f"features={data['x_train'].shape[1]} classes={len(data['class_names'])}"
        + (
            f" host={host} ({hosts.index + 1} of {hosts.size}, {'sharded' if sharded else 'replicated'})"
            if hosts.size > 1
            else ""
        ),
        flush=True,
    )
    for warning in data["warnings"]:
        print(f"warning: {warning}", flush=True)
    if hosts.size > 1:
        cluster.wait_until_resolvable(hosts.addresses)

    # Imported here, not at the top, so submit.py can read HYPERPARAMETERS without TensorFlow.
    with native_log_filtered():
        import keras

        distribution = for_cluster(hosts)  # before anything else runs in TensorFlow
    strategy = distribution.strategy
    if hosts.size > 1:
        check_same_classes(distribution, data["class_names"], host)
        if sharded:
            training_data.restandardise(
                data, *pooled_standardisation(distribution, len(data["x_train"]), data["mean"], data["std"])
            )

    print_info(paths)
    precision = use_precision(keras, hyperparameters["precision"])
    keras.utils.set_random_seed(hyperparameters["seed"])
    epoch_rows = int(distribution.all_reduce(len(data["x_train"]), "max")[0])
    batch_size = training_batch_size(hyperparameters["batch_size"], epoch_rows)
    members = f" members={hyperparameters['members']}" if hyperparameters["members"] > 1 else ""
    print(
        f"training: model={hyperparameters['model']}{members} precision={precision} "
        f"batch_size={batch_size}{'' if hyperparameters['batch_size'] else ' (auto)'}"
        + (f" x {distribution.replicas} replicas" if distribution.replicas > 1 else "")
        + f" epochs<={hyperparameters['epochs']} "
        f"patience={hyperparameters['patience']}",
        flush=True,
    )
    checkpoints = Checkpoints(paths.checkpoints, host)
    save_every_epoch = checkpointing_requested(paths)
    with strategy.scope():  # the model's variables are made by the strategy, one per replica
        # Only a job with CheckpointConfig resumes: a checkpoint another run left is not this job's.
        model, history = checkpoints.restore(keras.saving.load_model) if save_every_epoch else (None, [])
        if model is None:
            model = new_model(keras, hyperparameters, data["x_train"].shape[1], len(data["class_names"]))
        elif model.input_shape[-1] != data["x_train"].shape[1]:
            raise UserError(
                f"the checkpoint in {paths.checkpoints} expects {model.input_shape[-1]} features but the "
                f"data gives {data['x_train'].shape[1]}: delete the checkpoint folder to start afresh"
            )
    # Built outside the strategy's scope: its variables are compared, never shared with other hosts.
    if history and weight_shapes(model) != weight_shapes(
        build_model(
            keras,
            hyperparameters["model"],
            data["x_train"].shape[1],
            len(data["class_names"]),
            hyperparameters["members"],
        )
    ):
        raise UserError(
            f"the checkpoint in {paths.checkpoints} holds another network than the hyperparameters "
            "build (model, members): resume with the ones it was trained with, or delete the "
            "checkpoint folder to start afresh"
        )
    resumed = distribution.all_reduce([len(history), -len(history)], "max")
    if resumed[0] != -resumed[1]:
        raise UserError(
            f"the hosts resumed from different epochs ({int(-resumed[1])} to {int(resumed[0])}; {host}: "
            f"{len(history)}): delete the checkpoints in the job's checkpoint S3 URI to start afresh"
        )

    epochs, patience = hyperparameters["epochs"], hyperparameters["patience"]
    # Early stopping keeps the epoch with the lowest validation loss, not the last one.
    validation_rows = distribution.all_reduce(len(data["x_val"]))[0]
    best = BestEpoch(watch=patience > 0 and validation_rows > 0)
    best.resume(history, model, checkpoints if save_every_epoch else None, keras.saving.load_model)

    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    # Scalars for TensorBoard, one point per epoch; SageMaker uploads them while the job runs.
    # tf.summary.scalar needs the tensorboard package, which the image leaves out: its
    # plugin tag is written here instead, which is all TensorBoard's scalar charts read.
    summaries = tf.summary.create_file_writer(str(paths.tensorboard))
    scalar = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    ).SerializeToString()

    def after_epoch(row: dict[str, float]) -> bool:
        """Records a finished epoch; True when training should stop early."""
        print(format_epoch_line(row["epoch"], epochs, row, row["time"]), flush=True)
        if hosts.is_chief:  # every host sees the same numbers: one set of curves
            with summaries.as_default(step=int(row["epoch"])):
                for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
                    if name in row:
                        tf.summary.write(name, tf.constant(row[name], tf.float32), metadata=scalar)
            summaries.flush()
        if not all(math.isfinite(value) for value in row.values()):
            raise UserError(
                f"training diverged in epoch {row['epoch']} (loss={row.get('loss')}): lower "
                f"learning_rate (now {hyperparameters['learning_rate']}) or rescale the data; "
                "no model written"
            )
        history.append(row)
        best.update(history, model)
        if save_every_epoch:
            checkpoints.save(model, history, also_keep=best.epoch)
        return best.patience_spent(history, patience)

    # A job resumed after its patience ran out goes straight to saving the kept epoch.
    try:
        interrupted = not best.patience_spent(history, patience) and fit(
            keras, model, data, hyperparameters, len(history), after_epoch, stop_requested, distribution
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
            f"early stopping: kept epoch {kept_epoch} of {len(history)}, val_loss "
            f"{history[kept_epoch - 1]['val_loss']:.4f}; patience {patience}",
            flush=True,
        )
    kept_row = history[kept_epoch - 1]
    metrics = {name: value for name, value in kept_row.items() if name not in ("epoch", "time")}
    if not hosts.is_chief:
        print(f"done: the model is written by {hosts.chief}", flush=True)
        return
    if len(data["x_test"]):
        # The test set is only ever looked at here, after every choice has been made.
        test_loss, test_accuracy = evaluate(
            keras, model, data["x_test"], data["y_test"], len(data["class_names"])
        )
        metrics.update(test_loss=test_loss, test_accuracy=test_accuracy)
        print(format_test_line(test_loss, test_accuracy), flush=True)

    metadata = {
        "input_shape": data["input_shape"],
        "class_names": data["class_names"],
        "features": {
            "transform": hyperparameters["features"],
            "channels": data["channels"],
            "width": int(data["x_train"].shape[1]),
            "mean": data["mean"].tolist(),
            "std": data["std"].tolist(),
        },
        "hyperparameters": hyperparameters,
        "precision": precision,
        "batch_size": batch_size,
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
    write_atomically(paths.output_data / HISTORY_FILE, history_csv(rows))
    publish_model(paths.model, model, metadata)
    print(f"model saved to {paths.model / MODEL_FILE}", flush=True)


def new_model(keras: Any, hyperparameters: dict[str, Any], input_width: int, n_classes: int) -> Any:
    """The network the hyperparameters name, compiled for training."""
    model = build_model(keras, hyperparameters["model"], input_width, n_classes, hyperparameters["members"])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hyperparameters["learning_rate"]),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def use_precision(keras: Any, choice: str) -> str:
    """Sets Keras's precision policy for the models built next; returns float32 or bfloat16.

    auto takes bfloat16 where the CPU computes it natively and no GPU trains. bfloat16 is
    mixed precision: matrix products in bfloat16, the weights and the softmax in float32.
    """
    if choice == "auto":
        import tensorflow as tf

        native = cpu_has_bfloat16() and not tf.config.list_physical_devices("GPU")
        choice = "bfloat16" if native else "float32"
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if choice == "bfloat16" else "float32")
    return choice


def cpu_has_bfloat16() -> bool:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next(
        (line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []
    )
    return bool({"amx_bf16", "avx512_bf16"} & set(flags))


def build_model(keras: Any, name: str, input_width: int, n_classes: int, members: int = 1) -> Any:
    """The network named by the model hyperparameter, ending in class probabilities.

    mlp: the original network, Dense 1024-512-256-64 with tanh and a softmax.
    members > 1 puts that many networks of that shape side by side, each with weights of
    its own, and averages their softmaxes: one model, trained on the averaged prediction. In
    5-fold CV on the training splits of five real EEG sets, 3 members lowered the validation
    loss on all five against 1 (README, "Performance"). Each layer computes every member
    in one op, so the step's graph, and with it the first epoch's tracing, hardly grows.
    Keras's default initialiser scales each layer's weights to all members together, which
    starts every member smaller than the network alone; scaling them to one member's layer
    did worse in the same CV (higher loss on four sets of five).
    """
    if name != "mlp":
        raise UserError(f"unknown model '{name}': use one of {', '.join(ACCEPTED['model'])}")
    layers = [keras.Input(shape=(input_width,))]
    if members == 1:
        layers += [keras.layers.Dense(units, activation="tanh") for units in HIDDEN_UNITS]
        layers += [keras.layers.Dense(n_classes, activation="softmax", dtype="float32")]
        return keras.Sequential(layers, name="eeg_mlp")
    first, *rest = HIDDEN_UNITS
    layers += [
        keras.layers.Dense(members * first, activation="tanh"),
        keras.layers.Reshape((members, first)),  # (rows, members, units): each member's own units
    ]
    # Member k's units multiply member k's weights only: rows x members x in -> rows x members x out.
    layers += [
        keras.layers.EinsumDense("bki,kio->bko", (members, units), bias_axes="ko", activation="tanh")
        for units in rest
    ]
    layers += [
        keras.layers.EinsumDense("bki,kio->bko", (members, n_classes), bias_axes="ko", dtype="float32"),
        keras.layers.Softmax(dtype="float32"),
        keras.layers.GlobalAveragePooling1D(dtype="float32"),  # the members' mean
    ]
    return keras.Sequential(layers, name=f"eeg_mlp_x{members}")


def weight_shapes(model: Any) -> list[tuple[int, ...]]:
    return [tuple(weight.shape) for weight in model.weights]


def training_batch_size(requested: int, rows: int) -> int:
    """requested, or with 0 an eighth of the rows within AUTO_BATCH_SIZE; never more than rows."""
    low, high = AUTO_BATCH_SIZE
    batch = requested or min(high, max(low, -(-rows // AUTO_STEPS_PER_EPOCH)))
    return max(1, min(batch, rows))


def fit(
    keras: Any,
    model: Any,
    data: dict[str, Any],
    hyperparameters: dict[str, Any],
    initial_epoch: int,
    after_epoch: Callable[[dict[str, float]], bool],
    stop_requested: list[int],
    distribution: Distribution | None = None,
) -> bool:
    """The training loop, in one place, on one host or several (distribution.py).

    Not model.fit: on a 2-core CPU, Keras's feeding of numpy arrays costs as much as the
    arithmetic, and Keras 3's fit does not run under MultiWorkerMirroredStrategy
    (keras-team/keras#20585). Here the rows are held in TensorFlow once, an epoch's order
    is one shuffle, and each batch is one call into a compiled step, which reaches the
    CPU's matmul roofline (README, "Performance"). The step is traced without autograph,
    holds no loop, and takes Adam's update in one fused op per weight (fused_adam.py): on
    sets of a few hundred rows, where training takes seconds, tracing and first running
    the step is most of the first epoch.

    On several hosts each trains on its own rows with batch_size rows a step; the step
    all-reduces the gradients, and with them the batch's loss and whether any host got
    SIGTERM, so every host takes the same number of steps and stops at the same one.
    after_epoch gets the epoch's row (loss, accuracy, val_loss, val_accuracy over all hosts'
    rows, and seconds) and returns True to stop. Returns True when SIGTERM cut an epoch
    short (that epoch is not recorded: a resumed job runs it again).
    """
    import tensorflow as tf

    distribution = distribution or Distribution(tf.distribute.get_strategy(), 1)
    strategy, local_replicas = distribution.strategy, distribution.local_replicas
    n_classes = len(data["class_names"])
    x = tf.convert_to_tensor(data["x_train"])
    y = tf.one_hot(data["y_train"], n_classes)
    x_val = tf.convert_to_tensor(data["x_val"])
    y_val = tf.one_hot(data["y_val"], n_classes)
    rows = len(data["x_train"])
    # Hosts with fewer rows go round theirs again, so that every host steps as often.
    epoch_rows = int(distribution.all_reduce(rows, "max")[0])
    val_slices = -(-int(distribution.all_reduce(len(data["x_val"]), "max")[0]) // VALIDATION_SLICE)
    batch = training_batch_size(hyperparameters["batch_size"], epoch_rows)
    # Summed, not averaged: Keras would divide a mean by the replicas behind our back.
    loss_function = keras.losses.CategoricalCrossentropy(reduction="sum")
    variables = model.trainable_variables
    if not model.optimizer.built:
        # Its variables made now, not while the step traces: that traces once, not twice.
        with strategy.scope():
            model.optimizer.build(variables)

    def sums(labels: Any, probabilities: Any, loss_sum: Any) -> Any:
        """(loss summed over rows, correct predictions, rows) of one batch."""
        hits = tf.equal(tf.argmax(labels, axis=1), tf.argmax(probabilities, axis=1))
        size = tf.cast(tf.shape(labels)[0], tf.float32)
        return tf.stack([loss_sum, tf.reduce_sum(tf.cast(hits, tf.float32)), size])

    def this_replicas_part(index: Any) -> Any:
        """A host's several GPUs split its batch; one device takes all of it."""
        if local_replicas == 1:
            return index
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group % local_replicas
        return index[replica::local_replicas]

    def replica_step(index: Any, stop: Any) -> Any:
        index = this_replicas_part(index)
        features, labels = tf.gather(x, index), tf.gather(y, index)
        with tf.GradientTape() as tape:
            probabilities = model(features, training=True)
            loss_sum = loss_function(labels, probabilities)
            # The mean over every replica's rows, which are as many on each: the gradients
            # are summed over the replicas.
            mean = loss_sum / tf.cast(tf.shape(index)[0] * distribution.replicas, loss_sum.dtype)
            penalties = model.losses  # what a model of your own adds (kernel_regularizer, add_loss)
            if penalties:
                penalty = tf.add_n([tf.reduce_sum(tf.cast(loss, mean.dtype)) for loss in penalties])
                mean += penalty / distribution.replicas  # counted once over the replicas' summed gradients
        fused_adam.apply_gradients(keras, model.optimizer, tape.gradient(mean, variables), variables)
        return tf.concat([sums(labels, probabilities, loss_sum), [stop]], axis=0)

    # Any number of rows, so an epoch's shorter last batch does not trace the step again.
    @tf.function(
        autograph=False,
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.float32)],
    )
    def train_step(index: Any, stop: Any) -> Any:
        """(loss x rows, correct, rows, hosts stopping) over every replica."""
        per_replica = strategy.run(replica_step, args=(index, stop))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def replica_validation(start: Any) -> Any:
        index = this_replicas_part(tf.range(start, tf.minimum(start + VALIDATION_SLICE, tf.shape(x_val)[0])))
        features, labels = tf.gather(x_val, index), tf.gather(y_val, index)
        probabilities = model(features, training=False)
        return sums(labels, probabilities, loss_function(labels, probabilities))

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([], tf.int32)])
    def validate_slice(start: Any) -> Any:
        per_replica = strategy.run(replica_validation, args=(start,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    # What exists now (TensorFlow's modules, the data, the model) lives as long as training:
    # frozen out of the garbage collector's full passes, which tracing the step would
    # otherwise set off over and over, each pass walking hundreds of thousands of objects.
    frozen_by_caller = gc.get_freeze_count()
    gc.freeze()
    try:
        for epoch in range(initial_epoch, hyperparameters["epochs"]):
            started = time.monotonic()
            order = tf.random.shuffle(tf.range(rows))
            if epoch_rows > rows:
                order = tf.tile(order, [-(-epoch_rows // rows)])[:epoch_rows]
            totals = np.zeros(3)
            for first in range(0, epoch_rows, batch):
                reduced = train_step(order[first : first + batch], tf.constant(float(bool(stop_requested))))
                reduced = reduced.numpy()
                if reduced[3]:
                    return True
                totals += reduced[:3]
            loss_sum, correct, seen = totals
            row = {"epoch": epoch + 1, "loss": float(loss_sum / seen), "accuracy": float(correct / seen)}
            if val_slices:
                loss_sum, correct, seen = sum(
                    validate_slice(start).numpy().astype(np.float64)
                    for start in range(0, val_slices * VALIDATION_SLICE, VALIDATION_SLICE)
                )
                row.update(val_loss=float(loss_sum / seen), val_accuracy=float(correct / seen))
            if after_epoch({**row, "time": round(time.monotonic() - started, 3)}):
                break
        return False
    finally:
        if not frozen_by_caller:  # a caller's own freeze stays as it was
            gc.unfreeze()


def evaluate(keras: Any, model: Any, x: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[float, float]:
    """(mean loss, accuracy) of the model on rows x with class ids y, on this host alone.

    Not model.evaluate: under MultiWorkerMirroredStrategy it would wait for the other hosts.
    """
    loss_function = keras.losses.CategoricalCrossentropy(reduction="sum")
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), VALIDATION_SLICE):
        labels = keras.utils.to_categorical(y[start : start + VALIDATION_SLICE], n_classes)
        probabilities = model(x[start : start + VALIDATION_SLICE], training=False)
        loss_sum += float(loss_function(labels, probabilities))
        correct += int(np.sum(np.argmax(labels, axis=1) == np.argmax(np.asarray(probabilities), axis=1)))
    return loss_sum / len(x), correct / len(x)


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
    level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0)
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


def print_info(paths: Paths) -> None:
    """What the job ran on, as the original print_info did: worth having in every log."""
    import cpuinfo
    import keras
    import psutil
    import tensorflow as tf

    devices = ",".join(device.name.split("device:")[-1] for device in tf.config.list_physical_devices())
    cpu = cpuinfo.get_cpu_info().get("brand_raw", platform.processor() or "unknown")
    memory = psutil.virtual_memory().total / 2**30
    print(
        f"host: cpu={cpu!r} cores={psutil.cpu_count()} memory={memory:.1f}GiB devices={devices}\n"
        f"software: python={platform.python_version()} tensorflow={tf.__version__} "
        f"keras={keras.__version__} numpy={np.__version__}\n"
        f"job: name={os.environ.get('TRAINING_JOB_NAME', 'local')} base_dir={paths.base}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
