"""Labelling-tool exports read as they are: COCO, CVAT, Pascal VOC and Cityscapes.

Each test builds a tiny export itself (nothing binary is committed) and runs it through
`check-data`, `load_dataset` and, once per format, one tiny epoch of `train`.
"""

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from helpers import write_png, zip_bytes
from segcore.cli import main
from segcore.data import load_dataset
from segcore.data.readers import cityscapes, voc
from segcore.data.uploads import save_uploads

SIDE = 32
RNG = np.random.default_rng(0)


def image(path):
    write_png(path, RNG.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8))
    return path


def uncompressed_rle(mask):
    """COCO's crowd form: run lengths over the column-major pixels, starting with zeros."""
    flat = mask.flatten(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return {"counts": np.diff(np.concatenate([[0], edges])).tolist(), "size": list(mask.shape)}


def coco_annotations(count, first_id=1, parent=None):
    """A COCO dict: per image a cat polygon, a dog RLE and a crowd of people (uncompressed RLE).

    Category ids are 3, 7 and 12 (not contiguous); `parent` adds Roboflow's project category 0.
    """
    categories = [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}, {"id": 12, "name": "person"}]
    if parent:
        categories = [{"id": 0, "name": parent, "supercategory": "none"}] + [
            dict(c, supercategory=parent) for c in categories]
    data = {"images": [], "annotations": [], "categories": categories}
    dog = np.zeros((SIDE, SIDE), np.uint8)
    dog[20:28, 2:12] = 1
    crowd = np.zeros((SIDE, SIDE), np.uint8)
    crowd[24:30, 20:30] = 1
    rle = coco_mask.encode(np.asfortranarray(dog))
    for index in range(count):
        image_id = first_id + index
        data["images"].append({"id": image_id, "file_name": f"{image_id}.jpg", "height": SIDE,
                               "width": SIDE})
        for number, category, segmentation, crowded in (
            (1, 3, [[2, 2, 14, 2, 14, 14, 2, 14]], 0),
            (2, 7, {"counts": rle["counts"].decode(), "size": [SIDE, SIDE]}, 0),
            (3, 12, uncompressed_rle(crowd), 1),
        ):
            data["annotations"].append({
                "id": 10 * image_id + number, "image_id": image_id, "category_id": category,
                "segmentation": segmentation, "iscrowd": crowded, "area": 1, "bbox": [0, 0, 1, 1]})
    return data


def make_coco(root, layout):
    """`annotations`: CVAT's COCO export; `official`: train2017/ val2017/; `roboflow`."""
    if layout == "annotations":
        root.joinpath("annotations").mkdir(parents=True)
        (root / "annotations" / "instances_default.json").write_text(
            json.dumps(coco_annotations(6)))
        for index in range(1, 7):
            image(root / "images" / f"{index}.jpg")
    elif layout == "official":
        root.joinpath("annotations").mkdir(parents=True)
        for split, count, first in (("train2017", 4, 1), ("val2017", 2, 5)):
            (root / "annotations" / f"instances_{split}.json").write_text(
                json.dumps(coco_annotations(count, first)))
            (root / "annotations" / f"captions_{split}.json").write_text("{}")
            for index in range(first, first + count):
                image(root / split / f"{index}.jpg")
    else:
        for split, count, first in (("train", 4, 1), ("valid", 2, 5)):
            (root / split).mkdir(parents=True)
            (root / split / "_annotations.coco.json").write_text(
                json.dumps(coco_annotations(count, first, parent="pets")))
            for index in range(first, first + count):
                image(root / split / f"{index}.jpg")
    return root


def label_picture(index):
    labels = np.zeros((SIDE, SIDE), np.uint8)
    labels[: 8 + index, :] = 1
    labels[20:, 10:20] = 2
    return labels


def make_cvat(root):
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\n"
                                       "tree:0,128,0::\ncar:250,50,83::\n")
    colours = np.array([(0, 0, 0), (0, 128, 0), (250, 50, 83)], np.uint8)
    for index in range(6):
        image(root / "JPEGImages" / f"frame_{index:06d}.jpg")
        write_png(root / "SegmentationClass" / f"frame_{index:06d}.png",
                  colours[label_picture(index)])
    (root / "ImageSets" / "Segmentation" / "default.txt").write_text(
        "".join(f"frame_{index:06d}\n" for index in range(6)))
    return root


def make_voc(root):
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    palette = [c for i in range(256) for c in voc.voc_color(i)]
    for index in range(6):
        name = f"2007_{index:06d}"
        image(root / "JPEGImages" / f"{name}.jpg")
        labels = label_picture(index) * 7  # 0 background, 7 car, 14 horse
        labels[8 + index, :] = 255  # VOC's void border
        mask = Image.frombytes("P", (SIDE, SIDE), labels.tobytes())
        mask.putpalette(palette)
        (root / "SegmentationClass").mkdir(exist_ok=True)
        mask.save(root / "SegmentationClass" / f"{name}.png")
    lists = root / "ImageSets" / "Segmentation"
    (lists / "train.txt").write_text("".join(f"2007_{i:06d}\n" for i in range(4)))
    (lists / "val.txt").write_text("2007_000004\n2007_000005\n")
    (lists / "trainval.txt").write_text("".join(f"2007_{i:06d}\n" for i in range(6)))
    return root


def make_cityscapes(root):
    for split, city, count in (("train", "aachen", 4), ("val", "frankfurt", 2)):
        for index in range(count):
            name = f"{city}_000000_{index:06d}"
            image(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png")
            label_ids = np.array([7, 26, 4], np.uint8)[label_picture(index)]  # road, car, static
            label_ids[0, :] = 1  # ego vehicle
            write_png(root / "gtFine" / split / city / f"{name}_gtFine_labelIds.png", label_ids)
            write_png(root / "gtFine" / split / city / f"{name}_gtFine_color.png",
                      np.zeros((SIDE, SIDE, 3), np.uint8))
    return root


BUILDERS = {
    "coco": lambda root: make_coco(root, "annotations"),
    "coco-official": lambda root: make_coco(root, "official"),
    "coco-roboflow": lambda root: make_coco(root, "roboflow"),
    "cvat": make_cvat,
    "voc": make_voc,
    "cityscapes": make_cityscapes,
}
NAMES = {
    "coco": ["background", "cat", "dog", "person"],
    "cvat": ["background", "tree", "car"],
    "voc": list(voc.VOC_CLASSES),
    "cityscapes": [name for _, name, _ in cityscapes.CLASSES],
}


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
    from segcore.data.formats import read_mask

    dataset = load_dataset(make_coco(tmp_path / "c", "roboflow"))
    labels = read_mask(dataset.samples("train")[0].mask, dataset.class_map)
    assert labels[5, 5] == 1  # the cat polygon (category 3)
    assert labels[22, 5] == 2  # the dog RLE (category 7)
    assert labels[26, 25] == 255  # the crowd of people: void
    assert labels[0, 31] == 0  # no annotation: background
    assert np.isin(labels, [0, 1, 2, 255]).all()


def test_voc_void_border_and_cityscapes_ids_map_to_train_ids(tmp_path):
    from segcore.data.formats import read_mask

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
