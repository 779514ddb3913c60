"""The data doctor: checks every file of a dataset and reports all problems at once."""

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segcore.data.archive import extract_zip
from segcore.data.classes import IGNORE_LABEL
from segcore.data.dataset import SPLITS, natural_key, resolve_class_map
from segcore.data.defects import mask_defect
from segcore.data.formats import IMAGE_EXTENSIONS, MASK_EXTENSIONS
from segcore.data.masks import raw_to_labels, read_pair
from segcore.errors import DataError


@dataclass
class DoctorReport:
    """What the doctor found: a summary, and one line per problem (empty when healthy).

    When masks are damaged label maps (JPEG, anti-aliasing) the summary holds only
    `defective_masks`, their paths: snapping them to their classes can fix the dataset.
    """

    summary: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems


def _split_folders(root):
    folders = {name: root / name for name in SPLITS if (root / name / "images").is_dir()}
    return folders or {"all": root}


def _pair_leniently(folder, problems, lossy):
    """Pairs images with masks by stem, recording every mismatch instead of stopping (and
    JPEG masks in `lossy`)."""
    images_dir, masks_dir = folder / "images", folder / "masks"
    if not images_dir.is_dir():
        problems.append(f"{folder}: no images/ folder (expected images/ and masks/).")
        return []
    if not masks_dir.is_dir():
        problems.append(f"{folder}: no masks/ folder (expected images/ and masks/).")
        return []
    found, jpeg = {}, set()
    for kind, directory, extensions in (
        ("image", images_dir, IMAGE_EXTENSIONS), ("mask", masks_dir, MASK_EXTENSIONS)
    ):
        found[kind] = {}
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            if kind == "mask" and path.suffix.lower() in (".jpg", ".jpeg"):
                # One line for the pair: its image is not "without a mask" on top of this.
                problems.append(
                    f"{path}: a JPEG mask; JPEG is lossy and changes mask values along every "
                    "edge. Save masks losslessly (PNG) from the original labels, or snap every "
                    "value to the nearest class.")
                jpeg.add(path.stem)
                lossy.append(path)
                continue
            if path.suffix.lower() not in extensions:
                problems.append(f"{path}: not a supported {kind} type ({path.suffix or 'no extension'}).")
                continue
            if path.stem in found[kind]:
                problems.append(
                    f"{path}: duplicate stem {path.stem!r} (also {found[kind][path.stem].name})."
                )
                continue
            found[kind][path.stem] = path
    images, masks = found["image"], found["mask"]
    for stem in sorted(set(images) - set(masks) - jpeg, key=natural_key):
        problems.append(f"{images[stem]}: no matching mask in {masks_dir}.")
    for stem in sorted(set(masks) - set(images), key=natural_key):
        problems.append(f"{masks[stem]}: no matching image in {images_dir}.")
    return [(images[s], masks[s]) for s in sorted(set(images) & set(masks), key=natural_key)]


def _read_pair(image_path, mask_path, problems):
    """Reads one pair as training will, returning the raw mask or None when it is unusable."""
    try:
        return read_pair(image_path, mask_path)[1]
    except DataError as error:
        problems.append(str(error))
        return None


def check_folder(root, classes=None, ignore_index=None):
    """Checks a dataset folder; see `check_dataset`."""
    from segcore.data.readers import detect

    root = Path(root)
    report = DoctorReport()
    problems = report.problems
    if not root.is_dir():
        problems.append(f"{root}: dataset folder not found.")
        return report
    reader = detect(root)
    if reader.NAME != "folder":
        return _check_export(root, reader, classes, ignore_index)
    pairs, raws, lossy = {}, {}, []
    for split, folder in _split_folders(root).items():
        pairs[split] = _pair_leniently(folder, problems, lossy)
        for image_path, mask_path in pairs[split]:
            raw = _read_pair(image_path, mask_path, problems)
            if raw is not None:
                raws[mask_path] = (split, raw, image_path)
    defective = lossy + [path for path, (_, raw, _) in raws.items()
                         if _named_defect(raw, path, problems)]
    if defective:
        # Classes inferred from damaged masks would be noise ("256 classes"): stop here.
        report.summary = {"defective_masks": [str(p) for p in defective]}
        return report
    if not any(pairs.values()):
        problems.append(f"{root}: the dataset is empty (no images with masks found).")
        return report
    if not raws:  # every pair refused above, each named: no mask is left to read classes from
        return report
    try:
        usable = [_FakeSample(path) for path in raws]
        class_map = resolve_class_map(root, usable, classes, ignore_index)
    except DataError as error:
        problems.append(str(error))
        return report
    _summarize(report, root, "folder", pairs, raws, class_map)
    _count_unlabelled(report, root, pairs)
    return report


