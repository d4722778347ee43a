"""The mapping file: how a feed's fields become our products, readable by a merchandiser.

A mapping is YAML (``docs/catalog-import.md`` describes every key; the shipped ones are
``catalog/mappings/shopify.yml`` and ``merchant.yml``)::

    fields:                      # product field: the feed's column (or a list: first filled)
      sku: Variant SKU
      price: Variant Price
    category:
      from: [Type, Tags]         # tried in order; tags and "A > B > C" paths are split
      values: {Rennrad: road_bike, Road Bikes: road_bike}

Attributes:
      frame_size_cm: {from: [option:Rahmenhöhe, option:Size]}    # "56 cm" or "M" via sizes
      cleat_system: {from: [Tags], values: {SPD: spd, SPD-SL: spd_sl, Keo: look_keo}}
    sizes:                       # letter size -> frame size in cm, per category
      mountain_bike: {S: 40, M: 44, L: 48}
    relations:
      from: [Tags]
      prefixes: {accessory-of: accessory_of, fits: compatible_with}
      file: relations.csv

Everything is checked when the file is loaded: an unknown key, attribute or value is a
:class:`~catalog.importing.problems.MappingError` with the file, the line and the closest
correct spelling, before any row is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from catalog.attributes import AttributeSpec, vocabulary
from catalog.importing.problems import MappingError, did_you_mean
from catalog.importing.values import read_value, slug
from catalog.models import RelationKind

__all__ = ["FIELDS", "AttributeRule", "CategoryRule", "Mapping", "RelationRule", "load_mapping"]

#: Product fields a mapping may fill from a feed column, and what each means.
FIELDS: dict[str, str] = {
    "sku": "the variant's unique SKU (required)",
    "group_sku": "the model the variant belongs to (default: the SKU)",
    "name": "product name (required)",
    "brand": "brand or vendor",
    "price": "price with or without currency (required)",
    "currency": "currency code when the price carries none",
    "stock": "units in stock",
    "availability": "in_stock, out_of_stock, preorder or backorder",
    "description": "description, HTML allowed (tags are removed)",
    "margin_pct": "gross margin in percent",
    "cost": "purchase cost: the margin is computed from it and the price",
    "extra": "a JSON object of product-page details, kept as it is",
}

_TOP = {
    "format",
    "currency",
    "in_stock_units",
    "fields",
    "skip",
    "category",
    "attributes",
    "sizes",
    "extra",
    "relations",
}


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """Where the category comes from and how feed words map to our slugs."""

    sources: tuple[str, ...]
    values: dict[str, str] | None  # slug(feed word) -> category slug; None: the slug itself
    default: str | None = None


@dataclass(frozen=True, slots=True)
class AttributeRule:
    """One typed attribute: its feed fields, an optional word table, a default."""

    spec: AttributeSpec
    sources: tuple[str, ...]
    values: dict[str, Any] | None = None  # slug(feed word) -> typed value
    default: Any = None
    categories: frozenset[str] | None = None  # None: every category


@dataclass(frozen=True, slots=True)
class RelationRule:
    """Relations from tags ("accessory-of:HANDLE") and from a relations file."""

    sources: tuple[str, ...] = ()
    prefixes: dict[str, RelationKind] = field(default_factory=dict)
    file: Path | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    """A loaded, checked mapping file."""

    path: Path
    format: str
    currency: str
    in_stock_units: int
    fields: dict[str, tuple[str, ...]]
    skip: dict[str, frozenset[str]]
    category: CategoryRule
    attributes: dict[str, AttributeRule]
    sizes: dict[str, dict[str, int]]
    extra: dict[str, tuple[str, ...]]
    relations: RelationRule

    def sizes_for(self, category: str) -> dict[str, int] | None:
        """The letter-size table of ``category`` (or the catch-all ``default`` one)."""
        return self.sizes.get(category) or self.sizes.get("default")


class _Lines:
    """Line numbers of a YAML document's keys, by path, for messages."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        try:
            node = yaml.compose(text)
        except yaml.YAMLError:
            node = None
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                self._lines[here] = key.start_mark.line + 1
                self._walk(value, here)

    def __call__(self, *path: str) -> int:
        while path and path not in self._lines:
            path = path[:-1]
        return self._lines.get(path, 1)


