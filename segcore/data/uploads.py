"""Uploaded files become a dataset folder: staged, checked by the doctor, then moved in whole.

The app's uploader hands over (name, bytes) pairs: loose images and masks, a folder, or one
zip. A folder or zip holding a labelling-tool export (COCO, CVAT, VOC, Cityscapes) is kept as
it is. Messages name files as the user uploaded them, never the hidden staging folder.
"""

import shutil
import tempfile
from pathlib import Path

from segcore.data.dataset import UNLABELLED
from segcore.errors import DataError


class UploadProblems(DataError):
    """The doctor rejects an upload; `problems` lists every one, named as uploaded.

    Attributes:
        problems: one line per problem.
        defective: True when masks are damaged label maps (JPEG, anti-aliasing) that snapping
            to their classes can fix.
    """

    def __init__(self, problems, defective=False):
        self.problems = list(problems)
        self.defective = defective
        count = len(self.problems)
        super().__init__(self.problems[0] if count == 1 else
                         f"The upload has {count} problems; nothing was saved. First: "
                         f"{self.problems[0]}")


class ColoursNeedNames(DataError):
    """RGB colour masks came without a classes.json: `colours` are the ones found in them.

    Attributes:
        colours: [((r, g, b), share of pixels)], most pixels first.
    """

    def __init__(self, colours):
        self.colours = colours
        super().__init__(f"The masks are RGB colour masks without a classes.json: name the "
                         f"{len(colours)} colours found in them (mark void if one is), then save.")


def save_uploads(files, dest, classes=None, snap=False):
    """Writes uploaded (name, bytes) pairs as a new dataset folder, all or nothing.

    Files in a masks/ folder, or named `x_mask.png`, are masks pairing with `x.png`; a folder
    upload keeps its train/ val/ test/ split folders; a `.json` file is the class file. A folder
    holding a labelling-tool export is saved as it is. A single .zip is imported through the
    safe zip importer. The same file picked twice counts once.

    Args:
        files: (name as uploaded, bytes) pairs.
        dest: the new dataset folder (must not exist).
        classes: a ClassMap to save as the dataset's classes.json (e.g. named colours).
        snap: snap every mask value to the nearest class first (JPEG or anti-aliased masks);
            only the new copy changes.

    Returns:
        `dest` as a Path.

    Raises:
        ColoursNeedNames: colour masks without a class file (and no `classes`).
        UploadProblems: the doctor's findings, every one.
        DataError: an empty upload, a bad zip, or a dataset of that name already existing.
    """
    from segcore.data.archive import extract_zip
    from segcore.data.doctor import check_folder

    dest = Path(dest)
    if dest.exists():
        raise DataError(f"A dataset named {dest.name!r} exists already; pick another name.")
    files = list(dict.fromkeys((name, bytes(data)) for name, data in files))
    if not files:
        raise DataError("Nothing was uploaded.")
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=dest.parent))
    target, names = staging / "data", {}
    try:
        zips = [f for f in files if f[0].lower().endswith(".zip")]
        if zips:
            if len(files) > 1:
                raise DataError("Upload either one zip or image files, not both.")
            extract_zip(zips[0][1], target, label=zips[0][0])
        elif _write_export(files, target):
            names = {str(target / _relative(name)): name for name, _ in files}
        else:
            names = _write_loose(files, target)
            if not any(target.rglob("masks/*")):
                raise DataError(
                    f"None of the {len(files)} uploaded files is a mask: name each mask after its "
                    "image with _mask (a.png + a_mask.png), or upload a folder holding images/ "
                    "and masks/.")
        if classes is not None:
            classes.save(target / "classes.json")
        elif not (target / "classes.json").is_file():
            colours = _colour_masks(target)
            if colours:
                raise ColoursNeedNames(colours)
        if snap:
            from segcore.data.defects import snap_masks

            snap_masks(target)
        report = check_folder(target)
        if not report.ok:
            problems = [_as_uploaded(p, target, dest.name, names) for p in report.problems]
            raise UploadProblems(problems, bool(report.summary.get("defective_masks")))
        target.rename(dest)
    except DataError as error:
        if type(error) is DataError and str(target) in str(error):
            raise DataError(_as_uploaded(str(error), target, dest.name, names)) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _as_uploaded(problem, target, name, names):
    """A doctor line with staged paths replaced by the names the user uploaded."""
    for staged in sorted(names, key=len, reverse=True):
        problem = problem.replace(staged, names[staged])
    return problem.replace(f"{target}/", "").replace(str(target), name)


def _colour_masks(target):
    """The region colours of the staged masks when any is an RGB colour mask, else []."""
    import numpy as np

    from segcore.data.defects import mask_files, solid_colours
    from segcore.data.masks import read_raw_mask

    try:
        raws = [read_raw_mask(path) for path in mask_files(target)]
    except DataError:
        return []  # the doctor names the unreadable mask
    if not any(raw.ndim == 3 for raw in raws):
        return []
    shades = solid_colours(raws)
    return [((int(code) >> 16, (int(code) >> 8) & 255, int(code) & 255), float(np.round(share, 4)))
            for code, share in shades]


def colour_class_map(names, colours, void):
    """A ClassMap for colour masks from the proposal table: one row per colour found.

    Args:
        names: class names (ignored for the void row).
        colours: (r, g, b) of each row.
        void: True for the one row (at most) whose colour marks ignored pixels.

    Raises:
        DataError: an empty or repeated name, no class left, or two void rows.
    """
    from segcore.data.classes import ClassMap

    voids = [c for c, v in zip(colours, void) if v]
    if len(voids) > 1:
        raise DataError("Mark at most one colour as void.")
    rows = [(str(n or "").strip(), tuple(c)) for n, c, v in zip(names, colours, void) if not v]
    for row, (name, _) in enumerate(rows, 1):
        if not name:
            raise DataError(f"Row {row}: every class needs a name.")
    return ClassMap([n for n, _ in rows], [c for _, c in rows], list(range(len(rows))),
                    void_color=voids[0] if voids else None)


