"""Numeric ranges of options, as data: the CLI, the app and config.json are checked against them."""

import math
from dataclasses import dataclass

from segcore.errors import ConfigError


def is_finite_number(value):
    """True for an int or float that is a finite float: never a bool (JSON's `true`), NaN, an
    infinity (Python's JSON reads both), or an integer too large for a float (JSON allows any
    number of digits, and `math.isfinite` raises on one).

    Every reader of numbers from JSON (a run folder, the speed cache, a COCO file) checks with
    this before doing arithmetic.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def is_whole_number(value, minimum=0):
    """True for an int (never a bool) of at least `minimum` that a float can hold."""
    return is_finite_number(value) and isinstance(value, int) and value >= minimum


@dataclass(frozen=True)
class NumericRange:
    """The values a numeric option may take.

    Attributes:
        low, high: the bounds.
        integer: whether the option is an integer (integer-valued floats such as JSON's 3.0 pass).
        open_low, open_high: whether a bound itself is excluded.
    """

    low: float
    high: float
    integer: bool = False
    open_low: bool = False
    open_high: bool = False

    def __str__(self):
        if self.integer:
            return f"{self.low}..{self.high}"
        left = "(" if self.open_low else "["
        right = ")" if self.open_high else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"

    def check(self, value, flag):
        """Returns `value` as int or float if it is a finite number in the range.

        NaN and infinity are refused: they would train to a NaN loss, or fail only after the
        first epoch. Booleans and strings are refused (JSON from the app or a run folder).

        Raises:
            ConfigError: one sentence naming the flag, the value and the range.
        """
        kind = "an integer" if self.integer else "a finite number"
        problem = ConfigError(f"{flag} {value!r} must be {kind} in {self}.")
        if not is_finite_number(value):
            raise problem
        if self.integer:
            if not float(value).is_integer():
                raise problem
            value = int(value)
        else:
            value = float(value)
        too_low = value <= self.low if self.open_low else value < self.low
        too_high = value >= self.high if self.open_high else value > self.high
        if too_low or too_high:
            raise problem
        return value
