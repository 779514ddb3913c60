"""Train page: "Suggest settings" fills the widgets from the dataset (the user's changes
kept), encoder-only widgets appear only with an encoder, and "1 epoch" in the singular."""

from helpers import write_lines_dataset
from page_runner import page, widget, widget_keys
from segcore import comparison
from segcore.place import keep_place
from segcore.training import auto, settings
from segcore.training.auto import speed as speed_module
from segcore.training.auto.speed import MachineSpeed
from segcore.training.settings import ENCODER_ONLY


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]



def test_suggest_fills_the_widgets_and_keeps_what_the_user_changed(app_env, monkeypatch):
    root, _ = app_env
    # The page's timing is kept even if another program slows it (that rule is test_speed's).
    monkeypatch.setattr(speed_module, "BUSY_SHARE", 0.0)
    at = page("train").run()
    no_exceptions(at)
    widget(at, "lr").set_value(1e-4).run()
    at.button(key="suggest").click().run()
    no_exceptions(at)
    fp = auto.fingerprint_folder(root / "datasets" / "demo")
    # The page timed this machine once and kept it in the workspace: read back, not measured.
    speed = MachineSpeed(root / "cache" / "speed.json", measure=None)
    choices = {c.path: c for c in auto.choose_settings(fp, 0, given={"lr": 1e-4}, speed=speed)}
    assert at.session_state["train_suggestion"]["speed"][f"{choices['model'].value}|"
                                                        f"{choices['precision'].value}"] > 0
    assert widget(at, "lr").value == 1e-4  # the user's own value stays
    assert widget(at, "model").value == choices["model"].value
    assert widget(at, "class_weights").value == choices["class_weights"].value
    assert widget(at, "precision").value == choices["precision"].value  # this CPU's
    assert widget(at, "jit").value == "off" and widget(at, "jit").options == ["off", "xla"]
    assert widget(at, "label_smoothing").value == choices["label_smoothing"].value == 0.1
    assert widget(at, "aug_brightness").value == choices["augment.brightness"].value
    assert widget(at, "time_budget_min").value == 15.0
    assert (widget(at, "img_h").value, widget(at, "img_w").value) == choices["img_size"].value
    text = " ".join(m.value for m in at.markdown)
    assert "`lr` = **0.0001**: given" in text
    assert f"`class_weights` = **{choices['class_weights'].value}**: " in text
    assert choices["img_size"].reason in text
    assert settings.restore(at.session_state["train_settings"])["lr"] == 1e-4
    widget(at, "epochs").set_value(3).run()  # anything can be changed before Start
    no_exceptions(at)
    assert at.session_state["train_settings"]["epochs"] == 3


def test_suggest_on_gray_images_switches_the_family_and_its_widgets(app_env, monkeypatch):
    root, _ = app_env
    monkeypatch.setattr(speed_module, "BUSY_SHARE", 0.0)
    write_lines_dataset(root / "datasets" / "slices", count=12, size=(32, 32))
    at = page("train")
    at.query_params["dataset"] = "slices"
    at.run()
    no_exceptions(at)
    assert widget(at, "model").value == "unet" and "hp_rnn_units" not in widget_keys(at)
    at.button(key="suggest").click().run()
    no_exceptions(at)
    # Gray images the budget trains whole: U-Net+ReNet, with its recurrent widgets drawn.
    assert widget(at, "model").value == "unet-renet"
    assert {"hp_rnn_units", "hp_rnn_type"} <= widget_keys(at)
    assert widget(at, "aug_rot90").value is True
    text = " ".join(m.value for m in at.markdown)
    assert "`model` = **unet-renet**: gray or multi-band images" in text
    assert settings.restore(at.session_state["train_settings"])["model"] == "unet-renet"


def test_a_dataset_that_cannot_be_read_is_said_and_nothing_changes(app_env, monkeypatch):
    from segcore.errors import DataError

    def broken(*args, **kwargs):
        raise DataError("demo/masks/3.png: mask is 30x32 but its image 3.png is 32x32.")

    monkeypatch.setattr(auto, "fingerprint_folder", broken)
    at = page("train").run()
    before = dict(at.session_state["train_settings"])
    at.button(key="suggest").click().run()
    no_exceptions(at)
    assert [e.value for e in at.error] == [
        "Cannot suggest settings: demo/masks/3.png: mask is 30x32 but its image 3.png is 32x32."]
    assert at.session_state["train_settings"] == before


