"""Train page: native-resolution patch settings, drawn from RunConfig's metadata (issue 15)."""

from page_runner import page
from segcore.place import read_place


def test_a_patch_is_chosen_in_advanced_and_its_options_appear_with_it(app_env):
    root, _ = app_env
    at = page("train").run()
    assert not at.exception
    keys = {w.key for w in at.selectbox} | {w.key for w in at.slider}
    assert "patch" in keys and "scale" not in keys and "oversample_rare" not in keys
    assert at.select_slider(key="cache_memory").value == "auto"
    at.selectbox(key="patch").set_value(64).run()
    assert not at.exception
    at.slider(key="scale").set_value(0.5).run()
    at.slider(key="oversample_rare").set_value(0.3).run()
    at.select_slider(key="cache_memory").set_value("2GB").run()
    assert not at.exception
    kept = read_place(root)["train_settings"]
    assert kept["patch"] == [64, 64] and kept["scale"] == 0.5
    assert kept["oversample_rare"] == 0.3 and kept["cache_memory"] == "2GB"
    at.selectbox(key="patch").set_value("none").run()  # back to resizing: the options go
    kept = read_place(root)["train_settings"]
    assert kept["patch"] is None and kept["scale"] == 1.0 and kept["oversample_rare"] == 0.0
    assert "scale" not in {w.key for w in at.slider}
