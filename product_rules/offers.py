"""The offers payload sent to the chat widget (the contract of shared/DESIGN.md).

One definition, used by the engine to build it, by the action server to send it, and by
the web app and tests to read it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = [
    "CrossSellPayload",
    "OfferItemPayload",
    "OfferPayload",
    "OffersMessage",
    "Role",
    "TraceEntry",
]

Role = Literal["main", "required", "option"]


class OfferItemPayload(TypedDict):
    """One product inside an offer."""

    sku: str
    name: str
    category: str
    role: Role
    price: float
    in_stock: bool
    attributes: dict[str, Any]


class OfferPayload(TypedDict):
    """A ready-to-use configuration: main product plus what it needs."""

    rank: int
    title: str
    total_price: float
    currency: str
    items: list[OfferItemPayload]
    reasons: list[str]
    relaxed: list[str]


class CrossSellPayload(TypedDict):
    """An accessory suggested beside the offers."""

    sku: str
    name: str
    category: str
    price: float
    reason: str


class OffersMessage(TypedDict):
    """The ``custom`` payload of the message that presents offers."""

    type: Literal["offers"]
    answers: dict[str, Any]
    offers: list[OfferPayload]
    cross_sell: list[CrossSellPayload]


class TraceEntry(TypedDict):
    """One step of the explanation trace: which rule did what."""

    rule: str
    kind: str
    message: str