def _count_unlabelled(report, root, pairs):
    """Adds `unlabelled` (images of `root/unlabelled/`, not trained on) to the summary, or the
    problems: a clashing stem, or an image that cannot be read."""
    from segcore.data.dataset import unlabelled_images
    from segcore.data.formats import image_shape

    stems = {image.stem for items in pairs.values() for image, _ in items}
    try:
        images = unlabelled_images(root, stems)
    except DataError as error:
        report.problems.append(str(error))
        return
    for path in images:
        try:
            image_shape(path)
        except DataError as error:
            report.problems.append(str(error))
    report.summary["unlabelled"] = len(images)


def _check_export(root, reader, classes, ignore_index):
    """Checks a labelling-tool export through its reader: every sample read as training will.

    A defect of the format's own files (a polygon outside its image, an unknown category, a
    split list naming a missing image) stops the reader: it is reported alone.
    """
    report = DoctorReport()
    try:
        reading = reader.read(root)
        class_map = resolve_class_map(root, [], classes, ignore_index, reading.class_map)
    except DataError as error:
        report.problems.append(str(error))
        return report
    raws = {}
    for split, samples in reading.splits.items():
        for sample in samples:
            raw = _read_pair(sample.image, sample.mask, report.problems)
            if raw is not None:
                raws[sample.mask] = (split, raw, sample.image)
    if not any(reading.splits.values()):
        report.problems.append(f"{root}: the dataset is empty (no images with labels found).")
        return report
    _summarize(report, root, reading.format, reading.splits, raws, class_map)
    return report


def _summarize(report, root, format_name, pairs, raws, class_map):
    """Fills the report's summary (or its problems: masks that do not fit the class map)."""
    problems = report.problems
    counts = np.zeros(256, dtype=np.int64)
    sizes = Counter()
    for mask_path, (_, raw, _) in raws.items():
        try:
            labels = raw_to_labels(raw, class_map, str(mask_path))
        except DataError as error:
            problems.append(str(error))
            continue
        counts += np.bincount(labels.ravel(), minlength=256)
        sizes[f"{raw.shape[1]}x{raw.shape[0]}"] += 1
    total = int(counts.sum()) or 1
    channels = _channels(raws, problems)
    report.summary = {
        "root": str(root),
        "format": format_name,
        "images_per_split": {split: len(items) for split, items in pairs.items()},
        "sizes": dict(sizes.most_common()),
        **channels,
        "classes": [
            {"name": name, "value": value, "pixel_share": float(counts[label] / total)}
            for label, (name, value) in enumerate(zip(class_map.names, class_map.values))
        ],
        "void_share": float(counts[IGNORE_LABEL] / total),
        "class_map": class_map.to_json(),
    }


def _channels(raws, problems):
    """The channel rule's verdict on the readable images (`segcore.data.channels`): the summary's
    `input` (mode, channels, dtype) and `dtypes` (type: images), or a problem naming the odd
    file when a multi-channel dataset mixes channel counts."""
    from segcore.data.channels import dataset_input, image_info

    infos = [image_info(image_path) for _, _, image_path in raws.values()]
    try:
        spec = dataset_input(infos)
    except DataError as error:
        problems.append(str(error))
        return {}
    return {"input": {"mode": spec.mode, "channels": spec.channels, "dtype": spec.dtype},
            "dtypes": dict(Counter(f"{i.channels}x{i.dtype}" for i in infos).most_common())}


