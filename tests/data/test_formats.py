import io

import numpy as np
import pytest
import tifffile
from PIL import Image

from helpers import png_bytes, write_png
from segcore.data.classes import ClassMap
from segcore.data.formats import image_shape, read_image
from segcore.data.masks import read_mask, read_raw_mask
from segcore.errors import DataError

CLASSES = ClassMap(["a", "b", "c"], colors=[(255, 0, 0), (0, 255, 0), (0, 0, 255)],
                   ignore_value=255, void_color=(0, 0, 0))


def test_grayscale_rgb_rgba_and_palette_images_read_as_rgb(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    for name, array, mode in (
        ("g.png", gray, "L"),
        ("rgb.jpg", np.dstack([gray] * 3), "RGB"),
        ("rgba.png", np.dstack([gray] * 3 + [np.full_like(gray, 7)]), "RGBA"),
        ("pal.bmp", gray, "L"),
    ):
        path = tmp_path / name
        Image.fromarray(array, mode=mode).save(path)
        image = read_image(path)
        assert image.shape == (8, 8, 3) and image.dtype == np.float32
        assert abs(float(image[0, 1, 0]) - 1 / 255) < 0.02


def test_16_bit_png_and_tiff_keep_their_range(tmp_path):
    array = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "deep.png")
    tifffile.imwrite(tmp_path / "deep.tif", np.dstack([array] * 3))
    for name in ("deep.png", "deep.tif"):
        image = read_image(tmp_path / name)
        assert image.shape == (2, 2, 3)
        assert image[0, 1, 0] == pytest.approx(1.0)
        assert image[1, 0, 0] == pytest.approx(32768 / 65535, abs=1e-4)


def test_exif_orientation_is_honoured(tmp_path):
    array = np.zeros((4, 8, 3), dtype=np.uint8)
    array[0, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(array).save(tmp_path / "o.jpg", exif=exif, quality=100)
    assert read_image(tmp_path / "o.jpg").shape == (8, 4, 3)


def test_unicode_names_spaces_and_upper_case_extensions(tmp_path):
    path = write_png(tmp_path / "ünï códe 1.PNG", np.zeros((4, 4), np.uint8))
    assert read_image(path).shape == (4, 4, 3)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"hello, not an image", "not an image"),
        (png_bytes(np.zeros((64, 64), np.uint8))[:60], "truncated"),
    ],
)
def test_broken_files_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        read_image(path)
    assert "bad.png" in str(error.value)


def test_truncated_jpeg_is_refused(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(DataError, match="cut.jpg"):
        read_image(path)


def _png_with_header_size(width, height):
    """A tiny PNG whose IHDR claims width x height (the pixel data is not there)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_header_claiming_100000_squared_pixels_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_with_header_size(100_000, 100_000))
    with pytest.raises(DataError, match="pixel cap"):
        image_shape(path)
    with pytest.raises(DataError, match="huge.png"):
        read_image(path)


def test_small_png_that_decodes_to_gigabytes_is_refused(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (20_000, 20_000)).save(path, optimize=True)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(DataError, match="pixel cap"):
        read_image(path)


def test_index_palette_binary_and_rgb_masks(tmp_path):
    labels = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    write_png(tmp_path / "l.png", labels)
    assert (read_mask(tmp_path / "l.png", CLASSES) == labels).all()
    palette = Image.fromarray(labels, mode="L").convert("P")
    palette.putpalette([9, 9, 9] * 256)
    palette.save(tmp_path / "p.png")
    assert (read_raw_mask(tmp_path / "p.png") == labels).all()
    binary = ClassMap(["bg", "fg"], values=[0, 255])
    write_png(tmp_path / "b.png", np.array([[0, 255]], np.uint8))
    assert read_mask(tmp_path / "b.png", binary).tolist() == [[0, 1]]
    rgb = np.array([[[255, 0, 0], [0, 0, 255]], [[0, 0, 0], [0, 255, 0]]], dtype=np.uint8)
    write_png(tmp_path / "rgb.png", rgb)
    assert read_mask(tmp_path / "rgb.png", CLASSES).tolist() == [[0, 2], [255, 1]]


def test_undeclared_mask_values_are_named(tmp_path):
    write_png(tmp_path / "m.png", np.array([[0, 7], [9, 1]], np.uint8))
    with pytest.raises(DataError, match=r"m.png: mask values 7, 9 are not among"):
        read_mask(tmp_path / "m.png", CLASSES)


def test_off_palette_colours_are_named(tmp_path):
    write_png(tmp_path / "c.png", np.array([[[255, 0, 0], [1, 2, 3]]], np.uint8))
    with pytest.raises(DataError, match=r"c.png: colours \(1,2,3\) are not in the class palette"):
        read_mask(tmp_path / "c.png", CLASSES)


def _png_with_exif_after_the_pixels(array, orientation):
    """A PNG whose eXIf chunk follows the image data (allowed; Pillow finds it on load)."""
    import io
    import struct
    import zlib

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    data = buffer.getvalue()
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + payload) & 0xFFFFFFFF)
    end = data.rindex(b"IEND") - 4
    return data[:end] + chunk + data[end:]


def test_a_png_exif_orientation_after_the_pixels_is_still_honoured():
    from segcore.data.formats import image_shape, read_image

    array = np.zeros((20, 30, 3), np.uint8)
    turned = _png_with_exif_after_the_pixels(array, 6)
    assert image_shape(turned, "late.png") == (30, 20) == read_image(turned, "late.png").shape[:2]
    plain = _png_with_exif_after_the_pixels(array, 1)
    assert image_shape(plain, "plain.png") == (20, 30)
