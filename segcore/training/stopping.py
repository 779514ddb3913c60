"""Stop requests: SIGTERM or a STOP file in the run folder end training after the current step."""

import signal
import threading
from pathlib import Path

from segcore.runs import STOP_FILE

_SIGTERM = threading.Event()


def catch_sigterm():
    """Turns SIGTERM into a stop request; the CLI calls this first, before slow imports."""
    signal.signal(signal.SIGTERM, lambda *_: _SIGTERM.set())


def request_stop():
    _SIGTERM.set()


class StopRequest:
    """Set by SIGTERM or a STOP file; training ends cleanly after the current step."""

    def __init__(self, run_dir):
        self.stop_file = Path(run_dir) / STOP_FILE if run_dir else None
        if threading.current_thread() is threading.main_thread():
            catch_sigterm()

    def __bool__(self):
        return _SIGTERM.is_set() or bool(self.stop_file and self.stop_file.exists())
