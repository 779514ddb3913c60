"""Tiny labelling-tool exports built on the fly: COCO (three layouts), CVAT, VOC, Cityscapes."""

import json

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from helpers import write_png
from segcore.data.readers import cityscapes, voc

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