def _named_defect(raw, path, problems):
    problem = mask_defect(raw, str(path))
    if problem:
        problems.append(problem)
    return bool(problem)


@dataclass
class _FakeSample:
    mask: Path


def check_dataset(path, classes=None, ignore_index=None, scratch=None):
    """Checks a dataset folder or zip and reports every problem found.

    Args:
        path: a dataset folder, or a zip of one.
        classes: a class file or ClassMap (default: the dataset's classes.json, else inferred).
        ignore_index: raw mask value of void pixels.
        scratch: a folder for unpacking zips (default: the system temp folder).

    Returns:
        A `DoctorReport`.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        holder = Path(tempfile.mkdtemp(prefix=".check-", dir=scratch))
        try:
            extracted = extract_zip(path, holder / "data", label=str(path))
            report = check_folder(extracted, classes, ignore_index)
            # Name files inside the zip, not the scratch folder they were unpacked to.
            report.problems = [p.replace(str(extracted), str(path)) for p in report.problems]
            return report
        except DataError as error:
            return DoctorReport(problems=[str(error)])
        finally:
            shutil.rmtree(holder, ignore_errors=True)
    if path.is_file():
        return DoctorReport(problems=[f"{path}: expected a dataset folder or a .zip file."])
    return check_folder(path, classes, ignore_index)


def summary_facts(summary, format_names=None):
    """What a person checks first about a healthy dataset, as {label: text}.

    Args:
        summary: `DoctorReport.summary`.
        format_names: {format: name to show} (default: the format's own name).

    Returns:
        {"format", "channels", "pixel types", "image sizes (WxH)"}, e.g. channels "5, kept as they
        are (standardized per channel)", pixel types "8 images: 5 x uint16".
    """
    spec = summary.get("input", {"mode": "rgb", "channels": 3})
    if spec["mode"] == "bands":
        channels = (f"{spec['channels']}, kept as they are (the model standardizes each with "
                    "the training split's mean and std)")
    else:
        channels = "RGB: 3 channels in [0, 1] (gray replicated, alpha dropped)"
    types = ", ".join(f"{count} images: {kind.replace('x', ' x ', 1)}"
                      for kind, count in summary.get("dtypes", {}).items())
    sizes = ", ".join(f"{size} ({count})" for size, count in summary.get("sizes", {}).items())
    name = summary.get("format", "folder")
    return {"format": (format_names or {}).get(name, name), "channels": channels,
            "pixel types": types or "unknown", "image sizes (WxH)": sizes}


def format_report(report):
    """Renders a report as the text `check-data` prints."""
    if report.problems:
        return "\n".join(report.problems)
    summary = report.summary
    lines = [f"dataset: {summary['root']}", f"format: {summary.get('format', 'folder')}"]
    if "input" in summary:
        kept = summary["input"]["mode"] == "bands"
        lines.append(f"channels: {summary['input']['channels'] if kept else 'RGB'} ("
                     + ", ".join(f"{n} images {k}" for k, n in summary["dtypes"].items())
                     + ("; kept as they are, standardized per channel)" if kept else
                        "; read as RGB in [0, 1])"))
    lines.append(
        "images: " + ", ".join(f"{s} {n}" for s, n in summary["images_per_split"].items())
    )
    if summary.get("unlabelled"):
        lines.append(f"unlabelled: {summary['unlabelled']} (no masks yet; not trained on)")
    lines.append("sizes (WxH): " + ", ".join(f"{s} x{n}" for s, n in summary["sizes"].items()))
    lines.append(f"classes: {len(summary['classes'])}")
    for entry in summary["classes"]:
        lines.append(
            f"  {entry['value']:>3}  {entry['name']:<24} {100 * entry['pixel_share']:6.2f}% of pixels"
        )
    lines.append(f"void: {100 * summary['void_share']:.2f}% of pixels")
    return "\n".join(lines)
