"""What travels with an exported model: its class map, input contract and a usage snippet.

An export alone is a tensor in, a tensor out. Its card (`<export>.json`) says what the numbers
mean (class names, colours, the dataset's mask values, void), what the model takes (size,
channels, pixel scaling) and which weights it holds; its README (`<export>.README.md`) shows
the few lines that turn an image file into a mask with that format. Both are built from the run
folder alone, so the CLI and the app write the same files.
"""

import json
from pathlib import Path

from segcore.data.classes import IGNORE_LABEL
from segcore.numeric_range import is_finite_number

CARD_SUFFIX, README_SUFFIX = ".json", ".README.md"

# How each format is loaded and called: the only lines in which the snippets differ.
_LOADERS = {
    "keras": (
        "# segcore's own layers must be registered first: install segcore (this repository).\n"
        "from segcore.inference import Traced  # traced, and never one image alone: fast\n"
        "from segcore.models import load_model\n\n"
        "model = load_model(MODEL)\n"
        "logits = np.asarray(Traced(model)(x))[0]"
    ),
    "savedmodel": (
        "import tensorflow as tf\n\n"
        "model = tf.saved_model.load(MODEL)  # the unzipped folder\n"
        "logits = model.serve(tf.constant(x)).numpy()[0]"
    ),
    "tflite": (
        "import tensorflow as tf  # or: from tflite_runtime.interpreter import Interpreter\n\n"
        "interpreter = tf.lite.Interpreter(model_path=MODEL)\n"
        "interpreter.allocate_tensors()\n"
        "interpreter.set_tensor(interpreter.get_input_details()[0][\"index\"], x)\n"
        "interpreter.invoke()\n"
        "logits = interpreter.get_tensor(interpreter.get_output_details()[0][\"index\"])[0]"
    ),
}

_NEEDS = {"keras": "numpy, Pillow, segcore (with Keras and TensorFlow)",
          "savedmodel": "numpy, Pillow, TensorFlow",
          "tflite": "numpy, Pillow, TensorFlow (or tflite-runtime)"}


def sidecar_names(export_name):
    """The card and README file names of an export (`model-best.tflite` ->
    `model-best.tflite.json`, `model-best.tflite.README.md`): keras and tflite exports of the
    same weights share a stem, so the whole name is kept."""
    return export_name + CARD_SUFFIX, export_name + README_SUFFIX


def model_card(predictor, fmt, which, export_name):
    """The JSON-ready card of an export.

    Args:
        predictor: the run's `RunPredictor` (class map, training size, scale, stride, model).
        fmt: "keras", "savedmodel" or "tflite".
        which: the checkpoint exported, "best" or "last".
        export_name: the export's file or folder name.

    Returns:
        A dict: run, weights (checkpoint, epoch, validation mean IoU), model, input, output,
        classes (label, name, colour, mask value) and void.
    """
    from segcore.runs import read_config
    from segcore.training import checkpoint

    info = read_config(predictor.run_dir)
    config = info["config"]
    summary = checkpoint.summary(predictor.run_dir) or {}
    height, width = predictor.tile
    channels = int(predictor.model.input_shape[-1])
    spec = predictor.input
    class_map = predictor.class_map
    fixed = fmt != "keras"  # SavedModel and TFLite are traced for one (1, H, W, C) input
    best = predictor.which == "best"
    return {
        "format": fmt,
        "file": export_name,
        "run": predictor.run_dir.name,
        "weights": {
            "checkpoint": predictor.which,
            "epoch": summary.get("best_epoch") if best else summary.get("epoch"),
            "val_mean_iou": summary.get("best_mean_iou") if best else None,
        },
        "model": {"family": config["model"], "hparams": config["hparams"],
                  "stride": predictor.stride},
        "input": {
            "name": "image",
            "shape": [1, height, width, channels] if fixed else [None, None, None, channels],
            "height": height, "width": width, "channels": channels,
            "dtype": "float32", "layout": "NHWC",
            **(_rgb_input(channels) if spec.mode == "rgb" else _bands_input(spec)),
            "size": (f"exactly {height}x{width}" if fixed else
                     f"any height and width that are multiples of {predictor.stride}; trained "
                     f"at {height}x{width}"),
            "resize_from_native": list(predictor.scale),
        },
        "output": {
            "shape": [1, height, width, class_map.num_classes] if fixed
            else [None, None, None, class_map.num_classes],
            "dtype": "float32",
            "meaning": "logits; the training label of a pixel is the argmax over the last axis",
        },
        "classes": [{"label": label, "name": name, "color": list(color), "value": value}
                    for label, (name, color, value) in enumerate(
                        zip(class_map.names, class_map.colors, class_map.values))],
        "void": {"value": class_map.ignore_value,
                 "color": list(class_map.void_color) if class_map.void_color else None,
                 "label": IGNORE_LABEL,
                 "note": "void pixels were left out of training; the model never predicts void"},
    }