def _relative(name):
    """An uploaded name as a safe relative path, the folder the user picked left out."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts or ":" in (parts[0] if parts else ""):
        raise DataError(f"{name}: the file name points outside the upload.")
    return Path(*parts[1:]) if len(parts) > 1 else Path(*parts)


def _write_export(files, target):
    """Writes a folder upload as it is when it is a labelling-tool export (COCO, CVAT, VOC,
    Cityscapes); returns False, leaving nothing, when it is not one."""
    from segcore.data.readers import detect

    try:
        for name, data in files:
            path = target / _relative(name)
            if path.name.startswith("."):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if target.is_dir() and detect(target).NAME != "folder":
            return True
    except (DataError, OSError):
        pass  # odd names or a file named like a folder: not an export; the loose path decides
    shutil.rmtree(target, ignore_errors=True)
    return False


def _write_loose(files, target):
    """Writes loose files into images/ and masks/; returns {staged path: name as uploaded}."""
    from segcore.data.formats import image_shape, is_image_name

    written = {}
    class_files = [name for name, _ in files if name.lower().endswith(".json")]
    if len(class_files) > 1:
        raise DataError(f"Upload one class file, not {len(class_files)}: "
                        f"{', '.join(class_files)}.")
    for name, data in files:
        path = Path(name.replace("\\", "/"))
        if path.name.startswith("."):
            continue  # .DS_Store and friends that come along with a folder
        if path.suffix.lower() == ".json":
            # The upload's class file; the doctor validates it with the masks.
            target.mkdir(parents=True, exist_ok=True)
            (target / "classes.json").write_bytes(data)
            written[target / "classes.json"] = name
            continue
        if not is_image_name(path.name):
            raise DataError(f"{name}: not an image file (PNG, JPEG, TIFF or BMP); remove it "
                            "from the upload.")
        image_shape(data, name=name)  # empty, not an image, over the pixel cap
        stem, suffix = path.stem, path.suffix
        is_mask = "masks" in path.parts[:-1] or stem.lower().endswith("_mask")
        if stem.lower().endswith("_mask"):
            stem = stem[: -len("_mask")]
        split = next((p for p in path.parts[:-1] if p in ("train", "val", "test")), None)
        folder = (target / split if split else target) / ("masks" if is_mask else "images")
        if UNLABELLED in path.parts[:-1] and not is_mask:
            folder = target / UNLABELLED  # images waiting for masks (the Label page)
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c for c in stem if c.isalnum() or c in "-_. ").strip() or "image"
        out = folder / f"{safe}{suffix.lower()}"
        if out in written:
            raise DataError(f"{name} and {written[out]} would both be saved as "
                            f"{out.relative_to(target)}, with different content; rename one "
                            "of them, or press Clear and pick the files again.")
        written[out] = name
        out.write_bytes(data)
    return {str(path): name for path, name in written.items()}


def suggest_name(file_names):
    """A dataset name from the upload: the zip's or the folder's name, made safe."""
    if not file_names:
        return ""
    first = Path(str(file_names[0]).replace("\\", "/"))
    raw = first.stem if first.suffix.lower() == ".zip" else (
        first.parts[0] if len(first.parts) > 1 else "")
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in raw).strip("-._")
    return safe[:64]


def add_unlabelled(files, root):
    """Adds uploaded images without masks to a dataset's `unlabelled/` folder, all or nothing.

    Args:
        files: (name as uploaded, bytes) pairs of images.
        root: the dataset folder.

    Returns:
        The new files' Paths.

    Raises:
        DataError: nothing uploaded, a file that is not a readable image, or a stem taken by
            one of the dataset's images (labelled or not) or by another upload.
    """
    from segcore.data.dataset import load_dataset
    from segcore.data.formats import image_shape, is_image_name

    root = Path(root)
    files = list(dict.fromkeys((name, bytes(data)) for name, data in files))
    if not files:
        raise DataError("Nothing was uploaded.")
    dataset = load_dataset(root)  # a dataset that does not load is refused as it stands
    taken = {s.stem.lower(): s.image.name for split in dataset.splits.values() for s in split}
    taken.update({p.stem.lower(): p.name for p in dataset.unlabelled})
    planned = {}
    for name, data in files:
        path = Path(name.replace("\\", "/"))
        if not is_image_name(path.name):
            raise DataError(f"{name}: not an image file (PNG, JPEG, TIFF or BMP).")
        image_shape(data, name=name)  # empty, not an image, over the pixel cap
        stem = "".join(c for c in path.stem if c.isalnum() or c in "-_. ").strip() or "image"
        if stem.lower() in taken:
            raise DataError(f"{name}: the dataset already holds {taken[stem.lower()]} with the "
                            f"stem {stem!r}; rename the file.")
        taken[stem.lower()] = name
        planned[f"{stem}{path.suffix.lower()}"] = data
    folder = root / UNLABELLED
    folder.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=folder))
    try:
        for file_name, data in planned.items():
            (staging / file_name).write_bytes(data)
        # Renames within one folder: the images appear whole, and a failed write above left
        # nothing in unlabelled/.
        return [(staging / n).rename(folder / n) for n in planned]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
