"""The app user's place in a workspace: the last dataset, run and Train settings (and which
of those settings the user changed by hand, which "Suggest settings" keeps).

The URL keeps the place of one tab; this file keeps it for the workspace, so a new tab or a
bare address opens where the user left off. It lives in `<workspace>/place.json`.
"""

from pathlib import Path

from segcore.fileio import read_json, write_json_atomic

PLACE_FILE = "place.json"
_KINDS = {"dataset": str, "run": str, "train_settings": dict, "train_touched": list}


def read_place(root):
    """The kept place: {"dataset", "run", "train_settings", "train_touched"}, each only when
    present and of its type; a missing or damaged file is an empty place (the app starts
    from its defaults).

    Callers still check the names (the dataset or run may be gone), the settings
    (`segcore.training.settings.restore`) and the touched widget keys.
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


def follow_place(root, key, old, new=None):
    """After `old` (a dataset or run) was renamed to `new`, or deleted (`new` None): the kept
    place follows it, or drops it so the app falls back to its defaults.

    Args:
        key: "dataset" or "run".

    Returns:
        The place as now kept.
    """
    place = read_place(root)
    if place.get(key) != old:
        return place
    if new is None:
        del place[key]
    else:
        place[key] = new
    write_json_atomic(Path(root) / PLACE_FILE, place)
    return place
