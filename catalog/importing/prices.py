"""Prices as feeds write them: "1.299,00 EUR", "1299.00 EUR", "1299,00 €", "€ 49.90".

German and English notations are both read: when a price has both a dot and a comma, the
last one is the decimal mark; a single mark followed by one or two digits is decimal. A
single mark followed by exactly three digits ("1.299", "1,299") could be either, so it
is refused rather than guessed: a wrong guess would sell a bike at a thousandth of its
price.
"""

from __future__ import annotations

import re

__all__ = ["CURRENCY_SYMBOLS", "PriceError", "parse_price"]

#: Symbols a feed may write instead of an ISO 4217 code.
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "CHF": "CHF", "Fr.": "CHF"}

_AMOUNT = re.compile(r"^\d{1,3}(?:[.,\u00a0 ']\d{3})*(?:[.,]\d+)?$|^\d+(?:[.,]\d+)?$")
_CODE = re.compile(r"[A-Za-z]{3}")


class PriceError(ValueError):
    """A price that cannot be read; the message says what it looked like."""


def _amount(text: str) -> float:
    if not _AMOUNT.match(text):
        raise PriceError(f"price {text!r} is not a number")
    digits = text.replace("\u00a0", "").replace(" ", "").replace("'", "")
    dot, comma = digits.rfind("."), digits.rfind(",")
    if dot >= 0 and comma >= 0:
        decimal = "." if dot > comma else ","
        thousands = "," if decimal == "." else "."
        return float(digits.replace(thousands, "").replace(decimal, "."))
    mark = "." if dot >= 0 else "," if comma >= 0 else ""
    if not mark:
        return float(digits)
    head, _, tail = digits.rpartition(mark)
    if digits.count(mark) > 1:  # "1.299.000": thousands only
        return float(digits.replace(mark, ""))
    if len(tail) == 3:
        raise PriceError(
            f"price {text!r} is ambiguous: write {head}{tail},00 (or {head}{tail}.00) if it "
            "means thousands; two decimals say which mark is the decimal one"
        )
    return float(f"{head}.{tail}")


def parse_price(text: str, default_currency: str) -> tuple[float, str]:
    """Read a price and its currency.

    Args:
        text: The feed's value, e.g. ``"1.299,00 EUR"`` or ``"1299,00 €"``.
        default_currency: The currency when the value names none.

    Returns:
        The amount and its ISO 4217 code.

    Raises:
        PriceError: The value is empty, not a number, negative, or ambiguous.
    """
    rest = text.strip()
    if not rest:
        raise PriceError("no price")
    currency = default_currency
    for symbol, code in CURRENCY_SYMBOLS.items():
        if symbol in rest:
            rest, currency = rest.replace(symbol, " ").strip(), code
            break
    else:
        words = rest.split()
        for word in (words[-1], words[0]) if len(words) > 1 else ():
            if _CODE.fullmatch(word):
                currency = word.upper()
                rest = " ".join(w for w in words if w is not word).strip()
                break
    if rest.startswith("-"):
        raise PriceError(f"price {text.strip()!r} is negative")
    amount = _amount(rest)
    return round(amount, 2), currency
