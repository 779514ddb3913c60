"""Choosing a tf.distribute strategy, and who may write the run folder."""

import contextlib
import json
import os

from segcore.errors import ConfigError


def configure_cpu_replicas():
    """Splits the CPU into N logical devices when SEGCORE_CPU_REPLICAS=N (tests, no GPU).

    Must run before TensorFlow initializes its devices.
    """
    import tensorflow as tf

    replicas = int(os.environ.get("SEGCORE_CPU_REPLICAS", "0") or 0)
    if replicas > 1 and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        # Raises once devices are initialized in this process; then keep what exists.
        with contextlib.suppress(RuntimeError):
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * replicas
            )


def make_strategy(name):
    """Returns the strategy for "auto", "one", "mirrored" or "multiworker"."""
    import tensorflow as tf

    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("--strategy multiworker needs TF_CONFIG set on every host.")
        # A bounded collective timeout turns a dead peer into an error instead of a hang.
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=float(os.environ.get("SEGCORE_COLLECTIVE_TIMEOUT", "120"))
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    configure_cpu_replicas()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(devices) == 1:
            return tf.distribute.get_strategy()
        return tf.distribute.MirroredStrategy(
            devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    if name in ("auto", "one"):
        return tf.distribute.get_strategy()
    raise ConfigError(f"Unknown strategy {name!r}.")


def is_chief():
    """True unless TF_CONFIG names this process a non-chief worker."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    cluster = config.get("cluster") or {}
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