def test_encoder_only_widgets_show_with_an_encoder_only(app_env):
    at = page("train").run()
    no_exceptions(at)
    assert widget(at, "hp_encoder").value == "none"
    assert not set(ENCODER_ONLY) & widget_keys(at)
    widget(at, "hp_encoder").set_value("mobilenet_v3_small").run()
    no_exceptions(at)
    assert set(ENCODER_ONLY) <= widget_keys(at)


def test_one_epoch_is_singular():
    summary = settings.run_summary({"model": "unet", "img_size": [32, 32], "epochs": 1,
                                    "batch_size": 2, "lr": 0.01, "optimizer": "adam",
                                    "schedule": "cosine", "loss": "ce"})
    assert "· 1 epoch ·" in summary
    assert settings.plural(2, "epoch") == "2 epochs"
    running = {"state": "running", "epoch": 0, "epochs": 1}
    assert "0 of 1 epoch done" in comparison.score_source(running, "last")


def test_suggested_settings_open_in_a_reload_or_a_second_tab(app_env, monkeypatch):
    root, _ = app_env
    monkeypatch.setattr(speed_module, "BUSY_SHARE", 0.0)
    at = page("train").run()
    widget(at, "time_budget_min").set_value(1.0).run()
    at.button(key="suggest").click().run()
    no_exceptions(at)
    shown = {key: widget(at, key).value for key in
             ("epochs", "lr", "batch_size", "label_smoothing", "img_h", "time_budget_min")}
    assert shown["epochs"] != settings.default_form()["epochs"]  # the suggestion moved it
    # A reload is a new session: it opens with what the first one shows, not the defaults.
    fresh = page("train").run()
    no_exceptions(fresh)
    assert {key: widget(fresh, key).value for key in shown} == shown


def test_the_users_changes_outlive_a_reload_for_the_next_suggestion(app_env, monkeypatch):
    monkeypatch.setattr(speed_module, "BUSY_SHARE", 0.0)
    at = page("train").run()
    widget(at, "time_budget_min").set_value(1.0).run()
    widget(at, "lr").set_value(1e-4).run()
    # A reload is a new session: the widgets it opens with, and which of them are the user's.
    fresh = page("train").run()
    fresh.button(key="suggest").click().run()
    no_exceptions(fresh)
    assert widget(fresh, "time_budget_min").value == 1.0 and widget(fresh, "lr").value == 1e-4
    text = " ".join(m.value for m in fresh.markdown)
    assert "`time_budget_min` = **1**: given" in text and "`lr` = **0.0001**: given" in text


def test_what_suggest_does_not_choose_goes_back_to_its_default(app_env, monkeypatch):
    root, _ = app_env
    monkeypatch.setattr(speed_module, "BUSY_SHARE", 0.0)
    write_lines_dataset(root / "datasets" / "slices", count=12, size=(32, 32))
    at = page("train").run()
    at.button(key="suggest").click().run()  # the demo's colour images: photometric jitter
    no_exceptions(at)
    assert widget(at, "aug_brightness").value > 0
    # Another run's settings left in the widgets: none of them is the user's own.
    kept = dict(at.session_state["train_settings"], weight_decay=0.001, momentum=0.5)
    keep_place(root, train_settings=kept, train_touched=[])
    at = page("train")
    at.query_params["dataset"] = "slices"
    at.run()
    assert widget(at, "weight_decay").value == 0.001 and widget(at, "momentum").value == 0.5
    at.button(key="suggest").click().run()
    no_exceptions(at)
    defaults = settings.default_form()
    # Gray images: no jitter, whatever the colour dataset's suggestion had set.
    assert widget(at, "aug_brightness").value == widget(at, "aug_contrast").value == 0.0
    assert widget(at, "weight_decay").value == defaults["weight_decay"]
    assert widget(at, "momentum").value == defaults["momentum"]


def test_a_changed_hyperparameter_of_another_family_is_kept(app_env, monkeypatch):
    root, _ = app_env
    monkeypatch.setattr(speed_module, "BUSY_SHARE", 0.0)
    form = settings.restore(dict(settings.default_form(), model="reseg", hparams={}))
    form["hparams"]["rnn_units"] = 48
    # The user changed the recurrent units of the family in the widgets, not the family.
    keep_place(root, train_settings=form, train_touched=["hp_rnn_units"])
    at = page("train").run()
    at.button(key="suggest").click().run()
    no_exceptions(at)
    assert widget(at, "hp_rnn_units").value == 48
    text = " ".join(m.value for m in at.markdown)
    assert "--rnn-units given: a hyperparameter of" in text
