"""tf.distribute: mirrored over 2 logical CPUs, and two workers on 127.0.0.1."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import REPO
from segcore.models import load_model
from segcore.runs import read_metrics

pytestmark = pytest.mark.slow
TINY = ["--model", "unet", "--depth", "2", "--base-filters", "8", "--batch-norm", "false",
        "--img-size", "32x32", "--batch-size", "4", "--seed", "7"]


def train(data, workspace, *extra, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "segcore", "--workspace", str(workspace), "train", "--data",
         str(data), *TINY, *extra], cwd=REPO, env=dict(os.environ, **(env or {})),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def one_and_mirrored(data, tmp_path, one=(), mirrored=()):
    """Trains 2 epochs on one device and mirrored over 2 logical CPUs, each with its flags;
    returns {strategy: run folder}."""
    runs = {}
    for strategy, replicas, extra in (("one", "1", one), ("mirrored", "2", mirrored)):
        code, out, err = finish(train(data, tmp_path / strategy, "--epochs", "2",
                                      "--strategy", strategy, *extra,
                                      env={"SEGCORE_CPU_REPLICAS": replicas}))
        assert code == 0, err[-2000:]
        runs[strategy] = out.strip().splitlines()[-1]
    return runs


def last_weights(run):
    return load_model(f"{run}/last.keras").get_weights()


def test_mirrored_over_two_cpus_matches_one_device(demo_data, tmp_path):
    # With the prior correction's share fitted: its counts are summed over replicas too.
    fitted = ("--class-weights", "median", "--prior-fit", "train")
    runs = one_and_mirrored(demo_data, tmp_path, fitted, fitted)
    for a, b in zip(last_weights(runs["one"]), last_weights(runs["mirrored"])):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    shares = {strategy: [e.get("prior_correction") for e in read_metrics(run)[0]]
              for strategy, run in runs.items()}
    assert shares["one"] == shares["mirrored"] and None not in shares["one"]


def test_mirrored_with_the_xla_step_matches_one_device_without_it(demo_data, tmp_path):
    # XLA compiles each replica's forward and backward pass; the gradients are still summed
    # across replicas by the optimizer's update, outside the compiled function.
    runs = one_and_mirrored(demo_data, tmp_path, ("--jit", "off"), ("--jit", "xla"))
    for a, b in zip(last_weights(runs["one"]), last_weights(runs["mirrored"])):
        np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-2)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_cluster(data, tmp_path, epochs, *extra):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(train(data, tmp_path / f"ws{index}", "--epochs", str(epochs),
                             "--strategy", "multiworker", *extra,
                             env={"TF_CONFIG": tf_config, "SEGCORE_COLLECTIVE_TIMEOUT": "20"}))
    return workers


def epoch_lines(text):
    return [line.split("(")[0] for line in text.splitlines()
            if line.startswith(("epoch ", "weights fingerprint"))]


@pytest.mark.parametrize("jit", ["off", "xla"])
def test_two_workers_end_with_identical_weights_and_metrics(demo_data, tmp_path, jit):
    # With XLA, each worker's forward and backward pass is compiled; the update that sums
    # the workers' gradients stays outside it.
    chief, worker = start_cluster(demo_data, tmp_path, 2, "--jit", jit)
    chief_code, chief_out, chief_err = finish(chief)
    worker_code, _, worker_err = finish(worker)
    assert chief_code == 0 and worker_code == 0, chief_err[-2000:] + worker_err[-2000:]
    assert epoch_lines(chief_err) == epoch_lines(worker_err)
    assert any(line.startswith("weights fingerprint") for line in epoch_lines(worker_err))
    assert chief_out.strip()  # the chief prints its run folder
    assert not list((tmp_path / "ws1").glob("runs/*"))  # only the chief writes a run


def test_killing_a_worker_fails_the_other_with_a_clear_error(demo_data, tmp_path):
    chief, worker = start_cluster(demo_data, tmp_path, epochs=500)
    deadline = time.monotonic() + 120
    runs_dir = tmp_path / "ws0" / "runs"
    while time.monotonic() < deadline and not list(runs_dir.glob("*/metrics.jsonl")):
        time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    started = time.monotonic()
    code, _, err = finish(chief, timeout=180)
    assert time.monotonic() - started < 120
    assert code == 1
    assert "Traceback" not in err
    assert "stopped answering" in err.strip().splitlines()[-1]
    status = json.loads(next(runs_dir.glob("*/status.json")).read_text())
    assert status["state"] == "failed"
