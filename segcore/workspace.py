"""The workspace: one folder that holds every dataset and run; nothing is written outside it."""

import os
import re
from pathlib import Path

from segcore.errors import ConfigError, WorkspaceError

DEFAULT_WORKSPACE = "workspace"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def workspace_root(override=None):
    """Returns the workspace folder, creating it if needed.

    Args:
        override: a path given by `--workspace`; else `$SEGCORE_HOME`; else `./workspace`.

    Returns:
        The absolute `Path` of the workspace.
    """
    root = override or os.environ.get("SEGCORE_HOME") or DEFAULT_WORKSPACE
    root = Path(root).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WorkspaceError(f"Cannot create the workspace {root}: {error.strerror}.") from None
    if not os.access(root, os.W_OK):
        raise WorkspaceError(f"The workspace {root} is not writable; pick another with --workspace.")
    return root


def datasets_dir(root):
    """Returns `<workspace>/datasets`, created if needed."""
    path = Path(root) / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir(root):
    """Returns `<workspace>/runs`, created if needed."""
    path = Path(root) / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_name(name, what="name"):
    """Checks a name a user typed (dataset, run) so it cannot leave its folder.

    Args:
        name: the typed name.
        what: what the name is for, used in the error message.

    Returns:
        The name, stripped of surrounding spaces.

    Raises:
        ConfigError: the name is empty, too long, or holds characters other than letters,
            digits, `.`, `_` and `-` (so no `/`, `..` or hidden names).
    """
    name = (name or "").strip()
    if not _SAFE_NAME.match(name) or name in (".", ".."):
        raise ConfigError(
            f"The {what} {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def child_path(parent, name, what="name"):
    """Returns `parent / name` after `safe_name`, guaranteed to stay inside `parent`."""
    parent = Path(parent).resolve()
    path = (parent / safe_name(name, what)).resolve()
    if path.parent != parent:
        raise ConfigError(f"The {what} {name!r} would leave {parent}.")
    return path
