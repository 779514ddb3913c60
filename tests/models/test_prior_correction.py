"""A share of class weighting's push toward rare classes is taken back at prediction."""

import io
import math

import numpy as np
import pytest

from helpers import assert_reloads_in_a_fresh_process
from segcore import runs
from segcore.class_weights import correction_bias
from segcore.inference import load_run_model
from segcore.models import build_model
from segcore.models.prior_correction import PriorCorrection, with_prior_correction
from segcore.training import loop
from segcore.training.config import RunConfig

TINY = {"depth": 2, "base_filters": 8}


def test_correction_bias_worked_example():
    np.testing.assert_allclose(correction_bias([0.25, 1.0, 4.0], 0.5),
                               [-math.log(2), 0.0, math.log(2)])
    # A class absent from training (weight 0) is left alone; nothing to do without weights.
    assert correction_bias([0.0, 2.0], 1.0) == [0.0, math.log(2.0)]
    assert correction_bias(None, 0.5) is None
    assert correction_bias([1.0, 3.0], 0.0) is None


def test_the_layer_subtracts_its_bias_at_prediction_only():
    layer = PriorCorrection([0.0, 1.0])
    logits = np.array([[[[2.0, 2.5]]]], np.float32)
    np.testing.assert_allclose(np.asarray(layer(logits, training=False)), [[[[2.0, 1.5]]]])
    np.testing.assert_allclose(np.asarray(layer(logits, training=True)), logits)
    assert PriorCorrection.from_config(layer.get_config()).bias == [0.0, 1.0]
    with pytest.raises(ValueError, match="2 biases, but the logits have 3 classes"):
        layer.build((None, None, None, 3))


def test_undoing_a_weighted_optimum_recovers_the_unweighted_decision():
    # Weighted cross-entropy is minimised by q_c proportional to w_c p_c: the trained model's
    # logits are log p + log w. alpha = 1 takes the weights back out entirely.
    p = np.array([0.70, 0.25, 0.05])
    w = np.array([0.2, 1.0, 8.0])
    trained = np.log(p * w)[None, None, None]
    assert np.argmax(trained) == 2  # the rare class wins, though it is the least likely
    layer = PriorCorrection(correction_bias(w, 1.0))
    corrected = np.asarray(layer(trained.astype(np.float32), training=False))
    np.testing.assert_allclose(corrected - corrected.max(), np.log(p / p.max())[None, None, None],
                               atol=1e-6)
    half = np.asarray(PriorCorrection(correction_bias(w, 0.5))(
        trained.astype(np.float32), training=False))
    assert np.argmax(half) == 0  # sqrt(w) p: 0.313, 0.25, 0.141


def test_a_corrected_model_matches_its_base_and_reloads_in_a_fresh_process(tmp_path):
    base = build_model("unet", (None, None, 3), 3, **TINY)
    model = with_prior_correction(base, [0.0, 1.0, -1.0])
    assert model.layers[-1].name == "prior_correction" and model.count_params() == base.count_params()
    x = np.random.default_rng(0).random((1, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(x, training=False)),
                               np.asarray(base(x, training=False)) - [0.0, 1.0, -1.0], atol=1e-5)
    assert with_prior_correction(base, None) is base
    assert_reloads_in_a_fresh_process(model, x, tmp_path)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_a_weighted_run_saves_a_model_that_corrects_by_its_own_weights(workspace, demo_data,
                                                                        alpha):
    config = RunConfig(data=str(demo_data), model="unet", hparams=dict(TINY), img_size=(32, 32),
                       epochs=1, batch_size=4, seed=3, class_weights="median",
                       prior_correction=alpha)
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    weights = runs.read_config(path)["class_weights"]
    model = load_run_model(path)
    names = [layer.name for layer in model.layers]
    if alpha == 0.0:
        assert "prior_correction" not in names
    else:
        np.testing.assert_allclose(model.get_layer("prior_correction").bias,
                                   [alpha * math.log(w) if w > 0 else 0.0 for w in weights],
                                   rtol=1e-6)


def test_an_unweighted_run_has_no_correction(workspace, demo_data):
    config = RunConfig(data=str(demo_data), model="unet", hparams=dict(TINY), img_size=(32, 32),
                       epochs=1, batch_size=4, seed=3, prior_correction=1.0)
    path = runs.create_run(workspace, config)
    assert loop.train(config, path, stream=io.StringIO()) == "finished"
    assert "prior_correction" not in [layer.name for layer in load_run_model(path).layers]


def test_a_config_written_before_the_option_keeps_predicting_uncorrected():
    assert RunConfig().prior_correction == 0.5
    old = {k: v for k, v in RunConfig(data="d").to_json().items() if k != "prior_correction"}
    assert RunConfig.from_json(old).prior_correction == 0.0
    assert RunConfig.from_json(RunConfig(data="d").to_json()).prior_correction == 0.5


def test_the_train_pages_widget_round_trips_and_hides_without_class_weights():
    from segcore.training import settings

    config = RunConfig(hparams=dict(TINY), class_weights="median", prior_correction=0.75)
    values = settings.widget_values(settings.restore(config.validate().to_json()))
    assert values["prior_correction"] == 0.75 and settings.shown("prior_correction", values)
    assert settings.config_from_values(values, data="").prior_correction == 0.75
    values.update(class_weights="none", prior_fit="train")
    assert not settings.shown("prior_correction", values)
    assert not settings.shown("prior_fit", values)
    # Hidden, what they kept does not reach the run: its settings show the defaults.
    unweighted = settings.config_from_values(values, data="")
    assert (unweighted.prior_correction, unweighted.prior_fit) == (0.5, "fixed")
