"""The app user's place in a workspace: the last dataset, run and Train settings.

The URL keeps the place of one tab; this file keeps it for the workspace, so a new tab or a
bare address opens where the user left off. It lives in `<workspace>/place.json`.
"""

from pathlib import Path

from segcore.fileio import read_json, write_json_atomic

PLACE_FILE = "place.json"
_KINDS = {"dataset": str, "run": str, "train_settings": dict}


def read_place(root):
    """The kept place: {"dataset", "run", "train_settings"}, each only when present and of its
    type; a missing or damaged file is an empty place (the app starts from its defaults).

    Callers still check the names (the dataset or run may be gone) and the settings
    (`segcore.training.settings.restore`).
    """
    data = read_json(Path(root) / PLACE_FILE, {})
    if not isinstance(data, dict):
        return {}
    return {key: value for key, value in data.items()
            if key in _KINDS and isinstance(value, _KINDS[key])}


def keep_place(root, **changes):
    """Merges `changes` into the place file, written atomically (a reader never sees half of
    it); two sessions writing at once: the later write wins.

    Returns:
        The place as now kept.

    Raises:
        WorkspaceError: the file cannot be written.
    """
    unknown = set(changes) - set(_KINDS)
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    place = read_place(root)
    if all(place.get(key) == value for key, value in changes.items()):
        return place  # unchanged: no write on every rerun
    place.update(changes)
    write_json_atomic(Path(root) / PLACE_FILE, place)
    return place