def _rgb_input(channels):
    """The card's input fields of an RGB run (photos: 3 channels in [0, 1])."""
    return {
        "color": "RGB" if channels == 3 else "gray",
        "scaling": "pixel / 255: values in [0, 1]; any encoder normalization (ImageNet "
                   "mean/std, [-1, 1]) is a layer inside the model",
        "range": [0.0, 1.0],
    }


def _bands_input(spec):
    """The card's input fields of a multi-channel run: its bands as read, standardized inside."""
    return {
        "color": f"{spec.channels} band{'s' if spec.channels != 1 else ''} in the file's order",
        "scaling": f"each band as read: integer pixels divided by their type's maximum "
                   f"({spec.dtype} in the training data), floats as they are; the per-band "
                   "standardization ((x - mean) / std, of the training split) is the model's "
                   "first layer",
        "range": None,
        "pixel_dtype": spec.dtype,
        "normalization": {"mean": list(spec.mean), "std": list(spec.std),
                          "inside_model": True},
    }


# How the snippet reads an image into `x` (1, H, W, C) at the model's size: RGB pictures
# through Pillow; bands through tifffile (TIFF) or Pillow, scaled as segcore reads them.
_READ_RGB = (
    "image = Image.open(IMAGE).convert('RGB')\n"
    "# The model's size (what it was trained at); BOX when shrinking, as segcore does.\n"
    "shrink = image.width * image.height > size[0] * size[1]\n"
    "resized = image.resize(size, Image.BOX if shrink else Image.BILINEAR)\n"
    "x = (np.asarray(resized, np.float32) / 255.0)[None]  # (1, H, W, 3) in [0, 1]\n"
    "shown = image.size\n"
)
_READ_BANDS = (
    "if IMAGE.lower().endswith(('.tif', '.tiff')):\n"
    "    import tifffile\n\n"
    "    pixels = tifffile.imread(IMAGE)\n"
    "else:\n"
    "    pixels = np.asarray(Image.open(IMAGE))\n"
    "bands = card['input']['channels']\n"
    "if pixels.ndim == 2:\n"
    "    pixels = pixels[..., None]\n"
    "elif pixels.shape[-1] != bands and pixels.shape[0] == bands:  # planar: bands first\n"
    "    pixels = np.moveaxis(pixels, 0, -1)\n"
    "# Integers divided by their type's maximum, floats as they are (segcore's reading);\n"
    "# the model standardizes each band itself.\n"
    "if np.issubdtype(pixels.dtype, np.integer):\n"
    "    pixels = pixels.astype(np.float32) / np.iinfo(pixels.dtype).max\n"
    "pixels = pixels.astype(np.float32)\n"
    "shown = (pixels.shape[1], pixels.shape[0])\n"
    "# The model's size (what it was trained at), band by band; BOX when shrinking.\n"
    "resample = Image.BOX if shown[0] * shown[1] > size[0] * size[1] else Image.BILINEAR\n"
    "x = np.stack([np.asarray(Image.fromarray(pixels[..., b]).resize(size, resample))\n"
    "              for b in range(bands)], axis=-1)[None]  # (1, H, W, bands)\n"
)


