"""Run commands: `train`, `runs`, `stop` (`evaluate`, `predict`, `export`: results.py).

Training flags are generated from `RunConfig` and the model registry, so the CLI, the app's
widgets and `config.json` cannot drift apart.
"""

import argparse
import dataclasses
import json
from pathlib import Path

from segcore.errors import ConfigError, DataError
from segcore.workspace import safe_name, workspace_root

_AUGMENT_FLAGS = ("hflip", "vflip", "rot90")


def _flag(name):
    return "--" + name.replace("_", "-")


def _add_config_flags(parser):
    from segcore.data.augment import AugmentConfig
    from segcore.models import MODELS
    from segcore.training.config import RunConfig, flag_name

    for f in dataclasses.fields(RunConfig):
        if f.name in ("hparams", "augment"):
            continue
        kind = {int: int, float: float}.get(type(f.default), str)
        bounds = f.metadata.get("range")
        if bounds is not None:
            kind = int if bounds.integer else float
        parser.add_argument(
            flag_name(f), dest=f.name, type=kind, default=None, choices=f.metadata.get("choices"),
            help=f"{f.metadata['help']} (default: {f.default}"
                 + (f"; range {bounds})" if bounds is not None else ")"),
        )
    group = parser.add_argument_group("augmentation")
    for f in dataclasses.fields(AugmentConfig):
        if f.name in _AUGMENT_FLAGS:
            group.add_argument(_flag(f.name), dest=f"aug_{f.name}", default=None,
                               action=argparse.BooleanOptionalAction,
                               help=f"{f.metadata['help']} (default: {f.default})")
        elif "range" not in f.metadata:  # a list of class names
            group.add_argument(_flag(f.name), dest=f"aug_{f.name}", default=None,
                               metavar="CLASSES", help=f.metadata["help"])
        else:
            group.add_argument(_flag(f.name), dest=f"aug_{f.name}", type=float, default=None,
                               help=f"{f.metadata['help']} (default: {f.default}; "
                                    f"range {f.metadata['range']})")
    group = parser.add_argument_group("model hyperparameters (see each model's ranges)")
    seen = set()
    for spec in MODELS.values():
        for param in spec.params:
            if param.name in seen:
                continue
            seen.add(param.name)
            used_by = ", ".join(s.name for s in MODELS.values()
                                if any(p.name == param.name for p in s.params))
            choices = sorted({str(c) for s in MODELS.values() for p in s.params
                              if p.name == param.name for c in p.choices}, key=str)
            group.add_argument(_flag(param.name), dest=f"hp_{param.name}", default=None,
                               help=f"{param.help}"
                                    + (f"; one of {', '.join(choices)}" if choices else "")
                                    + (" or a file" if param.paths else "") + f" [{used_by}]")


def config_from_args(args):
    """Builds a RunConfig from parsed flags (unset flags keep the defaults)."""
    from segcore.data.augment import AugmentConfig
    from segcore.models import get_spec
    from segcore.training.config import RunConfig

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)
              if getattr(args, f.name, None) is not None}
    augment = {f.name: getattr(args, f"aug_{f.name}") for f in dataclasses.fields(AugmentConfig)
               if getattr(args, f"aug_{f.name}", None) is not None}
    values["augment"] = AugmentConfig(**augment)
    model = values.get("model", "unet")
    allowed = {p.name for p in get_spec(model).params}
    hparams = {}
    for key, value in vars(args).items():
        if key.startswith("hp_") and value is not None:
            name = key[3:]
            if name not in allowed:
                raise ConfigError(f"{_flag(name)} does not apply to model {model}.")
            hparams[name] = value
    values["hparams"] = hparams
    config = RunConfig(**values).validate()
    _check_encoder_weights(config.hparams)
    if config.classes:
        from segcore.data.classes import ClassMap

        ClassMap.load(config.classes)  # a missing or malformed --classes file, before a run exists
    return config


def _check_paste(config, auto=None):
    """A `--paste` name the dataset's class map lacks is refused before a run exists.

    `auto`: `--auto`'s record, whose fingerprint read the same folder's class map (with the
    run's class file and void value), so its names serve and the dataset is not read again:
    without a classes.json, reading it means scanning every mask.
    """
    if not config.augment.paste:
        return
    from segcore.data.augment import named_classes

    names = ((auto or {}).get("fingerprint") or {}).get("class_names")
    if not names:
        from segcore.data.dataset import load_dataset

        names = load_dataset(config.data, classes=config.classes,
                             ignore_index=config.ignore_index, split=config.split,
                             val_fraction=config.val_fraction, seed=config.seed).class_map.names
    named_classes(config.augment.paste, names)


def _check_encoder_weights(hparams):
    """A missing weights file is refused before a run exists; a given file is kept absolute."""
    if hparams.get("encoder", "none") == "none":
        return
    from segcore.models.encoder_weights import weights_path
    from segcore.models.encoders import IMAGENET

    path = weights_path(hparams["encoder"], hparams["encoder_weights"])
    if path is not None and hparams["encoder_weights"] != IMAGENET:
        hparams["encoder_weights"] = str(path.resolve())


