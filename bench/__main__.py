"""`python -m bench {throughput,quality,tiling,inference,exports,peers,batchnorm,jit,kernels,precision,scale,all}`.

Every figure is measured here, side by side in one run; none is asserted in a test.
"""

import argparse
import sys
from pathlib import Path

from bench.common import DEFAULT_DATA, print_json


def _size(text):
    if text.lower() == "none":  # leave it to the run (e.g. chosen by --auto)
        return None
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    throughput = sub.add_parser("throughput", help="segcore loop vs model.fit, efficiency")
    throughput.add_argument("--models", default="unet,reseg,unet-renet",
                            help="comma-separated families; family+encoder for a pretrained "
                                 "encoder (unet+mobilenet_v2)")
    throughput.add_argument("--pairs", type=int, default=3)
    throughput.add_argument("--raw-step", action="store_true",
                            help="also time a bare tf.function step (the least a loop can do)")
    throughput.add_argument("--json", action="store_true")
    for name in ("quality", "peers"):
        cmd = sub.add_parser(name, help="train within a time budget, score at full resolution")
        cmd.add_argument("--data", default=str(DEFAULT_DATA / "membrane"))
        cmd.add_argument("--model", default="unet")
        cmd.add_argument("--minutes", type=float, default=4)
        cmd.add_argument("--img-size", type=_size, default=(256, 256))
        cmd.add_argument("--ignore-index", type=int)
        cmd.add_argument("--val-fraction", type=float, default=1 / 6)
        cmd.add_argument("--extra", default="", help="more `segcore train` flags, quoted")
        cmd.add_argument("--json", action="store_true")
    quality_cmd = sub.choices["quality"]
    quality_cmd.add_argument("--seeds", default=None,
                             help="comma-separated seeds (0,1,2): one run each, mean and spread")
    quality_cmd.add_argument("--tta", nargs="?", const="flip", default=None,
                             help="also score each run with test-time augmentation: flip "
                                  "(the default), scales, or both as flip,scales")
    quality_cmd.add_argument("--holdout-scenes", default=None,
                             help="comma-separated scenes (file-name prefixes, e.g. 0006R0) of "
                                  "--data's training frames: train on the others, score on "
                                  "these (bench/scenes.py); the kept weights are also scored "
                                  "on --data's own val/ (mean_iou_data_val)")
    batchnorm = sub.add_parser("batchnorm", help="training step: FusedBatchNorm vs Keras' layer")
    batchnorm.add_argument("--model", default="unet")
    batchnorm.add_argument("--rounds", type=int, default=3)
    batchnorm.add_argument("--json", action="store_true")
    jit = sub.add_parser("jit", help="training step: XLA's against TensorFlow's")
    jit.add_argument("--rounds", type=int, default=5)
    jit.add_argument("--json", action="store_true")
    kernels = sub.add_parser("kernels", help="training step: oneDNN's kernels against "
                                             "TensorFlow's own")
    kernels.add_argument("--rounds", type=int, default=3)
    kernels.add_argument("--json", action="store_true")
    precision = sub.add_parser("precision", help="training step: bfloat16 vs float32")
    precision.add_argument("--models", default="unet,reseg")
    precision.add_argument("--rounds", type=int, default=3)
    precision.add_argument("--json", action="store_true")
    inference = sub.add_parser("inference", help="prediction img/s at 360x480 (CamVid)")
    inference.add_argument("--models", default="reseg,deeplabv3plus+mobilenet_v2")
    inference.add_argument("--rounds", type=int, default=1)
    inference.add_argument("--json", action="store_true")
    exports = sub.add_parser("exports", help="an exported SavedModel's batch-1 serve, ms, "
                                             "under oneDNN's kernels and TensorFlow's own")
    exports.add_argument("--models", default="reseg,unet")
    exports.add_argument("--rounds", type=int, default=2)
    exports.add_argument("--json", action="store_true")
    tiling = sub.add_parser("tiling", help="tiled prediction time and peak RSS")
    tiling.add_argument("--json", action="store_true")
    scale = sub.add_parser("scale", help="patch training streamed from disk: peak RSS and img/s "
                                         "on 250, 1000 and 2000 images of 1024x1024")
    scale.add_argument("--work", default="/tmp/segcore-bench-scale",
                       help="folder for the generated datasets (kept between runs) and the cache")
    scale.add_argument("--steps", type=int, default=24, help="training steps per run")
    scale.add_argument("--rounds", type=int, default=4,
                       help="rounds of alternated blocks: in memory, streamed, streamed cold")
    scale.add_argument("--json", action="store_true")
    everything = sub.add_parser("all", help="run every benchmark and rewrite bench/RESULTS.md")
    everything.add_argument("--data", default=str(DEFAULT_DATA))
    args = parser.parse_args(argv)

    if args.command == "throughput":
        from bench.throughput import run_throughput

        print_json(run_throughput(args.models.split(","), args.pairs, args.raw_step))
    elif args.command == "quality":
        from bench.quality import LAST_WEIGHTS, run_quality

        holdout, also = None, list(LAST_WEIGHTS)
        if args.holdout_scenes:
            import shutil
            import tempfile

            from bench.scenes import holdout_dataset

            data = tempfile.mkdtemp(prefix="segcore-bench-scenes-")
            try:
                holdout = holdout_dataset(args.data, args.holdout_scenes.split(","), data)
            except (OSError, ValueError) as error:
                shutil.rmtree(data, ignore_errors=True)
                print(f"--holdout-scenes: {error}", file=sys.stderr)
                return 2
            if (Path(args.data) / "val").is_dir():  # the dataset's own val, scenes it may share
                also.append(("mean_iou_data_val", ("--data", args.data, "--split", "val")))
            args.data = data
        split = [] if args.ignore_index is not None else [
            "--split", "contiguous", "--val-fraction", str(args.val_fraction)]
        extra = args.extra.split() + (
            ["--ignore-index", str(args.ignore_index)] if args.ignore_index is not None else [])
        if args.seeds is not None or args.tta:
            from bench.quality import run_quality_seeds

            seeds = [int(s) for s in (args.seeds or "0").split(",")]
            result = run_quality_seeds(args.data, args.model, args.minutes, args.img_size,
                                       seeds, extra, split_args=split,
                                       tta=tuple(args.tta.split(",")) if args.tta else (),
                                       also=also)
        else:
            result = run_quality(args.data, args.model, args.minutes, args.img_size, extra,
                                 split_args=split, also=also)
        print_json({**result, "holdout": holdout} if holdout else result)
    elif args.command == "peers":
        from bench.peers import run_peer

        print_json(run_peer(args.data, args.minutes, args.img_size, args.ignore_index,
                            args.val_fraction))
    elif args.command == "batchnorm":
        from bench.batchnorm import run_batchnorm

        print_json(run_batchnorm(args.rounds, args.model))
    elif args.command == "jit":
        from bench.jit import run_jit

        print_json(run_jit(rounds=args.rounds))
    elif args.command == "kernels":
        from bench.kernels import run_kernels

        print_json(run_kernels(rounds=args.rounds))
    elif args.command == "precision":
        from bench.precision import run_precision

        print_json(run_precision(args.models.split(","), args.rounds))
    elif args.command == "inference":
        from bench.inference import run_inference

        print_json(run_inference(args.models.split(","), args.rounds))
    elif args.command == "exports":
        from bench.exports import run_exports

        print_json(run_exports(args.models.split(","), rounds=args.rounds))
    elif args.command == "tiling":
        from bench.tiling import run_tiling

        print_json(run_tiling())
    elif args.command == "scale":
        from bench.scale import run_scale

        print_json(run_scale(args.work, args.steps, args.rounds))
    else:
        from bench.report import run_all

        run_all(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
