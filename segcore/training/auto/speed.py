"""How fast this machine trains a family: a short timed probe, kept per machine.

`--auto` sizes images from the pixels a budget buys. A constant rate (`size.PIXEL_RATE`,
measured on one machine) was 3.4x too high on a slower CPU with AVX2 only, where membrane's
whole slices then trained 7 epochs in 4 minutes instead of the ~30 planned. The probe times a
few training steps of the family on random 256x256 images (the size the constants were
measured at) and the result is kept in the workspace's cache, keyed by the CPU, the cores and
the TensorFlow version, so a machine is measured once per family and precision, unless
another program took the cores meanwhile (`BUSY_SHARE`): that rate serves one run only.
"""

import json
import logging
import os
import platform
import time
from typing import NamedTuple

from segcore.cpuinfo import CPUINFO, cpuinfo_field, onednn_on
from segcore.fileio import write_json_atomic
from segcore.numeric_range import is_finite_number

log = logging.getLogger(__name__)

PROBE_SIZE = 256
PROBE_BATCH = 4
# Untimed steps before the timed ones: the first traces the step, and under oneDNN's kernels
# the second is still slow (they pick their implementations on first use).
PROBE_WARMUP = 2
PROBE_STEPS = 5
PROBE_CLASSES = 8
# Bumped when the probe changes, so rates measured another way are measured again (2 was
# taken for a while by the one-untimed-step probe, so the two-step one is 3).
PROBE_VERSION = 3
# A probe whose process got less than this share of its cores' time was slowed by another
# program: its rate serves the run at hand but is not kept, or it would size every later run
# for a slower machine than this one. On 2 cores the probe got 0.92-0.97 of them alone and
# 0.54-0.57 beside one busy loop, which cut its rate by 40% (bench/RESULTS.md).
BUSY_SHARE = 0.7


class Probe(NamedTuple):
    """A timed rate, and the share of its cores' time the probe's process got meanwhile."""

    rate: float
    cpu_share: float


def cpu_name(cpuinfo=CPUINFO):
    """The CPU's model name ('AMD EPYC', ...), or the platform's processor string."""
    return (cpuinfo_field("model name", cpuinfo) or platform.processor()
            or platform.machine())


def machine_key(cores):
    """What a measured rate holds for: the CPU, the cores training may use, TensorFlow and
    whether its oneDNN kernels are on (1.77-1.95x apart on an AVX2 CPU)."""
    import tensorflow as tf

    kernels = "onednn" if onednn_on() else "tf kernels"
    return f"{cpu_name()}|{cores} cores|tf {tf.__version__}|{kernels}|probe {PROBE_VERSION}"


