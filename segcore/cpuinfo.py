"""What Linux's /proc/cpuinfo says about this machine's CPU: its name and instruction flags.

Read by the precision choice (does the CPU compute bfloat16 natively?) and by the speed probe's
cache key (which CPU was timed?). Elsewhere, or when the file cannot be read, fields are None.
"""

import os

CPUINFO = "/proc/cpuinfo"


def cpuinfo_field(name, cpuinfo=CPUINFO):
    """The first processor's value of field `name` ("model name", "flags"), or None."""
    try:
        with open(cpuinfo, errors="replace") as handle:
            for line in handle:
                key, colon, value = line.partition(":")
                if colon and key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_flags(cpuinfo=CPUINFO):
    """The instruction-set flags of the first processor (empty when unknown)."""
    return frozenset((cpuinfo_field("flags", cpuinfo) or "").split())


def onednn_on():
    """Whether this process's TensorFlow runs its oneDNN kernels (segcore turns them on).

    TensorFlow's own answer (asking imports it); without TensorFlow, what
    `TF_ENABLE_ONEDNN_OPTS` says.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").lower() in ("1", "true")
    return bool(_pywrap_util_port.IsMklEnabled())


__all__ = ["CPUINFO", "cpu_flags", "cpuinfo_field", "onednn_on"]
