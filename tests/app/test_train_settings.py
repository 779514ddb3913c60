"""Train settings: widgets generated from RunConfig, one dict kept in the session and the
workspace, and "Use this run's settings" for a run of another dataset."""

import json
import shutil

import pytest

from page_runner import page, widget
from segcore import launch, runs
from segcore.data.augment import AugmentConfig
from segcore.models import MODELS
from segcore.place import PLACE_FILE, keep_place, read_place
from segcore.training import settings
from segcore.training.config import RunConfig


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]



CUSTOM = RunConfig(
    model="reseg", hparams={"rnn_type": "lstm", "rnn_units": 16}, img_size=(96, 64),
    crop=(32, 32), epochs=7, batch_size=3, lr=1e-4, optimizer="sgd", weight_decay=1e-3,
    momentum=0.5, schedule="plateau", warmup_epochs=0.5, loss="dice", class_weights="median",
    augment=AugmentConfig(hflip=False, rot90=True, scale_min=0.5, brightness=0.1),
    split="contiguous", val_fraction=0.3, seed=11, patience=4, time_budget_min=2.0,
    log_every=3)


@pytest.mark.parametrize("model", list(MODELS))
def test_widget_values_round_trip_to_the_same_run_config(model):
    hparams = CUSTOM.hparams if model == "reseg" else {}
    form = settings.restore(dict(CUSTOM.to_json(), model=model, hparams=hparams))
    assert form is not None
    values = settings.widget_values(form)
    assert set(values) == {s.key for s in settings.settings_for(model)}
    for setting in settings.settings_for(model):  # every value is one its widget can show
        assert settings.fit(setting, values[setting.key]) == values[setting.key], setting.key
    config = settings.config_from_values(values, data="/data/x")
    assert config.data == "/data/x"
    assert settings.saved_form(config) == form


def test_every_widget_field_has_a_setting_with_its_help_and_choices():
    keys = {s.key: s for s in settings.settings_for("unet")}
    assert keys["epochs"].help == "maximum epochs"
    assert keys["loss"].choices == tuple(RunConfig.__dataclass_fields__["loss"].metadata["choices"])
    assert all(f"**{name}**: " in keys["loss"].help for name in keys["loss"].choices)  # tooltip
    assert keys["aug_hflip"].path == ("augment", "hflip")
    assert keys["hp_depth"].widget.low == 2 and keys["hp_depth"].widget.high == 5
    assert {"img_h", "img_w", "crop", "seed", "time_budget_min"} <= set(keys)
    assert "strategy" not in keys and "data" not in keys  # no widget: the page sets data


def test_label_smoothing_shows_for_the_losses_with_a_cross_entropy_only():
    values = settings.widget_values(settings.restore(
        RunConfig(loss="ce", label_smoothing=0.1).to_json()))
    assert settings.shown("label_smoothing", values)
    assert settings.config_from_values(values, data="").validate().label_smoothing == 0.1
    values["loss"] = "dice"  # no cross-entropy: the widget hides and its value stays out
    assert not settings.shown("label_smoothing", values)
    assert settings.config_from_values(values, data="").validate().label_smoothing == 0.0


def test_values_a_widget_cannot_show_are_fitted():
    keys = {s.key: s for s in settings.settings_for("unet")}
    assert settings.fit(keys["epochs"], 500) == 200  # a CLI run beyond the slider
    assert settings.fit(keys["lr"], 0.0025) == 0.003  # the nearest step
    assert settings.fit(keys["loss"], "nope") == "ce"
    assert settings.fit(keys["img_h"], 100, [32, 64, 96]) == 96
    assert settings.fit(keys["crop"], "none", ["none", 32]) == "none"
    assert settings.fit(keys["time_budget_min"], "x") == 0.0
    # Class names the dataset lacks (another dataset's run) are dropped.
    assert settings.fit(keys["aug_paste"], ["kite", "circle"], ["circle", "square"]) == ["circle"]
    assert settings.fit(keys["aug_paste"], "circle", ["circle"]) == []


def test_a_damaged_or_foreign_settings_dict_restores_nothing(tmp_path):
    assert settings.restore({"epochs": "many"}) is None
    assert settings.restore({"augment": {"wings": True}}) is None
    assert settings.restore([1]) is None
    (tmp_path / PLACE_FILE).write_text('{"dataset": 3, "run": "r", "train_settings": []}')
    assert read_place(tmp_path) == {"run": "r"}
    (tmp_path / PLACE_FILE).write_text("{half")
    assert read_place(tmp_path) == {}
    keep_place(tmp_path, dataset="d")
    assert keep_place(tmp_path, run="r2") == {"dataset": "d", "run": "r2"}


