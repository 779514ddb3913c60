"""The Data page takes a labelling-tool export as it is and names its format."""

from export_samples import make_coco
from helpers import zip_bytes
from page_runner import page


def upload_zip(source, name):
    """The Data page after `source` was uploaded as one zip named `name`."""
    entries = {p.relative_to(source).as_posix(): p.read_bytes()
               for p in source.rglob("*") if p.is_file()}
    at = page("data").run()
    at.text_input(key="upload_name_0").input(name).run()
    at.file_uploader(key="upload_files_0").set_value(
        [(f"{name}.zip", zip_bytes(entries), "application/zip")]).run()
    at.button(key="upload_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_coco_export_zip_uploads_and_shows_its_format_and_classes(app_env, tmp_path):
    root, _ = app_env
    at = upload_zip(make_coco(tmp_path / "export", "roboflow"), "pets")
    assert (root / "datasets" / "pets" / "train" / "_annotations.coco.json").is_file()
    assert any(s.value.startswith("pets: 4 train images, 2 val images, 4 classes")
               and s.value.endswith("format: COCO JSON.") for s in at.success), [
        s.value for s in at.success]


def test_an_export_without_a_val_split_says_so_and_previews_both_splits(app_env, tmp_path):
    root, _ = app_env
    # One annotation file: every image is "train".
    at = upload_zip(make_coco(tmp_path / "export", "annotations"), "cvatcoco")
    assert any(s.value.startswith("cvatcoco: 6 train images, 4 classes")
               and "It has no val split: training holds 20% of the train images out" in s.value
               for s in at.success), [s.value for s in at.success]
    picker = at.selectbox(key="preview_split:cvatcoco:train5,val1")
    assert picker.options == ["train · 5 images", "val · 1 image"]  # every image in one
    shown = len(at.image)
    picker.set_value("val").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.image) == shown - 4  # the slider's 8 asks for more than either split holds
