"""The attribute vocabulary rules may filter on, read from the :class:`Product` columns.

Declared once in :mod:`catalog.models` with :func:`catalog.models.attribute`; the rule
validator, the engine and the rule editor all read this one list.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Literal

from catalog.models import Product

__all__ = ["AttributeSpec", "CORE_FIELDS", "vocabulary"]

AttributeType = Literal["int", "float", "str", "bool"]

#: Core product fields rules may also use (price, stock ...), with their types.
CORE_FIELDS: dict[str, tuple[AttributeType, str, str | None]] = {
    "price": ("float", "Price", "EUR"),
    "stock": ("int", "Stock", None),
    "margin_pct": ("float", "Margin", "%"),
    "brand": ("str", "Brand", None),
    "category": ("str", "Category", None),
}


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One filterable attribute: its column name, type, label, unit and closed values."""

    name: str
    type: AttributeType
    label: str
    unit: str | None = None
    values: tuple[str, ...] | None = None
    display: bool = True
    core: bool = False


def _python_type(annotation: object) -> AttributeType:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    base = next((a for a in args if a is not type(None)), annotation)
    # bool before int: bool is a subclass of int.
    for candidate, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
        if base is candidate:
            return typing.cast(AttributeType, name)
    raise TypeError(f"unsupported attribute annotation {annotation!r}")


@cache
def vocabulary() -> dict[str, AttributeSpec]:
    """Return every attribute rules may use, keyed by name."""
    specs: dict[str, AttributeSpec] = {}
    for name, (kind, label, unit) in CORE_FIELDS.items():
        specs[name] = AttributeSpec(name, kind, label, unit, display=False, core=True)
    for name, field in Product.model_fields.items():
        extra = field.json_schema_extra
        if not isinstance(extra, dict) or not extra.get("vocabulary"):
            continue
        values = extra.get("values")
        specs[name] = AttributeSpec(
            name=name,
            type=_python_type(field.annotation),
            label=str(extra["label"]),
            unit=typing.cast(str | None, extra.get("unit")),
            values=tuple(typing.cast(list[str], values)) if values else None,
            display=bool(extra.get("display", True)),
        )
    return specs
