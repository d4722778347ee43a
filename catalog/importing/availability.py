"""Availability words to units in stock.

Google's values (``in_stock``, ``out_of_stock``, ``preorder``, ``backorder``) and their
spellings with spaces, plus the German words shops use. An offer shows ``in_stock``
when a unit can ship now, so preorder and backorder count as no stock; the word itself
is kept on the product (``extra.availability``) for the product page.
"""

from __future__ import annotations

__all__ = ["AVAILABILITY", "stock_for"]

#: Normalised word -> the availability it means.
AVAILABILITY: dict[str, str] = {
    "in_stock": "in_stock",
    "instock": "in_stock",
    "available": "in_stock",
    "auf_lager": "in_stock",
    "lieferbar": "in_stock",
    "verfügbar": "in_stock",
    "out_of_stock": "out_of_stock",
    "outofstock": "out_of_stock",
    "sold_out": "out_of_stock",
    "ausverkauft": "out_of_stock",
    "nicht_lieferbar": "out_of_stock",
    "nicht_verfügbar": "out_of_stock",
    "preorder": "preorder",
    "pre_order": "preorder",
    "vorbestellung": "preorder",
    "backorder": "backorder",
    "back_order": "backorder",
    "nachbestellt": "backorder",
}


def stock_for(word: str, quantity: int | None, in_stock_units: int) -> tuple[int, str]:
    """Units that can ship now, and the availability word in Google's spelling.

    Args:
        word: The feed's availability ("in stock", "out_of_stock", "lieferbar" …), or "".
        quantity: Units the feed states, if any (Shopify's inventory); wins when given.
        in_stock_units: Units assumed for "in stock" without a quantity (Merchant feeds).

    Raises:
        ValueError: ``word`` is not an availability.
    """
    key = "_".join(word.strip().casefold().replace("-", " ").split())
    if not key:
        units = max(quantity, 0) if quantity is not None else in_stock_units
        return units, "in_stock" if units > 0 else "out_of_stock"
    meaning = AVAILABILITY.get(key) or AVAILABILITY.get(key.removeprefix("https://schema.org/"))
    if meaning is None:
        known = "in_stock, out_of_stock, preorder, backorder"
        raise ValueError(f"availability {word.strip()!r} is none of {known}")
    if meaning != "in_stock":
        return 0, meaning
    units = max(quantity, 0) if quantity is not None else in_stock_units
    return units, meaning
