"""Model export: `.keras`, a SavedModel folder or `.tflite`, each with its card and README.

An export is built in a staging folder with its card (`<export>.json`: class map, input
contract, weights) and README (`<export>.README.md`: a usage snippet for that format), then
published: the model first, under the no-overwrite rule, then its two sidecars beside it.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

from segcore.errors import RunError
from segcore.export_card import model_card, sidecar_names, write_sidecars
from segcore.inference import WHICH, RunPredictor

EXPORT_FORMATS = ("keras", "savedmodel", "tflite")

# Names carry the checkpoint, so exporting best and last weights never collide.
EXPORT_NAMES = {"keras": "model-{which}.keras", "savedmodel": "savedmodel-{which}",
                "tflite": "model-{which}.tflite"}


def export_path(run_dir, fmt, which="best"):
    """Where `export_model` writes: `<run>/export/model-best.keras`, `savedmodel-last/`, ..."""
    if fmt not in EXPORT_FORMATS:
        raise RunError(f"Unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}.")
    if which not in WHICH:
        raise RunError(f"Unknown checkpoint {which!r}; use best or last.")
    return Path(run_dir) / "export" / EXPORT_NAMES[fmt].format(which=which)


def export_model(run_dir, fmt, which="best", overwrite=False):
    """Exports a run's model into `<run>/export/`: .keras, a SavedModel folder, or .tflite.

    The export is built in a staging folder and moved into place whole, so a SavedModel never
    merges into an older one and a failed export leaves the previous one intact.

    Args:
        run_dir: the run folder.
        fmt: "keras", "savedmodel" or "tflite".
        which: the checkpoint, "best" or "last" (part of the exported name).
        overwrite: replace an earlier export of the same checkpoint and format; without it
            an existing export is a RunError.

    Returns:
        The path written (see `export_path`); its card and README lie beside it
        (`export_card.sidecar_names`).
    """
    import tensorflow as tf

    path = export_path(run_dir, fmt, which)
    if path.exists() and not overwrite:
        raise RunError(f"{path} exists already; give --overwrite to replace it.")
    predictor = RunPredictor(run_dir, which)
    path.parent.mkdir(exist_ok=True)
    _remove_stale_staging(path.parent)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=path.parent))
    try:
        built = staging / path.name
        model = predictor.model
        if fmt == "keras":
            model.save(built)
        else:
            height, width = predictor.tile
            channels = int(model.input_shape[-1])  # 3 for RGB runs, the bands' count else
            signature = tf.TensorSpec((1, height, width, channels), tf.float32, name="image")
            if fmt == "savedmodel":
                write_saved_model(model, signature, built)
            else:
                function = tf.function(lambda image: model(image, training=False))
                concrete = function.get_concrete_function(signature)
                converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], function)
                built.write_bytes(converter.convert())
        write_sidecars(staging, model_card(predictor, fmt, which, path.name))
        _publish(built, path, overwrite, staging)
        # The model was published (no other export got there first): its sidecars follow,
        # replacing those of an earlier export of the same name, which described older weights.
        for name in sidecar_names(path.name):
            os.replace(staging / name, path.parent / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def write_saved_model(model, signature, built):
    """A SavedModel whose `serve` runs its one image as two copies and returns one.

    TensorFlow's oneDNN kernels (its default on x86 CPUs with AVX512-VNNI, AVX512-BF16 or
    AMX) run a convolution fused with inference-mode batch normalization 20-40 times slower on
    one image than on two (`inference.Traced`). `python -m bench exports`: with oneDNN, the
    copy serves ReSeg and U-Net 9-12x faster; with TensorFlow's own kernels, 1.6-2.3x slower.
    """
    import tensorflow as tf
    from keras.export import ExportArchive

    archive = ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve", input_signature=[signature],
        fn=lambda image: model(tf.concat([image, image], axis=0), training=False)[:1])
    archive.write_out(str(built), verbose=False)


def _remove_stale_staging(folder, age_seconds=3600):
    """Removes staging folders left by exports killed over an hour ago (a live export takes
    a minute at most, so its own folder is never this old)."""
    cutoff = time.time() - age_seconds
    for stale in folder.glob(".export-*"):
        try:
            if stale.is_dir() and not stale.is_symlink() and stale.stat().st_mtime < cutoff:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            continue


def _publish(built, path, overwrite, staging):
    """Moves a finished export into place; an older one is replaced only with `overwrite`."""
    try:
        if built.is_dir():
            if path.exists() and overwrite:
                path.rename(staging / "replaced")
            path.mkdir()  # fails if another export got there first: never merge
            os.replace(built, path)  # a directory replaces an empty one
        elif overwrite:
            os.replace(built, path)
        else:
            try:
                os.link(built, path)  # fails if another export got there first
            except FileExistsError:
                raise
            except OSError:  # a disk without hard links: rename, after checking again
                if path.exists():
                    raise FileExistsError(path) from None
                os.replace(built, path)
    except FileExistsError:
        raise RunError(f"{path} exists already; give --overwrite to replace it.") from None
