"""Atomic writes and tolerant reads for the JSON state that pages and CLI share, and the
synced writes, links and renames that checkpoint commits are built from."""

import json
import os
import shutil
import tempfile
from pathlib import Path

from segcore.errors import RunError, WorkspaceError


def write_text_atomic(path, text):
    """Writes `text` to `path` through a temp file and rename, so readers never see half a file."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        if "tmp" in locals() and os.path.exists(tmp):
            os.unlink(tmp)
        raise WorkspaceError(f"Cannot write {path}: {error.strerror or error}.") from None


def write_json_atomic(path, data):
    """Writes `data` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_json(path, default=None):
    """Reads a JSON file; returns `default` when it is missing or unreadable.

    The result may be any JSON value: callers that need an object check its type, or use
    `read_json_object`.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return default


def read_json_object(path, error=RunError, fix="restore it from a copy or delete the run"):
    """Reads a file that must hold a JSON object.

    Args:
        path: the file.
        error: the `SegcoreError` class to raise.
        fix: the end of the message: what the user can do about it.

    Returns:
        The dict.

    Raises:
        error: one sentence naming the file: missing, unreadable, not JSON, or not an object.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path} is missing; {fix}.") from None
    except UnicodeDecodeError:
        raise error(f"{path} is not text (damaged); {fix}.") from None
    except OSError as problem:
        raise error(f"{path} cannot be read ({problem.strerror or problem}); {fix}.") from None
    try:
        data = json.loads(text)
    except ValueError as problem:
        raise error(f"{path} is not valid JSON ({problem}); {fix}.") from None
    except RecursionError:
        raise error(f"{path} is nested too deeply to be a real file (damaged); {fix}.") from None
    if not isinstance(data, dict):
        raise error(f"{path} holds {type(data).__name__} instead of a JSON object; {fix}.")
    return data


def append_jsonl(path, record):
    """Appends one JSON record as a line and flushes it to disk.

    After a torn last line (a kill mid-write) the record starts on a line of its own, so the
    torn line does not swallow it.
    """
    try:
        with open(path, "ab+") as handle:
            handle.seek(0, os.SEEK_END)
            torn = handle.tell() > 0 and os.pread(handle.fileno(), 1, handle.tell() - 1) != b"\n"
            line = ("\n" if torn else "") + json.dumps(record) + "\n"
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise WorkspaceError(f"Cannot write {path}: {error.strerror or error}.") from None


def read_jsonl(path):
    """Reads a JSON-lines file, skipping a torn or corrupt line instead of failing."""
    records = []
    try:
        # Damaged bytes become U+FFFD, so only their line fails to parse and is skipped.
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except (ValueError, RecursionError):
                    continue
    except OSError:
        return []
    return records


def fsync_dir(folder):
    """Flushes a folder's entries (a rename or link made there) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path, writer):
    """Opens `path` for binary writing, lets `writer(handle)` fill it, and flushes it to disk."""
    with open(path, "wb") as handle:
        writer(handle)
        handle.flush()
        os.fsync(handle.fileno())


def link_or_copy(source, target):
    """Hard-links `source` to `target` (a copy where the filesystem has no hard links)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def switch_link(link, target):
    """Points the symlink `link` at `target` in one rename (replacing a file or an old link)."""
    tmp = link.with_name(f".{link.name}.tmp")
    if os.path.lexists(tmp):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
