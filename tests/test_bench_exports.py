"""bench exports: both SavedModels timed in children that honour each kernel set."""

import pytest

from bench.exports import EXPORTS, run_exports
from bench.kernels import SETTINGS


@pytest.mark.slow
def test_both_exports_are_timed_under_each_kernel_set_and_compared():
    (record,) = run_exports(("reseg",), size=(16, 24), rounds=1, calls=2)
    assert record["model"] == "reseg" and record["size"] == "16x24"
    for setting in SETTINGS:
        for export in EXPORTS:
            (only,) = record["rounds"][f"{setting}_{export}"]
            assert only > 0 and record[f"{setting}_{export}_ms"] == round(only, 1)
    ratio = record["onednn_one_ms"] / record["onednn_two_ms"]
    assert abs(record["onednn_speedup"] - ratio) <= 0.15 * ratio  # of rounded times
