"""The training loop and what makes it fast, in one place: train.py calls fit and evaluate.

fit trains any compiled Keras model on the loss it was compiled with, and logs the loss
and the task's metrics (task.py) on training and validation rows each epoch.

Why not model.fit: on a 2-core CPU, Keras's feeding of numpy arrays costs as much as the
arithmetic, and Keras 3's fit does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585). Here:
- the rows are held in TensorFlow once, an epoch's order is one shuffle, and each batch is
  one call into a compiled step, which reaches the CPU's matmul roofline;
- the step is traced without autograph and holds no loop, so tracing it is quick: on sets of
  a few hundred rows, tracing and first running the step is most of the first epoch;
- Adam's update is one fused op per weight (fused_adam.py), which shrinks the step's graph;
- the garbage collector leaves alone what lives as long as training (gc.freeze), since
  tracing sets off many full passes over hundreds of thousands of objects;
- on several hosts (distribution.py) each trains on its own rows; the step all-reduces the
  gradients, and with them the batch's sums and whether any host got SIGTERM, so every
  host takes the same steps and stops at the same one.
Measurements: docs/performance.md.
"""

from __future__ import annotations

import gc
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from container import fused_adam
from container.distribution import Distribution
from container.sagemaker_env import UserError

# batch_size=0 picks an eighth of the training rows within these bounds: the largest batch
# fills the CPU; small sets get at least 8 steps per epoch, which lowered the 5-fold CV loss
# on all four real recording sets against full-batch steps (docs/performance.md).
AUTO_BATCH_SIZE = (32, 1024)
AUTO_STEPS_PER_EPOCH = 8
VALIDATION_SLICE = 1024  # rows per validation or evaluation call
# Several hosts exchange a bfloat16 network's gradients in bfloat16, half the bytes, from this
# many weights on: the row counts then need a second, float32 message, whose latency costs a
# small network more than its gradients' bytes (docs/scale-out.md).
BFLOAT16_EXCHANGE_VALUES = 2**18


