"""`python -m segcore ...`: one parser; each command lives in `segcore/commands/`.

Exit codes: 0 success, 2 bad input (one clear line on stderr), 1 internal error.
"""

import argparse
import logging
import os
import sys
import traceback

from segcore.errors import ClusterError, SegcoreError

# Modules that define commands. Each has `register(subparsers)` and sets `handler` defaults.
# They import TensorFlow lazily, so `check-data` and `runs` start fast.
COMMAND_MODULES = ("segcore.commands.data", "segcore.commands.run", "segcore.commands.results",
                   "segcore.commands.manage", "segcore.commands.label")


def build_parser():
    """Returns the top-level argument parser with every registered command."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="python -m segcore",
        description="Train and evaluate semantic-segmentation models (U-Net, ReSeg, U-Net+ReNet).",
    )
    workspace_help = "folder for datasets and runs (default: $SEGCORE_HOME or ./workspace)"
    parser.add_argument("--workspace", default=None, help=workspace_help)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.register(subparsers)
    # Global options are taken after the command too (`train ... --workspace DIR`, the order
    # people type). SUPPRESS: a command that is not given one keeps the value given before it.
    for command in subparsers.choices.values():
        command.add_argument("--workspace", default=argparse.SUPPRESS, help=workspace_help)
    return parser


def main(argv=None):
    """Runs one command and returns its exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except SegcoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output left (`runs | head`): nothing more to say, as with SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception:
        logging.getLogger("segcore").debug("internal error", exc_info=True)
        traceback.print_exc()
        print("internal error: please report it with the traceback above.", file=sys.stderr)
        return 1