class _Reader:
    """Builds a :class:`Mapping` from the parsed YAML, raising with file and line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.name = str(path)
        self.line = _Lines(text)

    def fail(self, message: str, *at: str) -> MappingError:
        return MappingError(self.name, self.line(*at), message)

    def sources(self, value: Any, *at: str) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(i, str | int) and str(i).strip() for i in items):
            raise self.fail("expected a feed field name or a list of them", *at)
        return tuple(str(i).strip() for i in items)

    def table(self, value: Any, *at: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail("expected a table of feed word: our value", *at)
        return value

    def category(self, value: Any) -> CategoryRule:
        rule = self.table(value, "category")
        unknown = set(rule) - {"from", "values", "default"}
        if unknown:
            word = sorted(unknown)[0]
            hint = did_you_mean(word, ["from", "values", "default"])
            raise self.fail(f"unknown key {word!r} in category{hint}", "category", word)
        if "from" not in rule:
            raise self.fail("category needs `from:` (the feed fields to read)", "category")
        values = None
        if rule.get("values") is not None:
            table = self.table(rule["values"], "category", "values")
            values = {}
            for word, target in table.items():
                if not isinstance(target, str) or slug(target) != target:
                    raise self.fail(
                        f"category {target!r} is not a category slug (like road_bike)",
                        "category",
                        "values",
                        str(word),
                    )
                values[slug(str(word))] = target
        default = rule.get("default")
        if default is not None and slug(str(default)) != str(default):
            message = f"category default {default!r} is not a category slug (like road_bike)"
            raise self.fail(message, "category", "default")
        return CategoryRule(
            self.sources(rule["from"], "category", "from"),
            values,
            str(default) if default is not None else None,
        )

    def attribute(self, name: str, value: Any) -> AttributeRule:
        specs = vocabulary()
        spec = specs.get(name)
        if spec is None or spec.core:
            hint = did_you_mean(name, [s for s in specs if not specs[s].core])
            raise self.fail(f"unknown attribute {name!r}{hint}", "attributes", name)
        rule = value if isinstance(value, dict) else {"from": value}
        allowed = ["from", "values", "default", "categories"]
        for key in rule:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                raise self.fail(
                    f"unknown key {key!r} in attribute {name}{hint}", "attributes", name, key
                )
        if "from" not in rule:
            raise self.fail(f"attribute {name} needs `from:`", "attributes", name)
        values: dict[str, Any] | None = None
        if rule.get("values") is not None:
            values = {}
            for word, target in self.table(rule["values"], "attributes", name, "values").items():
                values[slug(str(word))] = self.typed(
                    spec, target, "attributes", name, "values", str(word)
                )
        default = rule.get("default")
        if default is not None:
            default = self.typed(spec, default, "attributes", name, "default")
        categories = rule.get("categories")
        return AttributeRule(
            spec,
            self.sources(rule["from"], "attributes", name, "from"),
            values,
            default,
            frozenset(self.sources(categories, "attributes", name)) if categories else None,
        )

    def typed(self, spec: AttributeSpec, value: Any, *at: str) -> Any:
        try:
            return read_value(spec, str(value).lower() if isinstance(value, bool) else str(value))
        except ValueError as error:
            raise self.fail(str(error), *at) from error

    def relations(self, value: Any) -> RelationRule:
        if value is None:
            return RelationRule()
        rule = self.table(value, "relations")
        prefixes: dict[str, RelationKind] = {}
        kinds = [k.value for k in RelationKind]
        for prefix, kind in self.table(rule.get("prefixes", {}), "relations").items():
            if kind not in kinds:
                hint = did_you_mean(str(kind), kinds)
                raise self.fail(
                    f"relation kind {kind!r} is none of {', '.join(kinds)}{hint}",
                    "relations",
                    "prefixes",
                    str(prefix),
                )
            prefixes[str(prefix).casefold()] = RelationKind(kind)
        file = rule.get("file")
        relations_file = (self.path.parent / str(file)) if file else None
        if relations_file is not None and not relations_file.is_file():
            raise self.fail(f"relations file {relations_file} does not exist", "relations", "file")
        sources = self.sources(rule["from"], "relations", "from") if "from" in rule else ()
        return RelationRule(sources, prefixes, relations_file)

    def sizes(self, value: Any) -> dict[str, dict[str, int]]:
        tables: dict[str, dict[str, int]] = {}
        for category, table in self.table(value or {}, "sizes").items():
            rows = self.table(table, "sizes", str(category))
            try:
                tables[str(category)] = {str(k).upper(): int(v) for k, v in rows.items()}
            except (TypeError, ValueError) as error:
                raise self.fail(
                    "sizes map a letter to centimetres (M: 54)", "sizes", str(category)
                ) from error
        return tables

    def mapping(self, data: Any) -> Mapping:
        if not isinstance(data, dict):
            raise self.fail("a mapping file is a YAML table (fields:, category:, …)")
        for key in data:
            if key not in _TOP:
                raise self.fail(f"unknown key {key!r}{did_you_mean(str(key), _TOP)}", str(key))
        fields: dict[str, tuple[str, ...]] = {}
        for name, value in self.table(data.get("fields", {}), "fields").items():
            if name not in FIELDS:
                raise self.fail(
                    f"unknown product field {name!r}{did_you_mean(str(name), FIELDS)}",
                    "fields",
                    str(name),
                )
            fields[str(name)] = self.sources(value, "fields", str(name))
        for required in ("sku", "name", "price"):
            if required not in fields:
                raise self.fail(f"fields needs {required!r}: {FIELDS[required]}", "fields")
        if "category" not in data:
            raise self.fail("the mapping needs `category:` (from which fields, which values)")
        skip = {
            str(name): frozenset(slug(str(v)) for v in self.sources(values, "skip", str(name)))
            for name, values in self.table(data.get("skip") or {}, "skip").items()
        }
        extra = {
            str(key): self.sources(value, "extra", str(key))
            for key, value in self.table(data.get("extra") or {}, "extra").items()
        }
        attributes = {
            str(name): self.attribute(str(name), value)
            for name, value in self.table(data.get("attributes") or {}, "attributes").items()
        }
        units = data.get("in_stock_units", 1)
        if not isinstance(units, int) or units < 0:
            raise self.fail(
                "in_stock_units is a whole number of units (default 1)", "in_stock_units"
            )
        return Mapping(
            path=self.path,
            format=str(data.get("format", "csv")),
            currency=str(data.get("currency", "EUR")).upper(),
            in_stock_units=units,
            fields=fields,
            skip=skip,
            category=self.category(data["category"]),
            attributes=attributes,
            sizes=self.sizes(data.get("sizes")),
            extra=extra,
            relations=self.relations(data.get("relations")),
        )


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file.

    Raises:
        MappingError: The file is missing, not YAML, or names an unknown key, field,
            attribute or value (with its line and the closest correct spelling).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise MappingError(str(path), 1, f"cannot read the mapping: {error.strerror}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise MappingError(str(path), line, f"not valid YAML: {error}") from error
    return _Reader(path, text).mapping(data)
