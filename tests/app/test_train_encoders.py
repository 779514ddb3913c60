"""Train page: pretrained encoders and DeepLabV3+ from the registry, with their cost and cache."""

import time

import pytest

from page_runner import page
from segcore import launch, runs


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def test_deeplab_encoder_choices_cache_state_and_size(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    at = page("train").run()
    at.selectbox(key="model").select("deeplabv3plus").run()
    no_exceptions(at)
    encoder = at.selectbox(key="hp_encoder")
    assert encoder.value == "mobilenet_v2" and "resnet50" in encoder.options
    assert "none" not in encoder.options
    assert at.selectbox(key="hp_encoder_weights").options == ["none", "imagenet"]
    at.selectbox(key="hp_encoder_weights").select("imagenet").run()
    missing = next(c.value for c in at.caption if "is missing" in c.value)
    assert str(tmp_path / "keras" / "models") in missing
    at.selectbox(key="hp_encoder").select("mobilenet_v3_small").run()
    at.button(key="model_size").click().run()  # counted without reading any weights file
    no_exceptions(at)
    line = next(m.value for m in at.markdown if "parameters" in m.value)
    assert line.startswith("**deeplabv3plus**: ") and "GFLOPs per" in line


@pytest.mark.slow
def test_start_trains_a_tiny_deeplab(app_env):
    root, _ = app_env
    at = page("train").run()
    at.selectbox(key="model").select("deeplabv3plus").run()
    at.selectbox(key="hp_encoder").select("mobilenet_v3_small")
    at.slider(key="hp_aspp_filters").set_value(16)
    at.select_slider(key="img_h").set_value(32)
    at.select_slider(key="img_w").set_value(32)
    at.slider(key="epochs").set_value(1)
    at.run()
    at.button(key="start").click().run()
    no_exceptions(at)
    active = launch.active_run(root)
    assert active is not None and active.model == "deeplabv3plus"
    deadline = time.monotonic() + 300
    while not any("Run state: **finished**" in m.value for m in at.markdown):
        assert time.monotonic() < deadline, [m.value for m in at.markdown]
        time.sleep(2)
        at.run()
    stored = runs.read_config(runs.runs_dir(root) / active.run_id)["config"]
    assert stored["hparams"]["encoder"] == "mobilenet_v3_small"
