"""bench quality: the last weights and, with held-out scenes, the dataset's own val scored too."""

import json
import subprocess
import sys
import tempfile

import numpy as np

from bench.__main__ import main
from tests.helpers import write_png
from tests.test_bench_scenes import _camvid_like

TINY = "--depth 2 --base-filters 8 --epochs 1 --batch-size 2"


def test_held_out_scenes_report_last_weights_and_the_datasets_own_val(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # bench's temporary folders
    data = _camvid_like(tmp_path / "data", ["0001TP_1", "0001TP_2", "0006R0_1", "0006R0_2",
                                            "0016E5_1", "0016E5_2"])
    write_png(data / "val" / "masks" / "0016E5_9.png",  # every class, so its IoU is defined
              np.repeat(np.arange(3, dtype=np.uint8), 3)[:8][None].repeat(8, axis=0))
    assert main(["quality", "--data", str(data), "--holdout-scenes", "0006R0", "--model",
                 "unet", "--img-size", "16x16", "--minutes", "1", "--seeds", "0",
                 "--extra", TINY, "--json"]) in (None, 0)
    result = json.loads(capsys.readouterr().out)
    run = result["runs"][0]
    assert result["holdout"]["val"] == 2
    for key in ("mean_iou", "mean_iou_last", "mean_iou_data_val"):
        assert 0.0 <= run[key] <= 1.0
        assert result[f"{key}_mean"] == run[key]
    # The extra score is the kept weights on --data's own val/, not the held-out frames.
    own_val = subprocess.run(
        [sys.executable, "-m", "segcore", "--workspace", str(tmp_path), "evaluate", "--run",
         run["run"], "--data", str(data), "--split", "val", "--json"],
        capture_output=True, text=True, check=True)
    assert json.loads(own_val.stdout)["mean_iou"] == run["mean_iou_data_val"]
