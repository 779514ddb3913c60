"""Learning-rate schedules as pure functions of the training position (resume-safe)."""

import math


def learning_rate(config, step, steps_per_epoch, plateau_scale=1.0):
    """Returns the learning rate for a global step.

    Args:
        config: the `RunConfig` (lr, schedule, warmup_epochs, epochs).
        step: global step, counted from 0.
        steps_per_epoch: steps in one epoch.
        plateau_scale: the factor kept by reduce-on-plateau (halved on each stall).
    """
    warmup = config.warmup_epochs * steps_per_epoch
    if warmup > 0 and step < warmup:
        return config.lr * (step + 1) / warmup
    if config.schedule == "cosine":
        total = max(1.0, config.epochs * steps_per_epoch - warmup)
        progress = min(1.0, (step - warmup) / total)
        floor = 0.01 * config.lr
        return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.schedule == "plateau":
        return config.lr * plateau_scale
    return config.lr


class Plateau:
    """Reduce-on-plateau state: halves the scale after `patience` epochs without improvement."""

    def __init__(self, patience=2, factor=0.5, min_scale=1e-3, best=-1.0, stall=0, scale=1.0):
        self.patience, self.factor, self.min_scale = patience, factor, min_scale
        self.best, self.stall, self.scale = best, stall, scale

    def update(self, score):
        if score > self.best + 1e-4:
            self.best, self.stall = score, 0
        else:
            self.stall += 1
            if self.stall >= self.patience:
                self.scale = max(self.min_scale, self.scale * self.factor)
                self.stall = 0
        return self.scale

    def state(self):
        return {"best": self.best, "stall": self.stall, "scale": self.scale}
