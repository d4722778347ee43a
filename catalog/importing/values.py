"""A feed's text turned into the typed value of one product attribute.

The attribute's type and closed set of values come from the vocabulary
(:func:`catalog.attributes.vocabulary`), so a new attribute column is importable at once.
Numbers may carry their unit and a German decimal comma ("0,36 kg", "56 cm", "400 lm");
a frame size may be a letter ("M") that the mapping's size table turns into centimetres.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from catalog.attributes import AttributeSpec
from catalog.importing.problems import did_you_mean

__all__ = ["BOOLEANS", "read_number", "read_value", "slug"]

#: Words a feed uses for yes and no, in English and German.
BOOLEANS: dict[str, bool] = {
    "true": True,
    "yes": True,
    "y": True,
    "1": True,
    "ja": True,
    "wahr": True,
    "x": True,
    "false": False,
    "no": False,
    "n": False,
    "0": False,
    "nein": False,
    "falsch": False,
}

_NUMBER = re.compile(r"^\s*(?:EU\s*)?(-?\d+(?:[.,]\d+)?)\s*([^\d\s].*)?$", re.IGNORECASE)
_LETTERS = ("XXS", "XS", "S", "M", "L", "XL", "XXL")


@lru_cache(maxsize=65536)  # feeds repeat their words (tags, sizes) on every row
def slug(text: str) -> str:
    """``"SPD-SL"`` -> ``"spd_sl"``: how closed values and category slugs are compared."""
    return "_".join(re.split(r"[\s\-/]+", text.strip().casefold())).strip("_")


def read_number(text: str) -> tuple[float, str] | None:
    """The number at the start of ``text`` and the unit after it, or None."""
    match = _NUMBER.match(text)
    if match is None:
        return None
    return float(match.group(1).replace(",", ".")), (match.group(2) or "").strip()


def _letter(text: str) -> str | None:
    word = text.strip().upper().removeprefix("GR.").removeprefix("GRÖSSE").strip()
    return word if word in _LETTERS else None


def read_value(
    spec: AttributeSpec, text: str, sizes: Mapping[str, int] | None = None
) -> int | float | str | bool:
    """Read ``text`` as a value of the attribute ``spec``.

    Args:
        spec: The attribute (type, closed values).
        text: The feed's value, not empty.
        sizes: Letter size -> frame size in cm, for ``frame_size_cm`` given as "M".

    Raises:
        ValueError: The text is no value of this attribute (the message says why).
    """
    value = text.strip()
    if spec.type == "bool":
        answer = BOOLEANS.get(value.casefold())
        if answer is None:
            raise ValueError(f"{spec.name} {value!r} is not yes or no")
        return answer
    if spec.type in ("int", "float"):
        letter = _letter(value) if spec.name == "frame_size_cm" else None
        if letter is not None:
            if sizes is None or letter not in sizes:
                raise ValueError(
                    f"frame size {value!r} is a letter size the mapping's sizes table "
                    "does not turn into centimetres"
                )
            return sizes[letter]
        number = read_number(value)
        if number is None:
            raise ValueError(f"{spec.name} {value!r} is not a number")
        amount, unit = number
        if spec.unit and unit and unit.casefold() not in (spec.unit.casefold(), "eu"):
            if not (spec.unit == "kg" and unit.casefold() == "g"):
                raise ValueError(f"{spec.name} {value!r} is not in {spec.unit}")
            amount /= 1000
        if spec.type == "int":
            if amount != int(amount):
                raise ValueError(f"{spec.name} {value!r} is not a whole number")
            return int(amount)
        return round(amount, 3)
    if spec.values is None:
        return value
    if spec.name == "size":
        letter = _letter(value)
        if letter in spec.values:
            return letter
    wanted = slug(value)
    for known in spec.values:
        if slug(known) == wanted:
            return known
    hint = did_you_mean(wanted, spec.values)
    raise ValueError(f"{spec.name} {value!r} is none of {', '.join(spec.values)}{hint}")
