"""One feed record through a mapping: a product row for the staging table, or a reason.

A row is a plain dict of :class:`~catalog.models.Product` columns (no ``id``), so the
staging table takes thousands of them in one statement. Whatever cannot be mapped
(no SKU, a price that is not one, a category the mapping does not know, an attribute
value outside its closed set) raises :class:`RowError` with a sentence for the
merchandiser; the caller turns it into ``file:line: reason`` and goes on.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from typing import Any

from catalog.importing.availability import stock_for
from catalog.importing.mapping import AttributeRule, Mapping
from catalog.importing.prices import PriceError, parse_price
from catalog.importing.problems import did_you_mean
from catalog.importing.records import Record
from catalog.importing.values import read_number, read_value, slug

__all__ = ["RowError", "candidates", "map_record", "plain_text"]

_TAG = re.compile(r"<[^>]*>")
_BLOCK = re.compile(r"</?(?:p|div|br|li|ul|ol|h\d|tr|table)\b[^>]*>", re.IGNORECASE)
#: Column widths of the product table (a longer SKU cannot be stored).
_SKU_MAX, _NAME_MAX, _BRAND_MAX, _TEXT_MAX = 64, 200, 80, 1000


class RowError(ValueError):
    """A record that cannot become a product; the message is the reason shown."""


@lru_cache(maxsize=4096)  # a product's text is on each of its variant rows
def plain_text(value: str, limit: int = _TEXT_MAX) -> str:
    """HTML (Shopify's ``Body (HTML)``) as one line of text, cut at a word if too long."""
    text = _TAG.sub("", _BLOCK.sub(" ", value)) if "<" in value else value
    text = " ".join(html.unescape(text).split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@lru_cache(maxsize=65536)
def candidates(value: str) -> tuple[str, ...]:
    """The words a table lookup tries: the whole value, its tags, its path from the leaf.

    ``"Bikes > Road Bikes"`` tries ``Road Bikes`` before ``Bikes``; ``"spd, Beginner"``
    tries each tag.
    """
    words = [value]
    if "," in value:
        words += [w.strip() for w in value.split(",")]
    if ">" in value:
        words += [w.strip() for w in reversed(value.split(">"))]
    return tuple(w for w in words if w)


def _first(record: Record, sources: tuple[str, ...]) -> tuple[str, str]:
    """The first filled field among ``sources``: (field name, value), or ("", "")."""
    for name in sources:
        value = record.get(name)
        if value:
            return name, value
    return "", ""


def _field(record: Record, mapping: Mapping, name: str) -> tuple[str, str]:
    return _first(record, mapping.fields.get(name, ()))


def _category(record: Record, mapping: Mapping) -> str:
    rule = mapping.category
    seen: list[str] = []
    for source in rule.sources:
        value = record.get(source)
        if not value:
            continue
        if rule.values is None:
            if slug(value) == value:
                return value
            seen.append(f"{source} {value!r}")
            continue
        for word in candidates(value):
            found = rule.values.get(slug(word))
            if found is not None:
                return found
        seen.append(f"{source} {value!r}")
    if rule.default is not None:
        return rule.default
    if not seen:
        raise RowError(f"no category: {' and '.join(rule.sources)} empty")
    raise RowError(
        f"no category for {' / '.join(seen)}: add it under category.values in {mapping.path.name}"
    )


def _attribute(record: Record, mapping: Mapping, rule: AttributeRule, category: str) -> Any:
    if rule.categories is not None and category not in rule.categories:
        return None
    for source in rule.sources:
        value = record.get(source)
        if not value:
            continue
        if rule.values is not None:
            for word in candidates(value):
                found = rule.values.get(slug(word))
                if found is not None:
                    return found
            continue  # a tag list without a known word says nothing about it
        try:
            return read_value(rule.spec, value, mapping.sizes_for(category))
        except ValueError as error:
            raise RowError(f"{error} (field {source!r})") from error
    return rule.default


def _price(record: Record, mapping: Mapping) -> tuple[float, str]:
    source, text = _field(record, mapping, "price")
    _, currency = _field(record, mapping, "currency")
    try:
        return parse_price(text, (currency or mapping.currency).upper())
    except PriceError as error:
        names = " / ".join(mapping.fields["price"])
        where = f" (field {source!r})" if source else f" (field {names!r} empty)"
        raise RowError(f"{error}{where}") from error


def _stock(record: Record, mapping: Mapping) -> tuple[int, str]:
    source, quantity_text = _field(record, mapping, "stock")
    quantity: int | None = None
    if quantity_text:
        number = read_number(quantity_text)
        if number is None or number[0] != int(number[0]):
            raise RowError(f"stock {quantity_text!r} is not a whole number (field {source!r})")
        quantity = int(number[0])
    _, word = _field(record, mapping, "availability")
    try:
        return stock_for(word, quantity, mapping.in_stock_units)
    except ValueError as error:
        raise RowError(str(error)) from error


def _extra(record: Record, mapping: Mapping) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    source, text = _field(record, mapping, "extra")
    if text:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise RowError(f"field {source!r} is not a JSON object: {error.msg}") from error
        if not isinstance(loaded, dict):
            raise RowError(f"field {source!r} is not a JSON object")
        extra.update(loaded)
    for key, sources in mapping.extra.items():
        _, value = _first(record, sources)
        if value:
            extra[key] = value
    return extra


def skipped(record: Record, mapping: Mapping) -> bool:
    """Whether the mapping's ``skip`` leaves this record out on purpose (drafts …)."""
    return any(slug(record.get(name)) in words for name, words in mapping.skip.items())


def map_record(record: Record, mapping: Mapping) -> dict[str, Any]:
    """The product row for ``record``.

    Raises:
        RowError: The record cannot be mapped; the message says why.
    """
    if record.fields.get("#extra"):
        raise RowError("more fields than the header has columns (a quote left open?)")
    sku_source, sku = _field(record, mapping, "sku")
    if not sku:
        raise RowError(f"no SKU ({' / '.join(mapping.fields['sku'])} empty)")
    if len(sku) > _SKU_MAX:
        raise RowError(f"SKU {sku[:20]!r}… is longer than {_SKU_MAX} characters")
    _, name = _field(record, mapping, "name")
    if not name:
        raise RowError(f"no name ({' / '.join(mapping.fields['name'])} empty)")
    price, currency = _price(record, mapping)
    category = _category(record, mapping)
    stock, availability = _stock(record, mapping)
    _, group = _field(record, mapping, "group_sku")
    _, brand = _field(record, mapping, "brand")
    _, description = _field(record, mapping, "description")
    row: dict[str, Any] = {
        "sku": sku,
        "group_sku": (group or sku)[:_SKU_MAX],
        "name": plain_text(name, _NAME_MAX),
        "brand": plain_text(brand, _BRAND_MAX),
        "category": category,
        "price": price,
        "currency": currency,
        "stock": stock,
        "margin_pct": _margin(record, mapping, price),
        "description": plain_text(description),
        "available": True,
    }
    for attribute, rule in mapping.attributes.items():
        row[attribute] = _attribute(record, mapping, rule, category)
    extra = _extra(record, mapping)
    if availability in ("preorder", "backorder"):
        extra["availability"] = availability
    row["extra"] = extra
    return row


def _margin(record: Record, mapping: Mapping, price: float) -> float:
    source, text = _field(record, mapping, "margin_pct")
    if text:
        number = read_number(text)
        if number is None:
            raise RowError(f"margin {text!r} is not a number (field {source!r})")
        return number[0]
    source, text = _field(record, mapping, "cost")
    if text and price > 0:
        try:
            cost, _ = parse_price(text, mapping.currency)
        except PriceError as error:
            raise RowError(f"cost: {error} (field {source!r})") from error
        return round((price - cost) / price * 100, 1)
    return 25.0


def unknown_fields(header: list[str], mapping: Mapping) -> list[str]:
    """Mapping sources the feed's header lacks, with a suggestion each (for a warning)."""
    named = {s for sources in mapping.fields.values() for s in sources}
    named |= set(mapping.category.sources)
    named |= {s for rule in mapping.attributes.values() for s in rule.sources}
    missing = sorted(s for s in named if s not in header and not s.startswith("option:"))
    return [f"{s!r}{did_you_mean(s, header)}" for s in missing]