def test_settings_survive_a_dropped_widget_state_and_a_new_session(app_env):
    root, _ = app_env
    at = page("train").run()
    no_exceptions(at)
    at.slider(key="epochs").set_value(17).run()
    at.slider(key="hp_depth").set_value(2).run()
    at.select_slider(key="img_w").set_value(64).run()
    at.checkbox(key="aug_vflip").check().run()
    no_exceptions(at)
    kept = read_place(root)["train_settings"]
    assert (kept["epochs"], kept["hparams"]["depth"], kept["img_size"]) == (17, 2, [128, 64])
    assert kept["augment"]["vflip"] is True
    fresh = page("train").run()  # a reload or a new tab: a new session, the workspace's place
    no_exceptions(fresh)
    assert fresh.slider(key="epochs").value == 17 and fresh.slider(key="hp_depth").value == 2
    assert fresh.select_slider(key="img_w").value == 64


def test_paste_offers_the_datasets_classes_and_is_kept(app_env):
    root, _ = app_env
    at = page("train").run()
    no_exceptions(at)
    paste = at.multiselect(key="aug_paste")
    assert list(paste.options) == ["background", "circle", "square", "triangle"]
    assert paste.value == []
    paste.set_value(["triangle", "circle"]).run()
    no_exceptions(at)
    assert read_place(root)["train_settings"]["augment"]["paste"] == ["triangle", "circle"]
    fresh = page("train").run()  # a new session: from the workspace
    assert fresh.multiselect(key="aug_paste").value == ["triangle", "circle"]


@pytest.fixture
def other_dataset(app_env):
    root, run_id = app_env
    other = shutil.copytree(root / "datasets" / "demo", root / "datasets" / "other")
    yield root, run_id
    shutil.rmtree(other)


def test_settings_come_back_after_another_page(app_env):
    """Through the router: another page drawn in between drops the Train widgets' state."""
    from streamlit.testing.v1 import AppTest

    from page_runner import REPO

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/train.py").run()
    no_exceptions(at)
    at.slider(key="epochs").set_value(17).run()
    at.select_slider(key="img_w").set_value(64).run()
    at.switch_page("app_pages/data.py").run()
    assert not [s for s in at.slider if s.key == "epochs"]
    at.switch_page("app_pages/train.py").run()
    no_exceptions(at)
    assert at.slider(key="epochs").value == 17
    assert at.select_slider(key="img_w").value == 64


def test_a_run_of_another_dataset_warns_and_its_settings_apply(other_dataset, monkeypatch):
    root, run_id = other_dataset
    at = page("train")
    at.query_params["dataset"] = "other"
    at.query_params["run"] = run_id
    at.run()
    no_exceptions(at)
    assert any(f"Run {run_id} was trained on dataset **demo**" in w.value
               and "**other**" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not any("No run yet" in i.value for i in at.info)
    assert at.slider(key="epochs").value == 30  # the defaults, not the run's
    at.button(key="use_run_settings").click().run()
    no_exceptions(at)
    run_config = runs.read_config(root / "runs" / run_id)["config"]
    values = settings.widget_values(settings.restore(run_config))
    for key, value in values.items():
        if settings.shown(key, values):  # encoder-only widgets hide without an encoder
            assert widget(at, key).value == value, key
    assert at.query_params["dataset"] in ("demo", ["demo"])
    assert read_place(root)["dataset"] == "demo"
    assert not [w for w in at.warning if "was trained on" in w.value]
    assert any(f"Settings of {run_id} applied, dataset demo." in s.value for s in at.success)
    assert any("Dataset: **demo**" in c.value for c in at.caption)
    # Start trains what is shown: that dataset and those settings.
    started = []
    monkeypatch.setattr(launch, "start_run",
                        lambda root, config, name=None: started.append(config) or run_id)
    at.button(key="start").click().run()
    no_exceptions(at)
    (config,) = started
    assert config.data == str(root / "datasets" / "demo")
    assert settings.saved_form(config) == settings.restore(run_config)


def test_the_sidebar_place_comes_from_the_workspace_in_a_new_session(other_dataset):
    root, run_id = other_dataset
    (root / PLACE_FILE).write_text(json.dumps({"dataset": "other", "run": run_id}))
    at = page("train").run()
    no_exceptions(at)
    assert at.query_params["dataset"] in ("other", ["other"])
    assert at.query_params["run"] in (run_id, [run_id])
    assert any("Dataset: **other**" in c.value for c in at.caption)