def bare_train_step(model, optimizer=None, loss_fn=None):
    """The least a training loop can do: a `tf.function` of one gradient step, nothing else.

    The probe times it, and so does `bench` (the loop's overhead is measured against it).
    `optimizer` and `loss_fn` default to the probe's: Adam at 1e-3 and cross-entropy on
    logits.
    """
    import keras
    import tensorflow as tf

    if optimizer is None:
        optimizer = keras.optimizers.Adam(1e-3)
    if loss_fn is None:
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = model.trainable_variables

    @tf.function
    def step(images, masks):
        with tf.GradientTape() as tape:
            loss = loss_fn(masks, model(images, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def measure_rate(model, precision="float32", steps=PROBE_STEPS, warmup=PROBE_WARMUP):
    """Training pixels per second of `model` (default hyperparameters) on this machine.

    `warmup` untimed steps, then the median of `steps` timed steps of batch `PROBE_BATCH` at
    `PROBE_SIZE` a side, with cross-entropy and Adam as training uses them.

    Returns:
        A `Probe`: the rate, and the process's CPU time over the timed steps' wall time on
        every core it may use (near 1 on an idle machine, lower when another program ran).
    """
    import numpy as np
    import tensorflow as tf

    from segcore.models import build_model
    from segcore.models.precision import policy

    side = PROBE_SIZE
    with policy(precision):
        net = build_model(model, (side, side, 3), PROBE_CLASSES)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((PROBE_BATCH, side, side, 3), dtype=np.float32))
    masks = tf.constant(rng.integers(0, PROBE_CLASSES, (PROBE_BATCH, side, side)), tf.int32)

    step = bare_train_step(net)
    for _ in range(warmup):
        step(images, masks).numpy()
    times, cpu = [], time.process_time()
    for _ in range(steps):
        started = time.perf_counter()
        step(images, masks).numpy()
        times.append(time.perf_counter() - started)
    share = (time.process_time() - cpu) / (sum(times) * len(os.sched_getaffinity(0)))
    return Probe(PROBE_BATCH * side * side / float(np.median(times)), share)


class MachineSpeed:
    """Measured training rates of this machine, read from and kept in a JSON file.

    Called as `speed(model, precision)` it returns pixels per second, measuring on the first
    call for a family and precision (`measure_rate`) and keeping the figure. A damaged file is
    measured over (and rewritten) rather than trusted; a probe that fails returns None.

    Args:
        path: the JSON file (`<workspace>/cache/speed.json`); None keeps rates in memory only.
        cores: the cores training may use (part of the key).
        measure: fn(model, precision) -> pixels per second, or a `Probe` (`measure_rate`).
        on_measure: fn(model, precision) called before a measurement (to tell the user).
        busy: fn() -> what keeps the machine busy (a run training in the workspace), or
            None. A busy machine is not timed (the figure would stay too low for good):
            the call returns None, and `choose_settings` assumes the constant rates.
    """

    def __init__(self, path=None, cores=None, measure=measure_rate, on_measure=None,
                 busy=None):
        self.path = path
        self.cores = cores or len(os.sched_getaffinity(0))
        self.measure = measure
        self.on_measure = on_measure
        self.busy = busy
        self.measured = {}  # {"model|precision": rate} used by this process
        self.unkept = {}  # {"model|precision": CPU share} of probes slowed by another program

    def _read(self):
        if self.path is None:
            return {}
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as error:  # RecursionError: nested too deep
            log.warning("%s: unreadable (%s); the machine's speed is measured again",
                        self.path, error)
            return {}
        return data if isinstance(data, dict) else {}

    def __call__(self, model, precision="float32"):
        machine = machine_key(self.cores)
        name = f"{model}|{precision}"
        data = self._read()
        rates = data.get(machine) if isinstance(data.get(machine), dict) else {}
        rate = rates.get(name)
        if not (is_finite_number(rate) and rate > 0):
            holder = self.busy() if self.busy is not None else None
            if holder:
                log.info("not timing %s: %s is training", name, holder)
                return None
            if self.on_measure is not None:
                self.on_measure(model, precision)
            try:
                probe = self.measure(model, precision)
            except Exception as error:  # noqa: BLE001  (the constants still give settings)
                log.warning("timing %s failed (%s): the constant rates are assumed", name, error)
                return None
            rate, share = probe if isinstance(probe, tuple) else (probe, None)
            rate = float(rate)
            if share is not None and share < BUSY_SHARE:
                log.warning("timing %s: the probe got %.0f%% of its cores' time (another "
                            "program was running); its %.2g px/s serve this run and are not "
                            "kept", name, 100 * share, rate)
                self.unkept[name] = share
            else:
                self._keep({**data, machine: {**rates, name: rate}})
        self.measured[name] = float(rate)
        return float(rate)

    def _keep(self, data):
        """Writes the rates to the cache file (a read-only workspace still trains)."""
        if self.path is None:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            write_json_atomic(self.path, data)
        except OSError as error:
            log.warning("%s: cannot keep the measured speed (%s)", self.path, error)


__all__ = [
    "BUSY_SHARE", "MachineSpeed", "Probe", "bare_train_step", "cpu_name", "machine_key",
    "measure_rate",
]
