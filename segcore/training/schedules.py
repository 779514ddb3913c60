"""Optimizers, learning-rate schedules as pure functions of the training position
(resume-safe), and a run's epoch plan under a time budget (`EpochPlan`)."""

import math
import statistics


def make_optimizer(config):
    """The run's Keras optimizer at its base rate (`learning_rate` moves the rate per step)."""
    import keras

    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            config.lr, momentum=config.momentum, nesterov=True, weight_decay=config.weight_decay
        )
    return keras.optimizers.Adam(config.lr)


def learning_rate(config, step, steps_per_epoch, plateau_scale=1.0, schedule_epochs=None):
    """Returns the learning rate for a global step.

    Args:
        config: the `RunConfig` (lr, schedule, warmup_epochs, epochs).
        step: global step, counted from 0.
        steps_per_epoch: steps in one epoch.
        plateau_scale: the factor kept by reduce-on-plateau (halved on each stall).
        schedule_epochs: the epochs the cosine decays over; None means `config.epochs`
            (a time budget sets it to the epochs that fit, see `epochs_within_budget`).
    """
    warmup = config.warmup_epochs * steps_per_epoch
    if warmup > 0 and step < warmup:
        return config.lr * (step + 1) / warmup
    if config.schedule == "cosine":
        horizon = schedule_epochs or config.epochs
        total = max(1.0, horizon * steps_per_epoch - warmup)
        progress = min(1.0, (step - warmup) / total)
        floor = 0.01 * config.lr
        return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.schedule == "plateau":
        return config.lr * plateau_scale
    return config.lr


def epochs_within_budget(budget_seconds, elapsed_seconds, epochs_done, epoch_seconds, max_epochs):
    """The epochs a time-budgeted run will end after, so a cosine decay can end with it.

    A run stops at the first epoch end past its budget, so it runs the epochs done plus
    enough of `epoch_seconds` each to pass the remaining time. Re-estimated after every
    epoch; the first epoch (which traces the step functions) should not be the estimate
    once a later one exists.

    Args:
        budget_seconds: the time budget.
        elapsed_seconds: the budget's time used so far.
        epochs_done: epochs finished.
        epoch_seconds: the expected length of one more epoch, validation included.
        max_epochs: `--epochs`, which the estimate never exceeds.

    Example:
        A 240 s budget, 30 s used by 2 epochs of 10 s each from now on: 2 + ceil(210 / 10)
        = 23 epochs.
    """
    remaining = max(0.0, budget_seconds - elapsed_seconds)
    more = math.ceil(remaining / epoch_seconds) if epoch_seconds > 0 else max_epochs
    return int(min(max_epochs, epochs_done + more))


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


class EpochPlan:
    """The epochs a run plans for and its learning rate at each step.

    Without a time budget the plan is `--epochs`. With one, it is the epochs that fit in the
    budget, re-estimated after every epoch: the cosine's horizon and the total that progress
    and ETA show. Everything a resume needs ("schedule_epochs", "plateau", "step", "epoch",
    "train_seconds") lives in the run's state dict, which the plan reads and updates in place
    and the checkpoint keeps.

    Args:
        config: the `RunConfig` (lr, schedule, warmup_epochs, epochs, time_budget_min).
        state: the run's state dict (shared with the trainer).
        steps_per_epoch: training steps in one epoch.
    """

    def __init__(self, config, state, steps_per_epoch):
        self.config, self.state, self.steps_per_epoch = config, state, steps_per_epoch
        self.marks = []  # the budget's clock at each epoch end of this process
        self.first_seconds = None  # the first epoch of this process, validation included

    def epochs(self):
        """The epochs this run expects: those that fit in its time budget, else --epochs."""
        return self.state.get("schedule_epochs", self.config.epochs)

    def rate(self):
        """The learning rate for the state's current step."""
        return learning_rate(self.config, self.state["step"], self.steps_per_epoch,
                             self.state["plateau"]["scale"], self.epochs())

    def epoch_ended(self, mean_iou, seconds, trace_seconds=None):
        """Moves the plan on after an epoch; `state["train_seconds"]` must be current.

        Args:
            mean_iou: the epoch's validation mean IoU (reduce-on-plateau follows it).
            seconds: the epoch's length, validation included.
            trace_seconds: the part of this process's first steps spent tracing and
                compiling (None when unknown).
        """
        plateau = Plateau(**self.state["plateau"])
        plateau.update(mean_iou)
        self.state["plateau"] = plateau.state()
        if self.first_seconds is None:
            self.first_seconds = seconds
        self._fit_to_budget(trace_seconds)

    def _fit_to_budget(self, trace_seconds):
        config = self.config
        if not config.time_budget_min:
            return
        # An epoch costs what lies between two epoch ends (its checkpoint included, or the plan
        # drifts down). The first epoch of a process also traces the step functions: alone,
        # it is taken without its first steps, else the plan jumps (9 epochs, then 30).
        self.marks.append(self.state["train_seconds"])
        cycles = [later - earlier for earlier, later in zip(self.marks, self.marks[1:])]
        typical = (statistics.median(cycles) if cycles
                   else max(self.first_seconds - (trace_seconds or 0.0),
                            0.05 * self.first_seconds))
        plan = epochs_within_budget(
            config.time_budget_min * 60, self.state["train_seconds"], self.state["epoch"],
            typical, config.epochs)
        # A busy machine or one slow validation moves the estimate a little every epoch; the
        # plan (the total shown and the cosine's horizon) follows only a move of a fifth, or
        # a run that reached its planned end with budget left (else it would show "epoch
        # 13/11" and train on at the cosine's floor).
        current = self.state.get("schedule_epochs")
        reached = current is not None and self.state["epoch"] >= current and plan > current
        if current is None or abs(plan - current) > 0.2 * current or reached:
            self.state["schedule_epochs"] = plan

    def over_budget(self, elapsed_seconds):
        """Whether a run with a time budget has used it up."""
        budget = self.config.time_budget_min * 60
        return bool(budget) and elapsed_seconds >= budget
