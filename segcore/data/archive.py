"""Safe zip import: nothing escapes the target, bombs are stopped, failures leave nothing."""

import io
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from segcore.data.formats import IMAGE_EXTENSIONS
from segcore.errors import DataError

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 2 * 1024**3
MAX_RATIO = 200
_CHUNK = 1 << 20


def _open_zip(source, label):
    try:
        data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        if isinstance(source, (bytes, bytearray)) and not source:
            raise DataError(f"{label}: the upload is empty (0 bytes).")
        return zipfile.ZipFile(data)
    except zipfile.BadZipFile:
        raise DataError(f"{label}: not a valid zip file.") from None
    except FileNotFoundError:
        raise DataError(f"{label}: file not found.") from None


def _safe_member_path(info, label):
    """Returns the member's relative path, refusing anything that could leave the target."""
    name = info.filename.replace("\\", "/")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DataError(f"{label}: entry {info.filename!r} is a symbolic link; links are not allowed.")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or path.is_absolute():
        raise DataError(f"{label}: entry {info.filename!r} has an absolute path.")
    if any(part == ".." for part in path.parts):
        raise DataError(f"{label}: entry {info.filename!r} points outside the archive ('..').")
    return path


def check_zip(source, label, max_entries=MAX_ENTRIES, max_total_bytes=MAX_TOTAL_BYTES,
              max_ratio=MAX_RATIO):
    """Validates a zip's directory without extracting; returns (zipfile, [(info, path)])."""
    archive = _open_zip(source, label)
    infos = archive.infolist()
    if len(infos) > max_entries:
        raise DataError(f"{label}: {len(infos):,} entries, over the limit of {max_entries:,}.")
    members, total = [], 0
    for info in infos:
        path = _safe_member_path(info, label)
        if info.is_dir() or path.name.startswith(".") or "__MACOSX" in path.parts:
            continue
        if path.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar"):
            raise DataError(f"{label}: entry {info.filename!r} is a nested archive; unpack it first.")
        total += info.file_size
        if total > max_total_bytes:
            raise DataError(
                f"{label}: unpacks to more than {max_total_bytes / 1024**3:.1f} GiB; too large."
            )
        if info.file_size > max(1, info.compress_size) * max_ratio and info.file_size > _CHUNK:
            raise DataError(
                f"{label}: entry {info.filename!r} compresses {info.file_size // max(1, info.compress_size)}:1, "
                "a likely zip bomb."
            )
        members.append((info, path))
    if not members:
        raise DataError(f"{label}: the zip holds no files.")
    return archive, members


def extract_zip(source, dest, label=None, max_entries=MAX_ENTRIES,
                max_total_bytes=MAX_TOTAL_BYTES, max_ratio=MAX_RATIO):
    """Extracts a zip into the new folder `dest`, all or nothing.

    Sizes are counted while streaming, so a header that lies about sizes cannot bomb the disk.

    Args:
        source: a path or the zip's bytes.
        dest: a folder that must not exist yet; its parent must.
        label: the name used in messages.

    Returns:
        `dest` as a Path.

    Raises:
        DataError: unsafe entries, too many entries, too much data, a bomb, a nested archive.
    """
    dest = Path(dest)
    label = label or (str(source) if not isinstance(source, (bytes, bytearray)) else "upload.zip")
    if dest.exists():
        raise DataError(f"{dest.name}: a dataset of that name exists already; pick another name.")
    archive, members = check_zip(source, label, max_entries, max_total_bytes, max_ratio)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=dest.parent))
    try:
        written = 0
        for info, path in members:
            target = staging.joinpath(*path.parts)
            if staging.resolve() not in target.resolve().parents:
                raise DataError(f"{label}: entry {info.filename!r} points outside the archive.")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                writer = open(target, "xb")  # noqa: SIM115 (closed by the with below)
            except OSError as error:
                # A file and a folder of one name, or one name twice: no sane dataset.
                raise DataError(f"{label}: entry {info.filename!r} clashes with another entry "
                                f"({error.strerror}).") from None
            with archive.open(info) as reader, writer:
                while chunk := reader.read(_CHUNK):
                    written += len(chunk)
                    if written > max_total_bytes:
                        raise DataError(f"{label}: unpacks to more data than allowed; too large.")
                    writer.write(chunk)
        _normalize_layout(staging, label)
        staging.rename(dest)
    except zipfile.BadZipFile as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"{label}: the zip is corrupt ({error}).") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        archive.close()
    return dest


def _normalize_layout(folder, label):
    """Brings the extracted files to a dataset layout (images/ + masks/ or split folders, or a
    format that `segcore.data.readers` detects, such as a COCO or VOC export).

    Accepts a single top-level folder, and loose pairs `x.png` + `x_mask.png`.
    """
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not _is_dataset_folder(folder):
        inner = entries[0]
        for child in list(inner.iterdir()):
            child.rename(folder / child.name)
        inner.rmdir()
    if _is_dataset_folder(folder):
        return
    loose = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    masks = {p.stem[: -len("_mask")]: p for p in loose if p.stem.lower().endswith("_mask")}
    if not masks:
        raise DataError(
            f"{label}: no images/ and masks/ folders, no known export (COCO, CVAT, VOC, "
            "Cityscapes), and no loose pairs like a.png + a_mask.png."
        )
    (folder / "images").mkdir()
    (folder / "masks").mkdir()
    for path in loose:
        if path.stem.lower().endswith("_mask"):
            path.rename(folder / "masks" / (path.stem[: -len("_mask")] + path.suffix))
        else:
            path.rename(folder / "images" / path.name)


def _is_dataset_folder(folder):
    from segcore.data.readers import is_known_layout

    return is_known_layout(folder)
