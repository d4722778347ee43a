"""Catalogue tables: products (one row per sellable variant) and relations between them.

Filterable attributes are real typed, indexed columns so that rule filters compile to
plain SQL predicates the database can answer from an index. Each of them is declared
with :func:`attribute`, which marks the column as part of the rule vocabulary (see
:mod:`catalog.attributes`); everything else a product page shows lives in the free
``extra`` JSON column.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, true
from sqlmodel import Field, SQLModel

__all__ = ["Product", "ProductRelation", "RelationKind", "attribute"]


def attribute(
    label: str,
    *,
    unit: str | None = None,
    values: list[str] | None = None,
    display: bool = True,
) -> Any:
    """Declare a typed, indexed product attribute that rules may filter on.

    Args:
        label: Human label shown to merchandisers and shoppers.
        unit: Unit of a numeric attribute ("cm", "g", "Wh" ...).
        values: The closed set of values of a text attribute, if it has one.
        display: Whether offers show the attribute to the shopper.
    """
    extra: dict[str, Any] = {"vocabulary": True, "label": label, "display": display}
    if unit is not None:
        extra["unit"] = unit
    if values is not None:
        extra["values"] = values
    return Field(default=None, index=True, schema_extra={"json_schema_extra": extra})


class ProductBase(SQLModel):
    """Fields shared by the table model and the import/create models."""

    sku: str = Field(max_length=64)  # unique: the constraint below indexes it
    group_sku: str = Field(
        index=True, max_length=64, description="Model the variant belongs to (item_group_id)."
    )
    name: str = Field(max_length=200)
    brand: str = Field(index=True, max_length=80)
    category: str = Field(index=True, max_length=40)
    price: float = Field(ge=0)
    currency: str = Field(default="EUR", max_length=3)
    stock: int = Field(default=0, ge=0)
    margin_pct: float = Field(default=25.0, description="Gross margin in percent, for ranking.")
    description: str = Field(default="", max_length=1000)
    # False once the product left the shop's feed: an import never deletes a product an
    # offer, a share link or a relation may still name, it only stops offering it.
    available: bool = Field(default=True, sa_column_kwargs={"server_default": true()})

    # Vocabulary: the attributes rules may filter on. Add a column here and it becomes
    # available to the rule files, the checker and the editor at once.
    frame_size_cm: int | None = attribute("Frame size", unit="cm")
    geometry: str | None = attribute(
        "Geometry", values=["race", "endurance", "aero", "allroad", "comfort", "trail"]
    )
    frame_material: str | None = attribute(
        "Frame material", values=["aluminium", "carbon", "steel", "titanium"]
    )
    groupset: str | None = attribute("Groupset")
    gears: int | None = attribute("Gears")
    brake_type: str | None = attribute("Brakes", values=["rim", "disc", "hydraulic_disc"])
    tyre_width_mm: int | None = attribute("Tyre width", unit="mm")
    weight_kg: float | None = attribute("Weight", unit="kg")
    pedals_included: bool | None = attribute("Pedals included")
    cleat_system: str | None = attribute(
        "Cleat system", values=["flat", "spd", "spd_sl", "look_keo"]
    )
    suspension_travel_mm: int | None = attribute("Suspension travel", unit="mm")
    wheel_size: str | None = attribute("Wheel size", values=["26", "27.5", "28", "29", "700c"])
    motor: bool | None = attribute("Electric motor")
    battery_wh: int | None = attribute("Battery", unit="Wh")
    size: str | None = attribute("Size", values=["XS", "S", "M", "L", "XL"])
    shoe_size_eu: float | None = attribute("Shoe size (EU)")
    light_lumen: int | None = attribute("Light output", unit="lm")
    mounting: str | None = attribute("Mounting", values=["front", "rear", "set", "frame", "bar"])


class Product(ProductBase, table=True):
    """A sellable variant (one frame size of a bike, one size of a shoe ...)."""

    __table_args__ = (
        UniqueConstraint("sku", name="uq_product_sku"),
        # The shapes of the engine's main queries: category + size (+ price order),
        # category + cleat system + price.
        # ``available`` closes every index the engine reads, so filtering on it costs no
        # visit to the table (the engine never offers an unavailable product).
        Index("ix_product_category_cleat_price", "category", "cleat_system", "price", "available"),
        # Ranking reads these columns for every candidate: with them in the index the
        # engine ranks from the index alone and loads only the winning rows (measured
        # at 1 M products: p95 1.4 s -> 58 ms, see bench/recommend.py).
        # PostgreSQL needs the id INCLUDEd for an index-only scan (SQLite has the rowid).
        Index(
            "ix_product_rank_size",
            "category",
            "frame_size_cm",
            "price",
            "pedals_included",
            "stock",
            "margin_pct",
            "geometry",
            "brake_type",
            "available",
            postgresql_include=["id"],
        ),
        Index(
            "ix_product_rank_price",
            "category",
            "price",
            "pedals_included",
            "stock",
            "margin_pct",
            "geometry",
            "brake_type",
            "available",
            postgresql_include=["id"],
        ),
        # Cross-sell "best": deepest stock, then margin, straight from the index.
        Index("ix_product_category_stock_margin", "category", "stock", "margin_pct", "available"),
    )

    id: int | None = Field(default=None, primary_key=True)
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    @property
    def in_stock(self) -> bool:
        """Whether at least one unit can ship now."""
        return self.stock > 0


class RelationKind(StrEnum):
    """How two products relate."""

    ACCESSORY_OF = "accessory_of"
    COMPATIBLE_WITH = "compatible_with"


class ProductRelation(SQLModel, table=True):
    """A directed relation between two products, by SKU or by model (``group_sku``)."""

    __table_args__ = (UniqueConstraint("source", "target", "kind", name="uq_relation"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True, max_length=64, description="SKU or group SKU.")
    target: str = Field(index=True, max_length=64, description="SKU or group SKU.")
    kind: RelationKind = Field(index=True)
    note: str = Field(default="", max_length=200)
