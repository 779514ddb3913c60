"""Self-configuring training (`train --auto`, the Train page's "Suggest settings").

`fingerprint` measures a dataset and `speed` the machine; `choose_settings` is a pure
function of that fingerprint, a time budget, the cores and the measured training speed,
returning each setting with the reason it was chosen.
"""

from segcore.training.auto.choose import DEFAULT_MINUTES, choose_settings
from segcore.training.auto.fingerprint import Fingerprint, fingerprint, fingerprint_folder
from segcore.training.auto.plan import Choice, format_value

__all__ = ["DEFAULT_MINUTES", "Choice", "Fingerprint", "choose_settings", "fingerprint",
           "fingerprint_folder", "format_value", "record"]


def record(fp, choices, cores, speed=None):
    """What `config.json` keeps under `auto`: the fingerprint and each choice with its reason.

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
