"""Learning-rate schedules, the time-budget horizon, and a run's epoch plan."""

import pytest

from segcore.training.config import RunConfig
from segcore.training.schedules import EpochPlan, Plateau, epochs_within_budget, learning_rate


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


def _plan(**overrides):
    state = {"epoch": 0, "step": 0, "train_seconds": 0.0, "plateau": Plateau().state()}
    return EpochPlan(_config(**overrides), state, steps_per_epoch=10), state


def test_the_epoch_plan_without_a_budget_is_the_epoch_count_and_follows_the_plateau():
    plan, state = _plan(schedule="plateau", epochs=7)
    for epoch, score in enumerate((0.5, 0.4, 0.4), start=1):
        state.update(epoch=epoch, step=10 * epoch, train_seconds=5.0 * epoch)
        plan.epoch_ended(score, 5.0)
    assert plan.epochs() == 7 and "schedule_epochs" not in state
    assert state["plateau"]["scale"] == 0.5 and plan.rate() == pytest.approx(5e-3)
    assert not plan.over_budget(1e9)


def test_the_epoch_plan_ends_the_cosine_with_the_budget_and_is_kept_in_the_state():
    plan, state = _plan(epochs=100000, time_budget_min=1.0)
    state.update(epoch=1, step=10, train_seconds=10.0)
    plan.epoch_ended(0.3, 10.0, trace_seconds=4.0)  # 6 s an epoch: 1 + ceil(50 / 6) = 10
    assert plan.epochs() == 10 == state["schedule_epochs"]
    state["step"] = 100  # the tenth epoch's end: the cosine's floor
    assert plan.rate() == pytest.approx(1e-4)
    resumed = EpochPlan(plan.config, dict(state), steps_per_epoch=10)
    assert resumed.epochs() == 10 and resumed.rate() == pytest.approx(1e-4)
    assert plan.over_budget(60.0) and not plan.over_budget(59.9)
