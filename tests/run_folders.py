"""Tiny trained run folders for tests that damage, move or link run folders."""

import io
from unittest import mock

from segcore import runs
from segcore.training import loop
from segcore.training.config import RunConfig


def tiny_config(data, epochs=2):
    return RunConfig(data=str(data), model="unet", hparams={"depth": 2, "base_filters": 8},
                     img_size=(32, 32), epochs=epochs, batch_size=4, seed=3, log_every=2)


def train_tiny_run(workspace, data, stop_at_check=None, epochs=2):
    """Trains a U-Net of depth 2 on 32x32 images; returns the run folder.

    Args:
        stop_at_check: stop when the loop asks for the n-th time whether to stop (6: during
            epoch 2, after epoch 1's checkpoint), leaving a stopped run to resume.
    """
    config = tiny_config(data, epochs)
    path = runs.create_run(workspace, config)
    if stop_at_check is None:
        loop.train(config, path, stream=io.StringIO())
        return path
    calls = {"n": 0}

    def stop(self):
        calls["n"] += 1
        return calls["n"] == stop_at_check

    with mock.patch.object(loop.StopRequest, "__bool__", stop):
        assert loop.train(config, path, stream=io.StringIO()) == "stopped"
    return path
