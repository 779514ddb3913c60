"""Self-configuring training (`train --auto`, the Train page's "Suggest settings").

`fingerprint` measures a dataset and `speed` the machine; `choose_settings` is a pure
function of that fingerprint, a time budget, the cores and the measured training speed,
returning each setting with the reason it was chosen.
"""

from pathlib import Path

from segcore.errors import RunError
from segcore.fileio import read_json_object
from segcore.training.auto.choose import DEFAULT_MINUTES, choose_settings
from segcore.training.auto.fingerprint import Fingerprint, fingerprint, fingerprint_folder
from segcore.training.auto.plan import Choice, format_value

__all__ = ["AUTO_FILE", "DEFAULT_MINUTES", "Choice", "Fingerprint", "choose_settings",
           "fingerprint", "fingerprint_folder", "format_value", "read_record", "record"]

AUTO_FILE = "auto.json"  # in a run folder: what --auto or "Suggest settings" chose and why


def record(fp, choices, cores, speed=None):
    """What a run's `AUTO_FILE` keeps: the fingerprint and each choice with its reason.

    Args:
        fp: the `Fingerprint`.
        choices: `Choice`s from `choose_settings`.
        cores: the cores the choice assumed.
        speed: the `MachineSpeed` it used, if any: its rates are kept as "speed".

    Returns:
        A JSON-ready dict.
    """
    rates = dict(getattr(speed, "measured", {}) or {})
    return {"cores": cores, **({"speed": rates} if rates else {}), "fingerprint": fp.to_json(),
            "choices": [{"setting": c.path, "value": list(c.value) if isinstance(c.value, tuple)
                         else c.value, "reason": c.reason, "given": c.given} for c in choices]}


def read_record(run_dir):
    """A run's `AUTO_FILE`, checked: None when the run has none (it was not chosen for).

    Returns:
        The record: "choices" a list of {"setting": str, "value": JSON, "reason": str,
        "given": bool}; "source" and "changed_after" (a list of str) when present.

    Raises:
        RunError: one sentence naming the file when it is unreadable, not a JSON object, or
            its choices are not such a list.
    """
    path = Path(run_dir) / AUTO_FILE
    if not path.exists() and not path.is_symlink():
        return None
    fix = "its settings stand in config.json; delete the file to hide this"
    data = read_json_object(path, RunError, fix)
    choices, changed = data.get("choices"), data.get("changed_after", [])
    if not (isinstance(choices, list) and all(_sound_choice(c) for c in choices)):
        raise RunError(f"{path}: its choices are damaged (each needs a setting, a value and a "
                       f"reason); {fix}.")
    if not (isinstance(changed, list) and all(isinstance(n, str) for n in changed)
            and isinstance(data.get("source", ""), str)):
        raise RunError(f"{path}: its source or changed settings are damaged; {fix}.")
    return data


def _sound_choice(choice):
    return (isinstance(choice, dict) and isinstance(choice.get("setting"), str)
            and "value" in choice and isinstance(choice.get("reason"), str)
            and isinstance(choice.get("given", False), bool))
