"""Self-configuring training (`train --auto`, the Train page's "Suggest settings").

`fingerprint` measures a dataset; `choose_settings` is a pure function of that fingerprint,
a time budget and the cores, returning each setting with the reason it was chosen.
"""

from segcore.training.auto.choose import DEFAULT_MINUTES, Choice, choose_settings, format_value
from segcore.training.auto.fingerprint import Fingerprint, fingerprint, fingerprint_folder

__all__ = ["DEFAULT_MINUTES", "Choice", "Fingerprint", "choose_settings", "fingerprint",
           "fingerprint_folder", "format_value", "record"]


def record(fp, choices, cores):
    """What `config.json` keeps under `auto`: the fingerprint and each choice with its reason.

    Args:
        fp: the `Fingerprint`.
        choices: `Choice`s from `choose_settings`.
        cores: the cores the choice assumed.

    Returns:
        A JSON-ready dict.
    """
    return {"cores": cores, "fingerprint": fp.to_json(),
            "choices": [{"setting": c.path, "value": list(c.value) if isinstance(c.value, tuple)
                         else c.value, "reason": c.reason, "given": c.given} for c in choices]}
