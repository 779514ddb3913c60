"""Tiling: seconds and peak RSS of tiled prediction on 2048x2048 and 8192x8192 images.

Each size runs in a fresh process, so its peak RSS (VmHWM) is its own. The model is a
U-Net at its default width trained on nothing: speed and memory do not depend on its weights.
"""


from bench.common import last_json, run_python

_CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
import cv2, numpy as np
from segcore.inference import predict_image_file
from segcore.models import build_model

size, tile = int(sys.argv[1]), int(sys.argv[2])
folder = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
cv2.imwrite(str(folder / "big.png"), image)
del image
model = build_model("unet", (None, None, 3), 2)
start = time.perf_counter()
labels = predict_image_file(model, folder / "big.png", tile=(tile, tile))
seconds = time.perf_counter() - start
assert labels.shape == (size, size)
# VmHWM is this address space's own peak; ru_maxrss would start from the parent's RSS at
# fork (Linux keeps it across exec), so a bench process that trained first inflates it.
status = Path("/proc/self/status")
if status.exists():
    hwm = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
    peak_mib = int(hwm[0].split()[1]) / 1024
else:
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"size": size, "seconds": round(seconds, 1), "peak_rss_mib": round(peak_mib)}))
"""


def run_tiling(sizes=(2048, 8192), tile=512):
    """Returns one record per size, plus the 8192/2048 peak-RSS ratio on the last."""
    records = []
    for size in sizes:
        records.append(last_json(run_python(f"tiling {size}", ["-c", _CHILD, size, tile]).stdout))
    if len(records) == 2:
        records[-1]["rss_ratio_to_smallest"] = round(
            records[-1]["peak_rss_mib"] / records[0]["peak_rss_mib"], 2
        )
    return records
