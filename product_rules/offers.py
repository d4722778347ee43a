"""The offers payload sent to the chat widget (the contract of shared/DESIGN.md).

One definition, used by the engine to build it, by the action server to send it, and by
the web app and tests to read it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

__all__ = [
    "CrossSellPayload",
    "OfferItemPayload",
    "OfferPayload",
    "OffersMessage",
    "RelaxationChoicePayload",
    "RelaxationPayload",
    "Role",
    "TraceEntry",
    "offers_in",
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
    alerts: list[str]


class CrossSellPayload(TypedDict):
    """An accessory suggested beside the offers."""

    sku: str
    name: str
    category: str
    price: float
    reason: str


class RelaxationChoicePayload(TypedDict):
    """One way to loosen the wishes, with how many products it would give."""

    relax: list[str]
    filters: list[str]
    count: int
    applied: bool
    answers: dict[str, Any] | None  # the changed answers that choose it; None: not by answers


class RelaxationPayload(TypedDict):
    """When the wishes could not all be met: which ones, and the ways out."""

    unmet: list[str]
    choices: list[RelaxationChoicePayload]


class OffersMessage(TypedDict):
    """The ``custom`` payload of the message that presents offers."""

    type: Literal["offers"]
    ruleset: str
    answers: dict[str, Any]
    offers: list[OfferPayload]
    cross_sell: list[CrossSellPayload]
    relaxation: RelaxationPayload | None


class TraceEntry(TypedDict):
    """One step of the explanation trace: which rule did what."""

    rule: str
    kind: str
    message: str


def offers_in(messages: list[dict[str, Any]]) -> OffersMessage | None:
    """The offers payload among a reply's messages (Rasa REST channel format), if any."""
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "offers":
            return cast(OffersMessage, custom)
    return None
