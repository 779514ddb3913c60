"""`unlabelled/` images: listed by the dataset, counted by the doctor, never in a split."""

import numpy as np
import pytest

from helpers import make_pair_dataset, png_bytes, write_png
from segcore.data.dataset import load_dataset
from segcore.data.doctor import check_dataset, format_report
from segcore.data.uploads import add_unlabelled, save_uploads
from segcore.errors import DataError


def with_unlabelled(root, count=3, split_folders=False):
    if split_folders:
        make_pair_dataset(root / "train", count=4)
        make_pair_dataset(root / "val", count=2, seed=1)
    else:
        make_pair_dataset(root, count=4)
    for index in range(count):
        write_png(root / "unlabelled" / f"u{index}.png", np.full((32, 32, 3), index, np.uint8))
    return root


@pytest.mark.parametrize("split_folders", [False, True])
def test_unlabelled_images_are_listed_but_in_no_split(tmp_path, split_folders):
    root = with_unlabelled(tmp_path / "d", split_folders=split_folders)
    dataset = load_dataset(root)
    assert [p.name for p in dataset.unlabelled] == ["u0.png", "u1.png", "u2.png"]
    in_splits = sorted(s.image for split in dataset.splits.values() for s in split)
    assert in_splits == sorted(p.resolve() for p in root.rglob("images/*.png"))
    report = check_dataset(root)
    assert report.ok, report.problems
    assert report.summary["unlabelled"] == 3
    assert "unlabelled: 3 (no masks yet; not trained on)" in format_report(report)


def test_an_image_without_a_mask_in_images_stays_an_error(tmp_path):
    root = with_unlabelled(tmp_path / "d")
    write_png(root / "images" / "lonely.png", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(DataError, match="no mask in masks/ for lonely.png"):
        load_dataset(root)
    assert any("lonely.png: no matching mask" in p for p in check_dataset(root).problems)


def test_an_unlabelled_stem_of_a_labelled_image_is_refused(tmp_path):
    root = with_unlabelled(tmp_path / "d")
    write_png(root / "unlabelled" / "1.jpg", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(DataError, match="1.jpg share the stem of a labelled image"):
        load_dataset(root)
    assert any("share the stem" in p for p in check_dataset(root).problems)


def test_a_broken_unlabelled_image_is_named_by_the_doctor(tmp_path):
    root = with_unlabelled(tmp_path / "d")
    (root / "unlabelled" / "bad.png").write_bytes(b"not a png")
    problems = check_dataset(root).problems
    assert problems == [f"{root / 'unlabelled' / 'bad.png'}: not an image file (the content is "
                        "not PNG, JPEG, TIFF or BMP)."]


def test_uploads_add_unlabelled_images_all_or_nothing(tmp_path):
    root = with_unlabelled(tmp_path / "d", count=1)
    image = png_bytes(np.zeros((32, 32, 3), np.uint8))
    added = add_unlabelled([("new a.png", image), ("b.png", image)], root)
    assert sorted(p.name for p in added) == ["b.png", "new a.png"]
    assert len(load_dataset(root).unlabelled) == 3
    for files, message in (
        ([("c.png", image), ("2.png", image)], "already holds 2.png"),
        ([("c.png", image), ("d.png", b"junk")], "d.png: not an image file"),
        ([("c.png", image), ("notes.txt", b"x")], "notes.txt: not an image file"),
    ):
        with pytest.raises(DataError, match=message):
            add_unlabelled(files, root)
        assert not (root / "unlabelled" / "c.png").exists()
    assert sorted(p.name for p in (root / "unlabelled").iterdir()) == [
        "b.png", "new a.png", "u0.png"]


def test_a_folder_upload_keeps_its_unlabelled_folder(tmp_path):
    image = png_bytes(np.zeros((16, 16, 3), np.uint8))
    mask = png_bytes(np.zeros((16, 16), np.uint8))
    files = [("up/images/a.png", image), ("up/masks/a.png", mask),
             ("up/images/b.png", image), ("up/masks/b.png", mask),
             ("up/unlabelled/c.png", image)]
    dest = save_uploads(files, tmp_path / "new")
    assert (dest / "unlabelled" / "c.png").is_file()
    assert [p.name for p in load_dataset(dest).unlabelled] == ["c.png"]
