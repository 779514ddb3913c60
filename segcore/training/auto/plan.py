"""What `choose_settings` returns: `Choice`s, one per setting with its reason, collected by a
`Plan` in which the settings a user gave win over what is chosen for them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    """One setting: where it sits in a RunConfig's JSON, its value, and why.

    Attributes:
        path: "model", "img_size", "hparams.depth", "augment.vflip", ...
        value: the value (sizes as (H, W) tuples, crops as (S, S) or None).
        reason: one line for people.
        given: the user gave it (kept as given; `reason` says so).
    """

    path: str
    value: object
    reason: str
    given: bool = False

    def line(self):
        """'img_size 176x240: reason' for the CLI and the page."""
        return f"{self.path} = {format_value(self.value)}: {self.reason}"


def format_value(value):
    """Sizes as HxW, numbers compactly, names joined by commas."""
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return ", ".join(value) or "none"
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, int) for v in value):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Plan:
    """Collects choices; a given setting wins over what is chosen for it."""

    def __init__(self, given):
        self.given = dict(given or {})
        self.choices = []

    def get(self, path, default=None):
        for choice in self.choices:
            if choice.path == path:
                return choice.value
        return self.given.get(path, default)

    def set(self, path, value, reason):
        if path in self.given:
            self.choices.append(Choice(path, self.given[path], "given", given=True))
        else:
            self.choices.append(Choice(path, value, reason))
        return self.get(path)
