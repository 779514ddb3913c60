"""Atomic writes and tolerant reads for the JSON state that pages and CLI share."""

import json
import os
import tempfile
from pathlib import Path

from segcore.errors import WorkspaceError


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
    """Reads a JSON file; returns `default` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def append_jsonl(path, record):
    """Appends one JSON record as a line and flushes it to disk."""
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise WorkspaceError(f"Cannot write {path}: {error.strerror or error}.") from None


def read_jsonl(path):
    """Reads a JSON-lines file, skipping a torn or corrupt line instead of failing."""
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        return []
    return records
