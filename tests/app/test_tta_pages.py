"""Results and Predict: the TTA checkboxes score and predict with flip or multi-scale TTA."""

import io
import json

import numpy as np
from PIL import Image

from page_runner import page
from segcore.inference import RunPredictor


def no_exceptions(at):
    assert not at.exception, [e.value for e in at.exception]


def test_results_scores_with_flip_and_multiscale_tta_apart(app_env):
    from streamlit.testing.v1 import AppTest

    from page_runner import REPO

    root, run_id = app_env
    # Through the router: the worst-image table links to the Label page, which only a page
    # registered with st.navigation may do.
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("app_pages/results.py").run()
    no_exceptions(at)
    for box, mode, said in (("results_tta", "flip", "with flip TTA"),
                            ("results_tta_scales", "scales", "with multi-scale and flip TTA")):
        at.checkbox(key=box).check().run()
        no_exceptions(at)
        cache = root / "runs" / run_id / f"eval_val_best_{'tta' if mode == 'flip' else 'tta_scales'}.json"
        assert cache.is_file() and json.loads(cache.read_text())["tta"] == mode
        shown = [m.value for m in at.markdown if "val mean IoU" in m.value]
        assert shown and said in shown[0]
        assert f"**{json.loads(cache.read_text())['mean_iou']:.3f}**" in shown[0]


def test_predict_with_flip_tta_gives_the_tta_labels(app_env):
    root, run_id = app_env
    pixels = np.random.default_rng(3).integers(0, 255, (32, 40, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    at = page("predict")
    at.query_params["run"] = run_id
    at.run()
    at.checkbox(key="predict_tta").check().run()
    at.file_uploader(key="predict_images").set_value(
        [("x.png", buffer.getvalue(), "image/png")]).run()
    no_exceptions(at)
    (labels,) = at.session_state["predictions"].values()
    expected = RunPredictor(root / "runs" / run_id, tta=True).predict(pixels)
    np.testing.assert_array_equal(labels, expected)
    assert not np.array_equal(
        expected, RunPredictor(root / "runs" / run_id).predict(pixels)), "TTA changed nothing"


def test_a_run_opens_with_its_own_tta_and_the_users_change_holds(app_env, tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from page_runner import REPO

    root, run_id = app_env
    copy = tmp_path / "workspace"  # the run alone: others' runs may be mid-test or broken
    shutil.copytree(root / "runs" / run_id, copy / "runs" / run_id)
    config = copy / "runs" / run_id / "config.json"
    info = json.loads(config.read_text())
    info["config"]["predict_tta"] = "scales"  # as `--auto` chooses for whole colour images
    config.write_text(json.dumps(info))
    monkeypatch.setenv("SEGCORE_HOME", str(copy))

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("app_pages/results.py").run()
    no_exceptions(at)
    assert at.checkbox(key="results_tta_scales").value
    shown = [m.value for m in at.markdown if "val mean IoU" in m.value]
    assert shown and "with multi-scale and flip TTA" in shown[0]
    at.checkbox(key="results_tta_scales").uncheck().run()
    at.checkbox(key="results_tta").uncheck().run()
    no_exceptions(at)
    shown = [m.value for m in at.markdown if "val mean IoU" in m.value]
    assert not at.checkbox(key="results_tta_scales").value and "TTA" not in shown[0]

    predict = page("predict")
    predict.query_params["run"] = run_id
    predict.run()
    no_exceptions(predict)
    assert predict.checkbox(key="predict_tta_scales").value


def test_the_users_tta_holds_across_pages_and_reloads_and_not_for_other_runs(
        app_env, tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from page_runner import REPO

    root, run_id = app_env
    other = run_id[:-4] + "0ther"
    copy = tmp_path / "workspace"  # the runs alone: others' runs may be mid-test or broken
    for name, mode in ((run_id, "scales"), (other, "flip")):
        shutil.copytree(root / "runs" / run_id, copy / "runs" / name)
        config = copy / "runs" / name / "config.json"
        info = json.loads(config.read_text())
        info["config"]["predict_tta"] = mode
        config.write_text(json.dumps(info))
    monkeypatch.setenv("SEGCORE_HOME", str(copy))

    def boxes(at, key):
        return at.checkbox(key=f"{key}_tta").value, at.checkbox(key=f"{key}_tta_scales").value

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("app_pages/results.py").run()
    no_exceptions(at)
    assert boxes(at, "results") == (True, True)
    at.checkbox(key="results_tta_scales").uncheck().run()
    no_exceptions(at)
    assert boxes(at, "results") == (True, False) and at.query_params["tta"] == "flip"

    # Another page of the same session: the page's widgets are new, the choice is not.
    del at.query_params["tta"]  # a browser's page switch drops the page's own parameters
    at.switch_page("app_pages/predict.py").run()
    no_exceptions(at)
    assert boxes(at, "predict") == (True, False)
    at.checkbox(key="predict_tta").uncheck().run()
    assert at.query_params["tta"] == "off"
    at.switch_page("app_pages/results.py").run()
    no_exceptions(at)
    assert boxes(at, "results") == (False, False)
    shown = [m.value for m in at.markdown if "val mean IoU" in m.value]
    assert shown and "TTA" not in shown[0]

    # A reload: a new session with the tab's URL.
    reloaded = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    reloaded.query_params.update(at.query_params)
    reloaded.run()
    reloaded.switch_page("app_pages/results.py").run()
    no_exceptions(reloaded)
    assert boxes(reloaded, "results") == (False, False)

    # Another run opens at its own default, whatever the user chose for the first one.
    at.multiselect(key="results_runs").set_value([other]).run()
    no_exceptions(at)
    assert boxes(at, "results") == (True, False)
    assert at.query_params["tta"] == "flip"
