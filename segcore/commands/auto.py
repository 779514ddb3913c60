"""`train --auto`: the flags the user typed, the machine's measured speed, and every other
flag chosen from the dataset's fingerprint (`segcore.training.auto`) and printed with its
reason. The Train page's "Suggest settings" shares the speed cache's busy check and the
record's file name."""

import dataclasses
import os
import sys
from pathlib import Path

from segcore.errors import ConfigError
from segcore.workspace import workspace_root


def given_settings(args):
    """{setting path: value} of the training flags the user typed (unset flags are None).

    Paths as in `segcore.training.auto.Choice`: "img_size", "hparams.depth", "augment.vflip".
    """
    from segcore.data.augment import AugmentConfig, class_names
    from segcore.training.config import RunConfig, parse_size

    given = {}
    for f in dataclasses.fields(RunConfig):
        value = getattr(args, f.name, None)
        if value is not None and f.name not in ("hparams", "augment"):
            given[f.name] = parse_size(value) if f.name in ("img_size", "crop") else value
    for f in dataclasses.fields(AugmentConfig):
        value = getattr(args, f"aug_{f.name}", None)
        if value is not None:
            given[f"augment.{f.name}"] = tuple(class_names(value)) if isinstance(
                value, str) else value
    for key, value in vars(args).items():
        if key.startswith("hp_") and value is not None:
            given[f"hparams.{key[3:]}"] = value
    return given


def auto_settings(args, stream=None):
    """`--auto`: every training flag the user did not type is chosen from the dataset's
    fingerprint, the time budget and the cores, and printed with its reason (one line each).

    Returns:
        The `auto.json` record (fingerprint and choices); `args` holds the chosen flags.
    """
    from segcore.training import auto
    from segcore.training.config import RunConfig

    stream = stream or sys.stdout
    if not args.data:
        raise ConfigError("train --auto needs --data DIR (a dataset folder).")
    given = given_settings(args)
    defaults = RunConfig()
    fp = auto.fingerprint_folder(
        args.data, classes=args.classes, ignore_index=args.ignore_index,
        split=given.get("split", defaults.split),
        val_fraction=given.get("val_fraction", defaults.val_fraction),
        seed=given.get("seed", defaults.seed))
    cores = len(os.sched_getaffinity(0))
    speed = machine_speed(workspace_root(args.workspace), cores, stream)
    choices = auto.choose_settings(fp, given.get("time_budget_min", 0.0), cores, given,
                                   speed=speed)
    stream.write(f"--auto: {fp.train_images} training images, median "
                 f"{fp.median_size[0]}x{fp.median_size[1]}, {fp.channels} channel(s), "
                 f"{fp.num_classes} classes, {cores} cores\n")
    for choice in choices:
        stream.write(f"  {choice.line()}\n")
        if choice.given:
            continue
        head, _, tail = choice.path.partition(".")
        dest = {"hparams": f"hp_{tail}", "augment": f"aug_{tail}"}.get(head, head)
        value = choice.value
        if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            value = ",".join(value)  # class names, as `--paste` takes them
        elif isinstance(value, tuple):
            value = auto.format_value(value)
        setattr(args, dest, value)
    stream.flush()
    return auto.record(fp, choices, cores, speed)


def machine_speed(workspace, cores, stream):
    """This machine's measured training speed, kept in `<workspace>/cache/speed.json`; None
    (the constant rates) on a cluster, whose workers must all choose the same settings."""
    from segcore.training.auto.speed import MachineSpeed

    if os.environ.get("TF_CONFIG"):
        stream.write("--auto: a cluster's workers must choose alike: the training speed is "
                     "assumed, not measured\n")
        return None

    def telling(model, precision):
        stream.write(f"--auto: timing a few {model} training steps ({precision}) on this "
                     "machine, once: its speed sizes the images to the budget\n")
        stream.flush()

    return MachineSpeed(Path(workspace) / "cache" / "speed.json", cores, on_measure=telling,
                        busy=training_in(workspace))


def training_in(workspace):
    """fn() -> the run training in `workspace` or None: a busy machine is not timed."""
    from segcore import runlock, runs

    return lambda: runlock.workspace_holder(runs.runs_dir(workspace))
