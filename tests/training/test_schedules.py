"""Learning-rate schedules and the time-budget horizon, as pure functions."""

import pytest

from segcore.training.config import RunConfig
from segcore.training.schedules import Plateau, epochs_within_budget, learning_rate


def _config(**overrides):
    values = dict(lr=1e-2, schedule="cosine", warmup_epochs=1.0, epochs=10)
    values.update(overrides)
    return RunConfig(**values)


def test_warmup_then_cosine_to_one_percent():
    config = _config()
    assert learning_rate(config, 0, 10) == pytest.approx(1e-3)  # step 1 of a 10-step warm-up
    assert learning_rate(config, 9, 10) == pytest.approx(1e-2)
    assert learning_rate(config, 10, 10) == pytest.approx(1e-2)
    halfway = 10 + 45  # 90 steps of decay after warm-up
    assert learning_rate(config, halfway, 10) == pytest.approx(1e-4 + (1e-2 - 1e-4) * 0.5)
    assert learning_rate(config, 100, 10) == pytest.approx(1e-4)
    assert learning_rate(config, 500, 10) == pytest.approx(1e-4)  # stays at the floor


def test_schedule_epochs_replaces_the_epoch_count_as_horizon():
    config = _config(epochs=100000)
    # With a 4-epoch horizon the decay ends at step 40 instead of 1,000,000.
    assert learning_rate(config, 40, 10, schedule_epochs=4) == pytest.approx(1e-4)
    assert learning_rate(config, 40, 10) > 0.99e-2


def test_constant_and_plateau():
    assert learning_rate(_config(schedule="constant"), 50, 10, schedule_epochs=2) == 1e-2
    assert learning_rate(_config(schedule="plateau"), 50, 10, plateau_scale=0.25) == 2.5e-3
    plateau = Plateau(patience=2)
    assert [plateau.update(s) for s in (0.5, 0.4, 0.4, 0.6, 0.6, 0.6)] == [1, 1, 0.5, 0.5, 0.5, 0.25]


@pytest.mark.parametrize(
    ("budget", "elapsed", "done", "epoch_seconds", "max_epochs", "expected"),
    [
        (240, 30, 2, 10, 1000, 23),  # the docstring's example
        (240, 30, 2, 10, 5, 5),  # never beyond --epochs
        (240, 250, 7, 10, 1000, 7),  # past the budget: this epoch is the last
        (240, 235, 7, 10, 1000, 8),  # 5 s left: one more epoch passes the budget
        (240, 0, 1, 0, 40, 40),  # no duration measured yet: --epochs
    ],
)
def test_epochs_within_budget(budget, elapsed, done, epoch_seconds, max_epochs, expected):
    assert epochs_within_budget(budget, elapsed, done, epoch_seconds, max_epochs) == expected
