"""Inference speed: images per second through segcore's prediction path, one process per model.

Each model predicts full-size images the way `predict` and the app do for a CamVid run trained
at 176x240: the 360x480 image is resized to the training size, predicted, and its logits resized
back. Weights are random (speed does not depend on them); `family+encoder` names a pretrained
encoder (`deeplabv3plus+mobilenet_v2`). Each image is one model call, timed both through
`inference.Traced` (what prediction uses) and with the Keras model called eagerly.
"""

import time

import numpy as np

from bench.common import last_json, median, run_python
from bench.throughput import model_and_hparams

IMAGE = (360, 480)
TRAIN_SIZE = (176, 240)
CLASSES = 11
IMAGES = 20


def images_per_second(model, image=IMAGE, train_size=TRAIN_SIZE, images=IMAGES):
    """Predicts `images` random images after two warm-up calls, with the model called eagerly
    (as prediction did before) and through `inference.Traced` (as it does now).

    Returns:
        {"eager": images per second, "traced": images per second}.
    """
    from segcore.inference import Traced, predict_labels
    from segcore.models import build_model, model_stride

    family, hparams = model_and_hparams(model)
    net = build_model(family, (None, None, 3), CLASSES, **hparams)
    stride = model_stride(family, **hparams)
    scale = (train_size[0] / image[0], train_size[1] / image[1])
    pictures = np.random.default_rng(0).integers(0, 256, (images + 2, *image, 3), np.uint8)
    rates = {}
    for name, call in (("eager", net), ("traced", Traced(net))):
        times = []
        for index, picture in enumerate(pictures):
            start = time.perf_counter()
            labels = predict_labels(call, picture, train_size, stride, scale, CLASSES)
            if index >= 2:
                times.append(time.perf_counter() - start)
        assert labels.shape == image
        rates[name] = 1.0 / median(times)
    return rates


def run_inference(models=("reseg", "deeplabv3plus+mobilenet_v2"), rounds=1):
    """One record per model: median images per second over `rounds` fresh processes."""
    records = []
    for model in models:
        rates = []
        for _ in range(rounds):
            code = ("import json, sys; from bench.inference import images_per_second; "
                    "print(json.dumps(images_per_second(sys.argv[1])))")
            rates.append(last_json(run_python(model, ["-c", code, model]).stdout))
        eager = median([r["eager"] for r in rates])
        traced = median([r["traced"] for r in rates])
        records.append({"model": model, "image": f"{IMAGE[0]}x{IMAGE[1]}",
                        "train_size": f"{TRAIN_SIZE[0]}x{TRAIN_SIZE[1]}",
                        "img_per_s": round(traced, 2), "eager_img_per_s": round(eager, 2),
                        "speedup": round(traced / eager, 2),
                        "rounds": [round(r["traced"], 2) for r in rates]})
    return records
