"""Commands that use a trained run: `evaluate`, `predict` and `export`.

Each only reads the run (a run folder outside the workspace is fine for `evaluate` and
`predict`); what they write goes to the score cache, the `--output` folder or the run's
`exports/`, never over a user's files unless `--overwrite` is given.
"""

import json
import os
import sys
from pathlib import Path

from segcore.errors import DataError
from segcore.tta import TTA_MODES, chosen_tta
from segcore.workspace import workspace_root

_TTA_HELP = ("test-time augmentation: --tta (or --tta flip) averages the softmax of each "
             "image and of its left-right mirror (twice the compute); --tta scales does so at "
             "0.75, 1, 1.25 and 1.5 times the trained size and averages those (about nine "
             "times the compute); --tta off predicts each image once. Default: the run's own "
             "(train --predict-tta, which --auto chooses)")
_TTA_CHOICES = ("off", *TTA_MODES)
_TTA_SAID = {None: "", "flip": ", flip TTA", "scales": ", multi-scale and flip TTA"}


def _run_command(subparsers, name, summary, handler):
    """A command on one run's weights: `--run` and `--weights` first, then its own flags."""
    parser = subparsers.add_parser(name, help=summary)
    parser.set_defaults(handler=handler)
    parser.add_argument("--run", required=True, help="run id or folder")
    parser.add_argument("--weights", default="best", choices=("best", "last"))
    return parser


def register(subparsers):
    evaluate = _run_command(subparsers, "evaluate", "full-resolution evaluation of a run",
                            evaluate_command)
    evaluate.add_argument("--data", help="dataset folder (default: the run's)")
    evaluate.add_argument("--split", default="val", choices=("train", "val", "test"))
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--tta", nargs="?", const="flip", choices=_TTA_CHOICES,
                          help=_TTA_HELP)

    predict = _run_command(subparsers, "predict", "predict masks for images (tiled if large)",
                           predict_command)
    predict.add_argument("--input", required=True, help="an image or a folder of images")
    predict.add_argument("--output", required=True, help="folder for masks and overlays")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace masks and overlays left in --output by an earlier run")
    predict.add_argument("--tta", nargs="?", const="flip", choices=_TTA_CHOICES,
                          help=_TTA_HELP)

    export = _run_command(subparsers, "export", "export a run's model", export_command)
    export.add_argument("--format", required=True, choices=("keras", "savedmodel", "tflite"))
    export.add_argument("--overwrite", action="store_true",
                        help="replace an earlier export of the same weights and format")


def evaluate_command(args):
    from segcore import runs
    from segcore.evaluation import evaluate_run

    workspace = workspace_root(args.workspace)
    # A run outside the workspace is read, never written: no score cache is kept there.
    path = runs.run_dir(workspace, args.run, write=False)
    tta = chosen_tta(path, args.tta)
    result = evaluate_run(path, args.data, args.split, args.weights,
                          cache=runs.can_write(workspace, path), tta=tta)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"run {path.name}, {args.split} split, {result['images']} images, "
          f"{result['checkpoint']} weights" + _TTA_SAID[tta]
          + (" (the run's default; --tta off for none)" if tta and args.tta is None else ""))
    print(f"mean IoU {result['mean_iou']:.4f}  pixel accuracy {result['pixel_accuracy']:.4f}  "
          f"mean class accuracy {result['mean_class_accuracy']:.4f}  fw IoU {result['fw_iou']:.4f}")
    for name, iou in zip(result["class_names"], result["per_class_iou"]):
        print(f"  {name:<24} IoU {'   n/a' if iou is None else f'{iou:.4f}'}")
    return 0


def predict_command(args):
    from segcore import runs
    from segcore.data.formats import is_image_name
    from segcore.inference import RunPredictor
    from segcore.pictures import colorize, output_stems, overlay

    # Predicting only reads the run, so a run folder outside the workspace is fine.
    path = runs.run_dir(workspace_root(args.workspace), args.run, write=False)
    source = Path(args.input)
    if source.is_dir():
        inputs = sorted(p for p in source.iterdir() if p.is_file() and is_image_name(p.name))
    elif source.is_file():
        inputs = [source]
    else:
        raise DataError(f"{source}: no such file or folder.")
    if not inputs:
        raise DataError(f"{source}: no images found.")
    output = _output_folder(Path(args.output))
    stems = output_stems(p.name for p in inputs)
    kinds = ("mask", "overlay", "color")
    if not args.overwrite:
        existing = [output / f"{stem}_{kind}.png" for stem in stems for kind in kinds
                    if (output / f"{stem}_{kind}.png").exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise DataError(
                f"{existing[0]} exists already{more}; give --overwrite to replace earlier "
                "predictions, or another --output folder."
            )
    predictor = RunPredictor(path, args.weights, tta=chosen_tta(path, args.tta))
    for image_path, stem in zip(inputs, stems):
        image = predictor.read(image_path, compact=True)  # as the run reads: RGB or bands
        labels = predictor.predict(image)
        pictures = (labels, overlay(image, labels, predictor.class_map, 0.5)[..., ::-1],
                    colorize(labels, predictor.class_map)[..., ::-1])
        for kind, picture in zip(kinds, pictures):
            _write_png(output / f"{stem}_{kind}.png", picture)
        print(output / f"{stem}_mask.png", file=sys.stderr)
    print(output)
    return 0


def _output_folder(output):
    """Creates `--output` if needed; a file or an unwritable place is a DataError."""
    if output.exists() and not output.is_dir():
        raise DataError(f"--output {output} is a file; give a folder for the masks and overlays.")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"--output {output}: cannot create the folder ({error.strerror or error}); give a "
            "folder you can write to."
        ) from None
    if not os.access(output, os.W_OK | os.X_OK):
        raise DataError(f"--output {output} is not writable; give a folder you can write to.")
    return output


def _write_png(path, array):
    """Writes a PNG, turning a failed write (disk full, permissions) into a DataError."""
    import cv2

    ok, encoded = cv2.imencode(".png", array)
    try:
        if not ok:
            raise OSError("the PNG encoder failed")
        path.write_bytes(encoded.tobytes())
    except OSError as error:
        raise DataError(f"{path}: cannot write the prediction ({error}).") from None


def export_command(args):
    from segcore import runs
    from segcore.export import export_model

    path = runs.run_dir(workspace_root(args.workspace), args.run)
    print(export_model(path, args.format, args.weights, overwrite=args.overwrite))
    return 0
