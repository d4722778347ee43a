"""Shopify's product CSV: one row per variant, grouped by ``Handle``.

The first row of a product carries its fields (Title, Body (HTML), Vendor, Type, Tags,
Option1..3 Name …); the rows after it carry only the Handle and the variant's fields
(Option values, Variant SKU, Variant Price, Variant Inventory Qty …). Here every variant
row becomes a complete record: it inherits the product's fields, and each option
appears under ``option:<its name>`` ("option:Rahmenhöhe": "56 cm"), which is what a
mapping names. Rows holding only another image of the product are not variants and
are passed over.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from catalog.importing.records import Progress, Record, read_delimited

__all__ = ["read_shopify"]

#: Columns that belong to one variant, never inherited from the product's first row.
_VARIANT_PREFIXES = ("Variant ", "Image ", "Option1 Value", "Option2 Value", "Option3 Value")
_VARIANT_COLUMNS = {"Cost per item", "Compare At Price"}
#: What Shopify writes for a product without options.
_NO_OPTION = {"title", "default title"}


def _variant_field(name: str) -> bool:
    return name.startswith(_VARIANT_PREFIXES) or name in _VARIANT_COLUMNS


def _is_image_row(record: Record) -> bool:
    return not any(record.get(name) for name in ("Variant SKU", "Variant Price", "Option1 Value"))


def read_shopify(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """The variants of a Shopify product CSV as complete records.

    Raises:
        FeedError: The file cannot be read (see :func:`read_delimited`).
    """
    product: dict[str, str] = {}
    handle = None
    for record in read_delimited(path, progress):
        current = record.get("Handle")
        if current != handle:
            handle = current
            product = {k: v for k, v in record.fields.items() if not _variant_field(k)}
        elif _is_image_row(record):
            continue
        fields = dict(record.fields)
        for name, value in product.items():
            if not fields.get(name, "").strip():
                fields[name] = value
        labels = []
        for i in (1, 2, 3):
            option = fields.get(f"Option{i} Name", "").strip()
            value = fields.get(f"Option{i} Value", "").strip()
            if option and value and option.casefold() not in _NO_OPTION:
                fields[f"option:{option}"] = value
                labels.append(value)
            elif value and value.casefold() not in _NO_OPTION:
                labels.append(value)
        if labels:
            fields["option:label"] = " / ".join(labels)
        yield Record(record.line, fields)
