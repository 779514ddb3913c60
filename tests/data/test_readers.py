"""Labelling-tool exports read as they are: COCO, CVAT, Pascal VOC and Cityscapes.

Each test builds a tiny export itself (nothing binary is committed) and runs it through
`check-data`, `load_dataset` and, once per format, one tiny epoch of `train`.
"""

import json

import numpy as np
import pytest

from export_samples import BUILDERS, NAMES, SIDE, make_cityscapes, make_coco, make_cvat, make_voc
from helpers import make_pair_dataset, write_png, zip_bytes
from segcore.cli import main
from segcore.data import load_dataset
from segcore.data.uploads import save_uploads


def check_data(path, capsys, *extra):
    code = main(["check-data", str(path), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_each_export_is_detected_and_checked_with_the_format_class_names(tmp_path, capsys, kind):
    root = BUILDERS[kind](tmp_path / kind)
    fmt = kind.split("-")[0]
    code, out = check_data(root, capsys, "--json")
    report = json.loads(out)
    assert code == 0, report["problems"]
    assert report["summary"]["format"] == fmt
    assert [c["name"] for c in report["summary"]["classes"]] == NAMES[fmt]
    dataset = load_dataset(root)
    assert dataset.format == fmt and dataset.class_map.names == NAMES[fmt]
    sizes = {split: len(samples) for split, samples in dataset.splits.items()}
    assert sizes == ({"train": 5, "val": 1} if kind in ("coco", "cvat")
                     else {"train": 4, "val": 2}), sizes
    assert check_data(root, capsys)[1].splitlines()[1] == f"format: {fmt}"


def test_coco_polygons_rle_and_crowd_rle_rasterise_to_contiguous_classes_and_void(tmp_path):
    from segcore.data.masks import read_mask

    dataset = load_dataset(make_coco(tmp_path / "c", "roboflow"))
    labels = read_mask(dataset.samples("train")[0].mask, dataset.class_map)
    assert labels[5, 5] == 1  # the cat polygon (category 3)
    assert labels[22, 5] == 2  # the dog RLE (category 7)
    assert labels[26, 25] == 255  # the crowd of people: void
    assert labels[0, 31] == 0  # no annotation: background
    assert np.isin(labels, [0, 1, 2, 255]).all()


def test_voc_void_border_and_cityscapes_ids_map_to_train_ids(tmp_path):
    from segcore.data.masks import read_mask

    dataset = load_dataset(make_voc(tmp_path / "v"))
    labels = read_mask(dataset.samples("train")[1].mask, dataset.class_map)
    assert set(np.unique(labels)) == {0, 7, 14, 255} and (labels[9] == 255).all()
    dataset = load_dataset(make_cityscapes(tmp_path / "c"))
    labels = read_mask(dataset.samples("train")[0].mask, dataset.class_map)
    road, car = NAMES["cityscapes"].index("road"), NAMES["cityscapes"].index("car")
    assert labels[5, 5] == car and labels[25, 2] == road
    assert labels[0, 0] == 255 and labels[25, 15] == 255  # ego vehicle and static: void


@pytest.mark.parametrize("kind", ["coco", "coco-roboflow", "cvat", "voc", "cityscapes"])
def test_one_tiny_epoch_trains_on_each_export_in_place(tmp_path, capsys, kind):
    root = BUILDERS[kind](tmp_path / kind)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    code = main(["--workspace", str(workspace), "train", "--data", str(root), "--model", "unet",
                 "--depth", "2", "--base-filters", "8", "--img-size", "32x32", "--epochs", "1",
                 "--batch-size", "2"])
    out = capsys.readouterr()
    assert code == 0, out.err
    run = next(p for p in (workspace / "runs").iterdir() if (p / "config.json").is_file())
    config = json.loads((run / "config.json").read_text())
    assert config["class_map"]["classes"][1]["name"] == NAMES[kind.split("-")[0]][1]
    assert config["dataset_format"] == kind.split("-")[0]
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # no copy, no cache


def edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _polygon_outside(data):
    data["annotations"][0]["segmentation"] = [[2, 2, 40, 2, 14, 14]]


def _unknown_category(data):
    data["annotations"][3]["category_id"] = 99


def _missing_image_entry(data):
    data["annotations"][4]["image_id"] = 77


COCO_DEFECTS = {
    "polygon outside": (_polygon_outside, "annotation 11 (image '1.jpg'): polygon point (40, 2) "
                                          "lies outside the 32x32 image"),
    "unknown category": (_unknown_category, "annotation 21 (image '2.jpg') has category 99, "
                                            "which is not in \"categories\""),
    "annotation of no image": (_missing_image_entry, "annotation 22 is for image id 77, which is "
                                                     "not in \"images\""),
}


@pytest.mark.parametrize("defect", list(COCO_DEFECTS))
def test_a_coco_defect_exits_2_naming_the_file_and_entry(tmp_path, capsys, defect):
    root = make_coco(tmp_path / "c", "annotations")
    change, message = COCO_DEFECTS[defect]
    annotations = root / "annotations" / "instances_default.json"
    edit_json(annotations, change)
    code, out = check_data(root, capsys)
    assert code == 2 and out.strip() == f"{annotations}: {message}.", out


def test_a_coco_image_missing_on_disk_exits_2_naming_the_file_and_entry(tmp_path, capsys):
    root = make_coco(tmp_path / "c", "roboflow")
    (root / "valid" / "6.jpg").unlink()
    code, out = check_data(root, capsys)
    assert code == 2 and out.startswith(f"{root / 'valid' / '_annotations.coco.json'}: image 6 "
                                         "('6.jpg') is not on disk"), out
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    code = main(["--workspace", str(workspace), "train", "--data", str(root), "--epochs", "1"])
    assert code == 2 and "image 6 ('6.jpg') is not on disk" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["voc", "cvat"])
def test_a_split_list_naming_a_missing_image_exits_2_naming_list_and_line(tmp_path, capsys, kind):
    root = BUILDERS[kind](tmp_path / kind)
    lists = root / "ImageSets" / "Segmentation"
    listed = lists / ("val.txt" if kind == "voc" else "default.txt")
    listed.write_text(listed.read_text() + "ghost\n")
    code, out = check_data(root, capsys)
    line = 3 if kind == "voc" else 7
    assert code == 2 and out.strip() == (f"{listed}: line {line} names 'ghost', but there is no "
                                         "such image in JPEGImages/."), out


def test_a_cityscapes_image_without_its_labels_exits_2_naming_it(tmp_path, capsys):
    root = make_cityscapes(tmp_path / "c")
    labels = root / "gtFine" / "val" / "frankfurt" / "frankfurt_000000_000001_gtFine_labelIds.png"
    labels.unlink()
    code, out = check_data(root, capsys)
    assert code == 2 and out.strip() == (
        f"{root / 'leftImg8bit' / 'val' / 'frankfurt' / 'frankfurt_000000_000001_leftImg8bit.png'}"
        f": no gtFine_labelIds.png for this image in {root / 'gtFine' / 'val'}."), out


def test_a_mask_colour_outside_the_labelmap_names_the_mask(tmp_path, capsys):
    root = make_cvat(tmp_path / "c")
    mask = root / "SegmentationClass" / "frame_000002.png"
    write_png(mask, np.full((SIDE, SIDE, 3), (9, 9, 200), np.uint8))
    code, out = check_data(root, capsys)
    assert code == 2 and out.strip() == f"{mask}: colours (9,9,200) are not in the class palette."


@pytest.mark.parametrize("kind", ["coco-roboflow", "voc"])
def test_zips_of_exports_import_and_upload_as_they_are(tmp_path, capsys, kind):
    root = BUILDERS[kind](tmp_path / kind)
    archive = zip_bytes({f"export/{p.relative_to(root)}": p.read_bytes()
                         for p in root.rglob("*") if p.is_file()})
    (tmp_path / "export.zip").write_bytes(archive)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    code = main(["--workspace", str(workspace), "import", str(tmp_path / "export.zip"),
                 "--name", "imported"])
    assert code == 0, capsys.readouterr().err
    assert load_dataset(workspace / "datasets" / "imported").format == kind.split("-")[0]
    saved = save_uploads([("export.zip", archive)], workspace / "datasets" / "uploaded")
    assert load_dataset(saved).format == kind.split("-")[0]


def test_a_folder_upload_of_an_export_is_saved_as_it_is(tmp_path):
    root = make_cvat(tmp_path / "cvat")
    files = [(f"task-7/{p.relative_to(root).as_posix()}", p.read_bytes())
             for p in root.rglob("*") if p.is_file()]
    (tmp_path / "datasets").mkdir()
    saved = save_uploads(files, tmp_path / "datasets" / "task-7")
    dataset = load_dataset(saved)
    assert dataset.format == "cvat" and dataset.class_map.names == NAMES["cvat"]
    assert (saved / "labelmap.txt").read_bytes() == (root / "labelmap.txt").read_bytes()


@pytest.mark.parametrize("change", [
    lambda data: data["categories"].append({"id": [1], "name": "odd"}),
    lambda data: data["images"][0].update(height="32"),
    lambda data: data["annotations"][0].update(segmentation={"counts": "x", "size": None}),
    lambda data: data.update(images={"not": "a list"}),
])
def test_a_malformed_coco_file_is_one_error_naming_it(tmp_path, capsys, change):
    root = make_coco(tmp_path / "c", "annotations")
    annotations = root / "annotations" / "instances_default.json"
    edit_json(annotations, change)
    code, out = check_data(root, capsys)
    assert code == 2 and out.startswith(f"{annotations}: ") and len(out.splitlines()) == 1, out


def test_a_folder_dataset_with_an_annotations_folder_stays_a_folder_dataset(tmp_path):
    root = make_pair_dataset(tmp_path / "d", count=4, size=(8, 8))
    (root / "annotations").mkdir()
    (root / "annotations" / "notes.json").write_text("{}")
    assert load_dataset(root).format == "folder"


def test_a_coco_stuff_file_has_no_background_class_and_leaves_unlabelled_pixels_void(tmp_path):
    from segcore.data.masks import read_mask

    root = make_coco(tmp_path / "s", "official")
    for split in ("train2017", "val2017"):
        instances = root / "annotations" / f"instances_{split}.json"
        edit_json(instances, lambda data: data["categories"].__setitem__(
            slice(None), [{"id": 3, "name": "grass"}, {"id": 7, "name": "sky"},
                          {"id": 12, "name": "other"}]))
        instances.rename(root / "annotations" / f"stuff_{split}.json")
    dataset = load_dataset(root)
    assert dataset.class_map.names == ["grass", "sky", "other"]
    labels = read_mask(dataset.samples("train")[0].mask, dataset.class_map)
    assert labels[5, 5] == 0 and labels[22, 5] == 1 and labels[0, 31] == 255