def register(subparsers):
    train = subparsers.add_parser("train", help="train a model; prints the run folder last")
    _add_config_flags(train)
    train.add_argument("--resume", metavar="RUN",
                       help="continue RUN from its last checkpoint with its stored settings")
    train.add_argument("--auto", action="store_true", default=None,
                       help="choose every setting not given from the dataset (sizes, channels, "
                            "class balance, thin classes) and the time budget; prints each "
                            "choice with its reason and keeps them in the run's auto.json")
    train.add_argument("--name", metavar="TEXT",
                       help="a name shown beside the run's id (letters, digits, '.', '_', '-'); "
                            "change it later with rename-run")
    train.set_defaults(handler=train_command, flag_names={
        action.dest: "/".join(action.option_strings) for action in train._actions
        if action.option_strings})

    runs = subparsers.add_parser("runs", help="list runs with status and best mean IoU")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=runs_command)

    stop = subparsers.add_parser("stop", help="ask a run to stop after its current step")
    stop.add_argument("--run", required=True)
    stop.set_defaults(handler=stop_command)


def train_command(args):
    import signal
    import threading

    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())

    from segcore import runlock, runs
    from segcore.commands.auto import auto_settings
    from segcore.training.auto import AUTO_FILE
    from segcore.training.config import RunConfig
    from segcore.training.loop import train
    from segcore.training.strategy import is_chief

    workspace = workspace_root(args.workspace)
    lock = runlock.TrainerLock(runs.runs_dir(workspace)) if is_chief() else None
    if args.resume:
        given = [args.flag_names[dest] for dest, value in vars(args).items()
                 if dest in args.flag_names and value is not None and dest != "resume"]
        if given:
            raise ConfigError(f"train --resume continues a run with its stored settings; "
                              f"{', '.join(given)} would be ignored, so they are refused. "
                              "Start a new run to change settings.")
        path = runs.run_dir(workspace, args.resume)
        config = RunConfig.from_json(runs.read_config(path)["config"])
        if lock is not None:
            # Taken before anything is read or changed: a second resume of the run, or any
            # other training in the workspace, is refused here and touches nothing.
            lock.hold_workspace().hold_run(path)
            state = runs.read_status(path).get("state")
            if state == "finished":
                lock.release()
                raise ConfigError(f"Run {path.name} has finished; nothing to resume.")
            if state != "queued":  # a STOP left by an earlier stop; a queued run keeps a new one
                (path / runs.STOP_FILE).unlink(missing_ok=True)
        resume = True
    else:
        chosen = auto_settings(args) if args.auto else None
        config = config_from_args(args)
        if args.name is not None:
            args.name = safe_name(args.name, "run name")  # refused before a run exists
        if not config.data:
            raise ConfigError("train needs --data DIR (a dataset folder).")
        if not Path(config.data).is_dir():
            raise DataError(f"{config.data}: dataset folder not found.")
        config.data = str(Path(config.data).resolve())
        if config.classes:
            config.classes = str(Path(config.classes).resolve())
        _check_paste(config, chosen)
        path = None
        if lock is not None:
            lock.hold_workspace()  # before the folder exists: two starts at once make one run
            path = runs.create_run(workspace, config, name=args.name, **runlock.identity())
            lock.hold_run(path)
            if chosen is not None:
                from segcore.fileio import write_json_atomic

                write_json_atomic(path / AUTO_FILE, chosen)
        resume = False
    if path is not None and lock is not None:
        _log_to(path)
    from segcore.training import stopping

    stopping.catch_sigterm()
    if stop_requested.is_set():
        stopping.request_stop()
    try:
        train(config, path, resume=resume, lock=lock)
    except BaseException as error:
        if lock is not None:
            import logging

            logging.getLogger("segcore").exception("training failed")
            runs.write_status(path, state="failed", message=str(error) or error.__class__.__name__,
                              ended=runs.now())
        raise
    finally:
        if lock is not None:
            lock.release()
    if lock is not None:
        print(path)
    return 0


def _log_to(path):
    import logging

    handler = logging.FileHandler(path / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("segcore")
    root.setLevel(logging.INFO)
    root.addHandler(handler)


def runs_command(args):
    from segcore import runs

    listed = runs.list_runs(workspace_root(args.workspace))
    if args.json:
        print(json.dumps([{"run": r.run_id, "name": r.name, "state": r.state,
                           "best_mean_iou": r.best_mean_iou, "epoch": r.status.get("epoch"),
                           "model": r.model, "problem": r.problem} for r in listed]))
        return 0
    if not listed:
        print("no runs yet")
    for run in listed:
        best = run.best_mean_iou
        print(f"{run.label:<40} {run.state:<9} {run.model or '?':<11} "
              f"epoch {run.status.get('epoch', 0):>3}  "
              f"best mIoU {'  -   ' if best is None or best < 0 else f'{best:.4f}'}")
        if run.problem:  # the listing goes on with the other runs
            print(f"  damaged: {run.problem}")
    return 0


def stop_command(args):
    from segcore import launch

    state = launch.stop_run(workspace_root(args.workspace), args.run, timeout=0)
    print(state)
    return 0
