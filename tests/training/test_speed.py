"""The machine's measured training speed: kept per machine, measured once, never trusted
when damaged."""

import json
import math

from segcore.training.auto.size import machine_rate
from segcore.training.auto.speed import (
    MachineSpeed,
    Probe,
    bare_train_step,
    cpu_name,
    machine_key,
)


class Timer:
    """A measurement function that counts its calls (the probe itself is timed in
    test_auto's CLI test)."""

    def __init__(self, rate):
        self.rate, self.calls = rate, []

    def __call__(self, model, precision):
        self.calls.append((model, precision))
        return self.rate


def test_a_rate_is_measured_once_per_family_and_precision_and_kept(tmp_path):
    path = tmp_path / "cache" / "speed.json"
    timer, told = Timer(1.5e5), []
    speed = MachineSpeed(path, cores=2, measure=timer, on_measure=lambda *a: told.append(a))
    assert speed("unet") == 1.5e5 and speed("unet") == 1.5e5
    assert speed("reseg", "bfloat16") == 1.5e5
    assert timer.calls == told == [("unet", "float32"), ("reseg", "bfloat16")]
    kept = json.loads(path.read_text())
    assert kept == {machine_key(2): {"unet|float32": 1.5e5, "reseg|bfloat16": 1.5e5}}
    again = MachineSpeed(path, cores=2, measure=Timer(9.0))
    assert again("unet") == 1.5e5 and again.measured == {"unet|float32": 1.5e5}
    other_cores = Timer(7.0e4)
    assert MachineSpeed(path, cores=1, measure=other_cores)("unet") == 7.0e4
    assert other_cores.calls == [("unet", "float32")]
    assert set(json.loads(path.read_text())) == {machine_key(2), machine_key(1)}


def test_a_damaged_file_or_a_nonsense_rate_is_measured_again(tmp_path, caplog):
    path = tmp_path / "speed.json"
    path.write_text("{not json")
    timer = Timer(2.0e5)
    assert MachineSpeed(path, cores=2, measure=timer)("unet") == 2.0e5
    assert "unreadable" in caplog.text and str(path) in caplog.text
    assert json.loads(path.read_text())[machine_key(2)]["unet|float32"] == 2.0e5
    path.write_text(json.dumps({machine_key(2): {"unet|float32": -1, "reseg|float32": "x"}}))
    timer = Timer(3.0e5)
    speed = MachineSpeed(path, cores=2, measure=timer)
    assert speed("unet") == 3.0e5 and speed("reseg") == 3.0e5 and len(timer.calls) == 2
    path.write_text(json.dumps([1, 2]))
    assert MachineSpeed(path, cores=2, measure=Timer(4.0e5))("unet") == 4.0e5
    # Python's json reads Infinity, NaN and integers too large for a float; true is an int to
    # Python: none is a speed.
    path.write_text(json.dumps({machine_key(2): {"unet|float32": math.inf,
                                                 "reseg|float32": math.nan,
                                                 "unet|bfloat16": True,
                                                 "reseg|bfloat16": 10**400}}))
    timer = Timer(5.0e5)
    speed = MachineSpeed(path, cores=2, measure=timer)
    assert speed("unet") == speed("reseg") == speed("unet", "bfloat16") == 5.0e5
    assert speed("reseg", "bfloat16") == 5.0e5 and len(timer.calls) == 4
    path.write_text("[" * 100_000 + "]" * 100_000)  # too deep for the parser: still unreadable
    assert MachineSpeed(path, cores=2, measure=Timer(6.0e5))("unet") == 6.0e5


def test_a_read_only_cache_still_gives_the_rate(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    speed = MachineSpeed(blocked / "speed.json", cores=2, measure=Timer(1.0e5))
    assert speed("unet") == 1.0e5
    assert "cannot keep the measured speed" in caplog.text


def test_a_busy_machine_is_not_timed_and_its_cached_rate_still_serves(tmp_path):
    path = tmp_path / "speed.json"
    timer = Timer(1.0e5)
    busy = MachineSpeed(path, cores=2, measure=timer, busy=lambda: "20261204-run")
    assert busy("unet") is None and timer.calls == [] and not path.exists()
    MachineSpeed(path, cores=2, measure=timer)("unet")
    assert busy("unet") == 1.0e5 and len(timer.calls) == 1


def test_a_probe_slowed_by_another_program_serves_its_run_but_is_not_kept(tmp_path, caplog):
    path = tmp_path / "speed.json"
    crowded = Timer(Probe(0.9e5, 0.45))  # the probe's process got 45% of its cores' time
    speed = MachineSpeed(path, cores=2, measure=crowded)
    assert speed("unet") == 0.9e5 and not path.exists()
    assert speed.unkept == {"unet|float32": 0.45} and "45% of its cores' time" in caplog.text
    rate = machine_rate("unet", "float32", 2, 1.0, speed)
    assert "while another program ran: not kept for later runs" in rate.on()
    idle = Timer(Probe(2.0e5, 0.93))
    assert MachineSpeed(path, cores=2, measure=idle)("unet") == 2.0e5  # timed again, kept
    assert json.loads(path.read_text())[machine_key(2)]["unet|float32"] == 2.0e5
    assert "not kept" not in machine_rate("unet", "float32", 2, 1.0,
                                          MachineSpeed(path, cores=2, measure=idle)).on()


def test_a_failed_probe_gives_no_rate_and_keeps_nothing(tmp_path, caplog):
    def broken(model, precision):
        raise RuntimeError("out of memory")

    path = tmp_path / "speed.json"
    assert MachineSpeed(path, cores=2, measure=broken)("unet") is None
    assert "timing unet|float32 failed (out of memory)" in caplog.text and not path.exists()


def test_the_cpu_is_named_from_cpuinfo_or_else_the_platform(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                       "model name\t: AMD EPYC 9R14 96-Core Processor\nflags\t\t: fpu avx2\n\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    assert cpu_name(cpuinfo) == "AMD EPYC 9R14 96-Core Processor"
    assert cpu_name(tmp_path / "missing")  # the platform's own name: never empty in the key


def test_the_bare_step_trains_the_model_it_is_given():
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    images = np.random.default_rng(0).random((4, 8, 8, 3), dtype=np.float32)
    masks = (images[..., 0] > 0.5).astype(np.int32)  # a class the first channel tells
    step = bare_train_step(net, keras.optimizers.Adam(0.05),
                           keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = [float(step(images, masks)) for _ in range(40)]
    assert losses[-1] < 0.5 * losses[0]