def usage_snippet(fmt, model_file, card_file, image_file=None, bands=False):
    """Python lines that load the export and turn one image file into masks.

    Args:
        fmt: the export format.
        model_file, card_file: the names the export and its card have where the snippet runs.
        image_file: the image the snippet reads (default: image.png, or image.tif for bands).
        bands: the run reads its images' own channels (`segcore.data.channels`), not RGB.

    Returns:
        The snippet; it leaves `labels` (training labels), `values` (the dataset's mask values)
        and `colours` (an RGB picture) at the image's own size.
    """
    image_file = image_file or ("image.tif" if bands else "image.png")
    return (
        "import json\n\n"
        "import numpy as np\n"
        "from PIL import Image\n\n"
        f"MODEL, CARD, IMAGE = {model_file!r}, {card_file!r}, {image_file!r}\n"
        "card = json.load(open(CARD))\n"
        "size = (card['input']['width'], card['input']['height'])\n"
        f"{_READ_BANDS if bands else _READ_RGB}\n"
        f"{_LOADERS[fmt]}\n\n"
        "# Back to the image's size: each class's logits resized smoothly, then the best one.\n"
        "logits = np.stack([np.asarray(Image.fromarray(logits[..., c]).resize(\n"
        "    shown, Image.BILINEAR)) for c in range(logits.shape[-1])], axis=-1)\n"
        "labels = np.argmax(logits, axis=-1).astype(np.uint8)  # training labels 0..C-1\n"
        "values = np.array([c['value'] for c in card['classes']], np.uint8)[labels]\n"
        "colours = np.array([c['color'] for c in card['classes']], np.uint8)[labels]\n"
        "Image.fromarray(values).save('mask.png')  # the dataset's own mask values\n"
    )


def usage_text(card, model_file=None, card_file=None, level=1):
    """The README of an export: what it holds, its input contract and the usage snippet.

    Args:
        card: `model_card`'s dict.
        model_file, card_file: the names the reader has for the export and its card (the app
            downloads them under other names); default: the names in the export folder.
        level: the title's heading level (a page showing it inside its own sections uses 4).
    """
    title, section = "#" * level, "#" * (level + 1)
    model_file = model_file or card["file"]
    card_file = card_file or sidecar_names(card["file"])[0]
    shape = "x".join(("N", "H", "W", "C")[axis] if size is None else str(size)
                     for axis, size in enumerate(card["input"]["shape"]))
    classes = "\n".join(
        f"| {c['label']} | {c['name']} | {c['value']} | #{''.join(f'{v:02x}' for v in c['color'])} |"
        for c in card["classes"])
    void = card["void"]
    void_line = ("No void value." if void["value"] is None else
                 f"Void: mask value {void['value']} (left out of training; never predicted).")
    weights = card["weights"]
    bands = "normalization" in card["input"]
    epoch = f", epoch {weights['epoch']}" if weights.get("epoch") else ""
    score = (f", validation mean IoU {weights['val_mean_iou']:.3f}"
             if is_finite_number(weights.get("val_mean_iou")) else "")
    return (
        f"{title} {model_file}\n\n"
        f"Run {card['run']}, {weights['checkpoint']} weights{epoch}{score}; "
        f"{card['model']['family']}, {card['format']} format. Class map and input contract: "
        f"`{card_file}`.\n\n"
        f"{section} Input\n\n"
        f"- {card['input']['dtype']} {card['input']['layout']} tensor {shape}, "
        f"{card['input']['color']}, {card['input']['scaling']}.\n"
        f"- Size: {card['input']['size']}. Images like the training ones are resized to "
        f"{card['input']['height']}x{card['input']['width']}; much larger ones predict better "
        "in tiles at the training scale (`python -m segcore predict`).\n"
        f"- Output: {card['output']['meaning']}.\n\n"
        f"{section} Classes\n\n"
        "| label | name | mask value | colour |\n|---|---|---|---|\n"
        f"{classes}\n\n{void_line}\n\n"
        f"{section} Usage (needs {_NEEDS[card['format']]})\n\n"
        f"```python\n{usage_snippet(card['format'], model_file, card_file, bands=bands)}```\n"
    )


def write_sidecars(folder, card):
    """Writes the card and README of `card`'s export into `folder`; returns their paths."""
    card_name, readme_name = sidecar_names(card["file"])
    card_path, readme_path = Path(folder) / card_name, Path(folder) / readme_name
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    readme_path.write_text(usage_text(card))
    return card_path, readme_path
