"""Errors a user sees: each carries one sentence that names the file or option and the fix.

Tracebacks belong in logs; the CLI prints `str(error)` and exits 2, the app shows it in
`st.error`.
"""


class SegcoreError(Exception):
    """Base class for problems caused by user input or the environment, not by a bug."""


class DataError(SegcoreError, ValueError):
    """A dataset, image, mask or archive cannot be used as given."""


class ConfigError(SegcoreError, ValueError):
    """An option, hyperparameter or name is invalid."""


class RunError(SegcoreError):
    """A run cannot be started, stopped, resumed or read."""


class WorkspaceError(SegcoreError):
    """The workspace folder is missing, unwritable or full."""


class ClusterError(RunError):
    """A worker of a multi-worker run died or stopped answering; the run cannot go on."""
