"""Training: the run configuration, the distributed loop, schedules and strategies."""

from segcore.training.config import OPTIMIZERS, SCHEDULES, STRATEGIES, RunConfig

__all__ = ["OPTIMIZERS", "SCHEDULES", "STRATEGIES", "RunConfig"]
