"""How the app draws an option, as data on the option's dataclass field (no Streamlit here)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Widget:
    """One Train-page widget, described next to the option it sets.

    The field keeps its validation `range`; a widget offers the part of it that is sensible to
    pick with a mouse (a slider of 1..200 epochs, where the CLI takes up to 100 000).

    Attributes:
        label: the text beside the widget.
        group: where it sits: "model", "optimization", "data" or "advanced".
        kind: "slider" (low..high by step), "steps" (a slider over `steps`), "select" (the
            field's choices), "checkbox", "number" (typed, low..high), "size" (height and
            width over `steps` that suit the model's stride) or "crop" (off, or a square size
            from `steps` below the image size) or "classes" (any of the dataset's class names).
        low, high, step: bounds and step of sliders and numbers.
        steps: the values of "steps", "size" and "crop".
        help: the tooltip, when it should say more than the field's help.
    """

    label: str
    group: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    steps: tuple = ()
    help: str | None = None
