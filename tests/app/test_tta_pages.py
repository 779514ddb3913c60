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
