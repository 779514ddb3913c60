"""Small generated files for tests: nothing binary is committed."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def write_png(path, array, mode=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array), mode=mode).save(path)
    return path


def make_pair_dataset(root, count=6, size=(32, 32), classes=3, seed=0, binary=False):
    """Writes images/ and masks/ with `count` random pairs; returns the root."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for index in range(count):
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        mask = rng.integers(0, classes, size, dtype=np.uint8)
        if binary:
            mask = (mask % 2) * 255
        write_png(root / "images" / f"{index}.png", image)
        write_png(root / "masks" / f"{index}.png", mask.astype(np.uint8))
    return root


def write_lines_dataset(root, count=8, size=(48, 64), gray=True):
    """Masks with a thin class (1-pixel lines) and a wide one; images gray or RGB."""
    rng = np.random.default_rng(0)
    for index in range(count):
        mask = np.zeros(size, np.uint8)
        mask[size[0] // 2:, :] = 2
        mask[rng.integers(0, size[0] // 2, 3), :] = 1
        image = rng.integers(0, 255, size if gray else (*size, 3), dtype=np.uint8)
        write_png(Path(root) / "images" / f"{index}.png", image)
        write_png(Path(root) / "masks" / f"{index}.png", mask)
    return Path(root)


def zip_bytes(entries):
    """Builds a zip in memory from {name: bytes}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_bytes(array, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array), mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_of_empty_entries(count):
    """A zip holding `count` empty image entries (for entry-count caps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index in range(count):
            archive.writestr(f"images/{index}.png", b"")
    return buffer.getvalue()


def assert_reloads_in_a_fresh_process(model, x, folder):
    """Saves `model` and checks that a new interpreter, which has imported none of segcore's
    layers, loads it with `segcore.models.load_model` and predicts `x` identically."""
    folder = Path(folder)
    model.save(folder / "m.keras")
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", model.predict(x, verbose=0))
    script = (
        "import sys, numpy as np; from segcore.models import load_model; "
        "d = sys.argv[1]; m = load_model(d + '/m.keras'); "
        "np.testing.assert_array_equal(m.predict(np.load(d + '/x.npy'), verbose=0), "
        "np.load(d + '/y.npy'))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]


def batch_size_model():
    """A real Keras model whose logits are (the batch size its call saw, 0) at every pixel."""
    import keras

    def logits(x):
        size = keras.ops.cast(keras.ops.shape(x)[0], "float32")
        return keras.ops.concatenate([keras.ops.ones_like(x[..., :1]) * size,
                                      keras.ops.zeros_like(x[..., :1])], axis=-1)

    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Lambda(logits)(inputs))
