"""Keras's Adam, stepped with TensorFlow's fused Adam kernel: one op per weight.

Keras's Adam.update_step builds dozens of graph ops for each weight (casts, powers, reads,
three assignments), which on a small network is most of the training step's graph: most
of the time it takes to trace and first run it, which is most of a small job's first epoch.
TensorFlow's ResourceApplyAdam computes the same update in one kernel:

    m += (g - m)(1 - beta_1);  v += (g² - v)(1 - beta_2)
    w -= lr √(1 - beta_2^t) / (1 - beta_1^t) · m / (√v + epsilon)

The same numbers to float32 rounding: the kernel forms 1 - beta in float32 where Keras
uses Python's float64, 1.3e-5 apart (relative) at beta_2 = 0.999.

apply() runs it on the optimizer's own moment variables and step count, so the model, its
checkpoints and the saved file stay plain Keras (an Adam any Keras loads, state and all).
apply_gradients() is what training calls: only a plain keras.optimizers.Adam qualifies
(supported()); any other optimizer, an Adam with amsgrad, weight decay, clipping, EMA or
loss scaling, or weights with constraints take Keras's own apply_gradients.
"""

from __future__ import annotations

from typing import Any

# Adam options that change the update: any of them set, and Keras's own step runs instead.
CHANGES_THE_STEP = (
    "amsgrad",
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "gradient_accumulation_steps",
    "loss_scale_factor",
)


def supported(keras: Any, optimizer: Any, variables: list[Any]) -> bool:
    """True when apply() takes the step optimizer.apply_gradients would, to float32 rounding.

    The optimizer must be built; a learning-rate schedule is fine (read at each step).
    """
    return (
        type(optimizer) is keras.optimizers.Adam
        and all(variable.dtype == "float32" for variable in variables)
        # Keras projects constrained weights after its step; the fused kernel would not.
        and all(getattr(variable, "constraint", None) is None for variable in variables)
        and not any(getattr(optimizer, option, None) for option in CHANGES_THE_STEP)
        and all(isinstance(getattr(optimizer, name, None), (int, float)) for name in ("beta_1", "beta_2"))
        # Keras's own attributes for the moments: checked, since they are not public API.
        and all(hasattr(optimizer, name) for name in ("_momentums", "_velocities", "_get_variable_index"))
    )


def apply_gradients(keras: Any, optimizer: Any, gradients: list[Any], variables: list[Any]) -> None:
    """optimizer.apply_gradients, taken by apply() wherever supported() says it is the same.

    Called while the training step traces, so the choice is made once, not at every step.
    """
    if supported(keras, optimizer, variables):
        apply(optimizer, gradients, variables)
    else:
        optimizer.apply_gradients(zip(gradients, variables, strict=True))


def apply(optimizer: Any, gradients: list[Any], variables: list[Any], summed: bool = False) -> None:
    """One Adam step, as apply_gradients takes it, inside a replica's training step.

    As Keras does, a weight without a gradient is left alone, the gradients are first
    summed over the replicas (several GPUs or hosts; summed=True: the caller has summed
    them), and the step count goes up by one once all weights are updated. In a replica,
    a weight's handle is that replica's own copy, which each replica updates with the
    same summed gradients, as Keras's step does.
    """
    import tensorflow as tf

    variables = [
        variable for gradient, variable in zip(gradients, variables, strict=True) if gradient is not None
    ]
    gradients = [gradient for gradient in gradients if gradient is not None]
    context = tf.distribute.get_replica_context()
    if not summed and context is not None and context.num_replicas_in_sync > 1:
        gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    step = tf.cast(optimizer.iterations + 1, tf.float32)
    beta_1, beta_2 = tf.constant(optimizer.beta_1, tf.float32), tf.constant(optimizer.beta_2, tf.float32)
    hyper = {
        "beta1_power": tf.pow(beta_1, step),
        "beta2_power": tf.pow(beta_2, step),
        "lr": tf.cast(optimizer.learning_rate, tf.float32),
        "beta1": beta_1,
        "beta2": beta_2,
        "epsilon": tf.constant(optimizer.epsilon, tf.float32),
    }
    for gradient, variable in zip(gradients, variables, strict=True):
        index = optimizer._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=optimizer._momentums[index].handle,
            v=optimizer._velocities[index].handle,
            grad=tf.cast(gradient, tf.float32),
            **hyper,
        )
    optimizer.iterations.assign_add(1)
