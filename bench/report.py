"""`python -m bench all`: every benchmark in one run, written to bench/RESULTS.md.

The budgets are chosen so the whole suite fits in 90 minutes on a 2-core machine: membrane at
4 minutes per contender, CamVid at 15 minutes per contender (the 60-minute CamVid runs are
recorded separately in RESULTS.md with their commands).
"""

import datetime as dt
import json
import sys
from pathlib import Path

from bench.common import REPO, machine_info
from bench.peers import run_peer
from bench.quality import run_quality
from bench.throughput import run_throughput
from bench.tiling import run_tiling

RESULTS = REPO / "bench" / "RESULTS.md"
# A line of its own: the records below it are written by hand and kept.
MARKER = "\n<!-- manual -->\n"
MEMBRANE_SPLIT = ["--split", "contiguous", "--val-fraction", str(1 / 6)]
MEMBRANE_FLAGS = ["--batch-size", "4"]
CAMVID_FLAGS = ["--classes", "segcore/data/presets/camvid11.json", "--class-weights", "median",
                "--scale-min", "0.75"]


def _table(rows, keys):
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
    return "\n".join(lines)


def _cell(value):
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def _announce(text):
    """Progress on stderr: the suite takes over an hour and writes RESULTS.md only at the end."""
    print(f"[bench {dt.datetime.now():%H:%M}] {text}", file=sys.stderr, flush=True)


def run_all(data_root):
    data_root = Path(data_root)
    membrane, camvid = data_root / "membrane", data_root / "camvid11"
    sections = [f"# Benchmark results\n\nWritten by `python -m bench all` on "
                f"{dt.date.today()}.\n\nMachine: `{json.dumps(machine_info())}`\n"]

    _announce("throughput")
    throughput = run_throughput()
    _announce(json.dumps(throughput))
    sections.append("## Throughput (256x256, batch 8)\n\nCommand: `python -m bench throughput "
                    "--json`\n\n" + _table(throughput, [
                        "model", "segcore_img_per_s", "keras_fit_img_per_s", "ratio",
                        "gflop_per_img", "achieved_gflop_per_s", "peak_gflop_per_s",
                        "efficiency"]))

    quality = []
    for model in ("unet", "reseg", "unet-renet"):
        _announce(f"membrane {model}")
        record = run_quality(membrane, model, 4, (256, 256), extra_args=MEMBRANE_FLAGS,
                             split_args=MEMBRANE_SPLIT)
        quality.append({"dataset": "membrane", "contender": f"segcore {model}", **record})
    _announce("membrane peer")
    peer = run_peer(membrane, 4, (256, 256))
    quality.append({"dataset": "membrane", "contender": "keras.io U-Net (peer)", **peer})
    for model in ("unet", "reseg"):
        _announce(f"camvid {model}")
        record = run_quality(camvid, model, 15, (176, 240), extra_args=CAMVID_FLAGS)
        quality.append({"dataset": "camvid11 val", "contender": f"segcore {model}", **record})
    _announce("camvid peer")
    peer = run_peer(camvid, 15, (176, 240), ignore_index=11)
    quality.append({"dataset": "camvid11 val", "contender": "keras.io U-Net (peer)", **peer})
    for record in quality:
        _announce(f"{record['dataset']} {record['contender']}: mean IoU {record['mean_iou']:.3f}")
    sections.append(
        "## Quality at full resolution\n\nCommands: `python -m bench quality --data DIR --model M "
        "--minutes N --img-size HxW --json` and `python -m bench peers ...` (membrane: slices "
        "0-24 train, 25-29 val, 4 min; CamVid: train on train, score on val at 360x480 with void "
        "ignored, 15 min at 176x240)\n\n"
        + _table(quality, ["dataset", "contender", "mean_iou", "pixel_accuracy", "epochs",
                           "train_seconds"])
        + "\n\nPer-class IoU (class order of the dataset):\n\n"
        + "\n".join(f"- {r['dataset']}, {r['contender']}: "
                    + " ".join("n/a" if v is None else _cell(v) for v in r["per_class_iou"])
                    for r in quality))

    _announce("tiling")
    tiling = run_tiling()
    sections.append("## Tiled prediction\n\nCommand: `python -m bench tiling --json`\n\n"
                    + _table(tiling, ["size", "seconds", "peak_rss_mib", "rss_ratio_to_smallest"]))
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    kept = previous.split(MARKER, 1)[1] if MARKER in previous else "\n"
    RESULTS.write_text("\n\n".join(sections) + "\n" + MARKER + kept)
    print(RESULTS)