def training_batch_size(requested: int, rows: int) -> int:
    """requested, or with 0 an eighth of the rows within AUTO_BATCH_SIZE; never more than rows."""
    low, high = AUTO_BATCH_SIZE
    batch = requested or min(high, max(low, -(-rows // AUTO_STEPS_PER_EPOCH)))
    return max(1, min(batch, rows))


def per_row_loss(keras: Any, model: Any) -> Callable[[Any, Any], Any]:
    """The loss the model was compiled with, as a function giving one value per row."""
    loss = model.loss
    if loss is None:
        raise UserError("the model has no loss: compile it with one in task.py's build_model")
    if isinstance(loss, list | tuple | dict):
        raise UserError("the model is compiled with several losses: give build_model's compile one")
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    return loss.call if isinstance(loss, keras.losses.Loss) else loss


def fit(
    keras: Any,
    model: Any,
    data: dict[str, Any],
    metrics: dict[str, Callable[[Any, Any], Any]],
    settings: dict[str, Any],
    initial_epoch: int,
    after_epoch: Callable[[dict[str, float]], bool],
    stop_requested: list[int],
    distribution: Distribution | None = None,
) -> bool:
    """Trains until settings["epochs"], or until after_epoch returns True.

    data holds x_train, y_train, x_val and y_val: inputs and the task's targets. after_epoch
    gets the epoch's row (loss, each metric, val_loss, val_ each metric over all hosts' rows,
    and seconds). Returns True when SIGTERM cut an epoch short (that epoch is not recorded:
    a resumed job runs it again).
    """
    import tensorflow as tf

    distribution = distribution or Distribution(tf.distribute.get_strategy(), 1)
    strategy, local_replicas = distribution.strategy, distribution.local_replicas
    x, y = tf.convert_to_tensor(data["x_train"]), tf.convert_to_tensor(data["y_train"])
    x_val, y_val = tf.convert_to_tensor(data["x_val"]), tf.convert_to_tensor(data["y_val"])
    rows = len(data["x_train"])
    # Hosts with fewer rows go round theirs again, so that every host steps as often.
    epoch_rows = int(distribution.all_reduce(rows, "max")[0])
    val_slices = -(-int(distribution.all_reduce(len(data["x_val"]), "max")[0]) // VALIDATION_SLICE)
    batch = training_batch_size(settings["batch_size"], epoch_rows)
    sums = batch_sums(keras, model, metrics)
    variables = model.trainable_variables
    if not model.optimizer.built:
        # Its variables made now, not while the step traces: that traces once, not twice.
        with strategy.scope():
            model.optimizer.build(variables)

    # Several replicas and the fused step: the step sums the gradients and the batch's
    # sums over the replicas itself, in one exchange (see exchange).
    exchanged_here = distribution.replicas > 1 and fused_adam.supported(keras, model.optimizer, variables)
    # A network computing in bfloat16 has gradients of bfloat16's precision: sent as such
    # when there are enough of them for the bytes saved to outweigh a second message.
    bfloat16 = gradients_in_bfloat16(
        keras.mixed_precision.global_policy().compute_dtype,
        sum(variable.shape.num_elements() for variable in variables),
    )

    def this_replicas_part(index: Any) -> Any:
        """A host's several GPUs split its batch; one device takes all of it."""
        if local_replicas == 1:
            return index
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group % local_replicas
        return index[replica::local_replicas]

    def replica_step(index: Any, stop: Any) -> Any:
        index = this_replicas_part(index)
        features, targets = tf.gather(x, index), tf.gather(y, index)
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            totals = sums(targets, outputs)
            # The mean over every replica's rows, which are as many on each: the gradients
            # are summed over the replicas.
            mean = totals[0] / tf.cast(tf.shape(index)[0] * distribution.replicas, totals.dtype)
            penalties = model.losses  # what a model adds (kernel_regularizer, add_loss)
            if penalties:
                penalty = tf.add_n([tf.reduce_sum(tf.cast(loss, mean.dtype)) for loss in penalties])
                mean += penalty / distribution.replicas  # counted once over the replicas' summed gradients
        gradients = tape.gradient(mean, variables)
        reduced = tf.concat([totals, [stop]], axis=0)
        if exchanged_here:
            gradients, reduced = exchange(gradients, reduced, bfloat16)
            fused_adam.apply(model.optimizer, gradients, variables, summed=True)
        else:
            fused_adam.apply_gradients(keras, model.optimizer, gradients, variables)
        return reduced

    # Any number of rows, so an epoch's shorter last batch does not trace the step again.
    @tf.function(
        autograph=False,
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.float32)],
    )
    def train_step(index: Any, stop: Any) -> Any:
        """(loss x rows, each metric x rows, rows, hosts stopping) over every replica."""
        per_replica = strategy.run(replica_step, args=(index, stop))
        if exchanged_here:  # every replica holds the sums already
            return strategy.experimental_local_results(per_replica)[0]
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def replica_validation(start: Any) -> Any:
        index = this_replicas_part(tf.range(start, tf.minimum(start + VALIDATION_SLICE, tf.shape(x_val)[0])))
        features, targets = tf.gather(x_val, index), tf.gather(y_val, index)
        return sums(targets, model(features, training=False))

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([], tf.int32)])
    def validate_slice(start: Any) -> Any:
        per_replica = strategy.run(replica_validation, args=(start,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    names = ["loss", *metrics]
    frozen_by_caller = gc.get_freeze_count()
    gc.freeze()
    try:
        for epoch in range(initial_epoch, settings["epochs"]):
            started = time.monotonic()
            order = tf.random.shuffle(tf.range(rows))
            if epoch_rows > rows:
                order = tf.tile(order, [-(-epoch_rows // rows)])[:epoch_rows]
            totals = np.zeros(len(names) + 1)
            for first in range(0, epoch_rows, batch):
                reduced = train_step(order[first : first + batch], tf.constant(float(bool(stop_requested))))
                reduced = reduced.numpy()
                if reduced[-1]:
                    return True
                totals += reduced[:-1]
            row: dict[str, float] = {"epoch": epoch + 1, **means(names, totals)}
            if val_slices:
                totals = sum(
                    validate_slice(start).numpy().astype(np.float64)
                    for start in range(0, val_slices * VALIDATION_SLICE, VALIDATION_SLICE)
                )
                row.update({f"val_{name}": value for name, value in means(names, totals).items()})
            if after_epoch({**row, "time": round(time.monotonic() - started, 3)}):
                break
        return False
    finally:
        if not frozen_by_caller:  # a caller's own freeze stays as it was
            gc.unfreeze()


def gradients_in_bfloat16(compute_dtype: str, weights: int) -> bool:
    """Whether several hosts exchange the gradients of a network computing in compute_dtype,
    with this many weights, in bfloat16."""
    return compute_dtype == "bfloat16" and weights >= BFLOAT16_EXCHANGE_VALUES


def exchange(gradients: list[Any], sums: Any, bfloat16: bool) -> tuple[list[Any], Any]:
    """The gradients and the batch's sums, each summed over every replica.

    In float32, one all-reduce of everything, which TensorFlow sends as one message; with
    bfloat16 (large networks only: see BFLOAT16_EXCHANGE_VALUES), the gradients in bfloat16
    (half the bytes) and the sums, whose row counts need float32's integers, in a second,
    small one.
    """
    import tensorflow as tf

    context, total = tf.distribute.get_replica_context(), tf.distribute.ReduceOp.SUM
    present = [index for index, gradient in enumerate(gradients) if gradient is not None]
    values = [gradients[index] for index in present]
    if bfloat16:
        summed = [
            tf.cast(value, tf.float32)
            for value in context.all_reduce(total, [tf.cast(value, tf.bfloat16) for value in values])
        ]
        sums = context.all_reduce(total, sums)
    else:
        *summed, sums = context.all_reduce(total, [*values, sums])
    out: list[Any] = [None] * len(gradients)
    for index, value in zip(present, summed, strict=True):
        out[index] = value
    return out, sums


def batch_sums(
    keras: Any, model: Any, metrics: dict[str, Callable[[Any, Any], Any]]
) -> Callable[[Any, Any], Any]:
    """A function of (targets, outputs) giving [loss summed over rows, each metric summed, rows]."""
    import tensorflow as tf

    loss = per_row_loss(keras, model)

    def sums(targets: Any, outputs: Any) -> Any:
        outputs = tf.cast(outputs, tf.float32)
        targets = tf.cast(targets, outputs.dtype)
        values = [loss(targets, outputs), *(metric(targets, outputs) for metric in metrics.values())]
        return tf.stack(
            [tf.reduce_sum(tf.cast(value, tf.float32)) for value in values]
            + [tf.cast(tf.shape(outputs)[0], tf.float32)]
        )

    return sums


def means(names: list[str], totals: np.ndarray) -> dict[str, float]:
    """Each sum over rows divided by the rows, the last of totals."""
    return {name: float(total / totals[-1]) for name, total in zip(names, totals[:-1], strict=True)}


def evaluate(
    keras: Any, model: Any, x: np.ndarray, y: np.ndarray, metrics: dict[str, Any]
) -> dict[str, float]:
    """The loss and each metric, as means over rows x with targets y, on this host alone.

    Not model.evaluate: under MultiWorkerMirroredStrategy it would wait for the other hosts.
    """
    sums = batch_sums(keras, model, metrics)
    totals = sum(
        np.asarray(
            sums(y[start : start + VALIDATION_SLICE], model(x[start : start + VALIDATION_SLICE]))
        ).astype(np.float64)
        for start in range(0, len(x), VALIDATION_SLICE)
    )
    return means(["loss", *metrics], totals)


def use_precision(keras: Any, choice: str) -> str:
    """Sets Keras's precision policy for the models built next; returns float32 or bfloat16.

    auto takes bfloat16 where the CPU computes it natively and no GPU trains. bfloat16 is
    mixed precision: matrix products in bfloat16, the weights and the outputs in float32.
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


def describe_machine() -> str:
    """What the job ran on, as the original print_info did: worth having in every log."""
    import cpuinfo
    import keras
    import psutil
    import tensorflow as tf

    devices = ",".join(device.name.split("device:")[-1] for device in tf.config.list_physical_devices())
    cpu = cpuinfo.get_cpu_info().get("brand_raw", platform.processor() or "unknown")
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"host: cpu={cpu!r} cores={psutil.cpu_count()} memory={memory:.1f}GiB devices={devices}\n"
        f"software: python={platform.python_version()} tensorflow={tf.__version__} "
        f"keras={keras.__version__} numpy={np.__version__}"
    )
