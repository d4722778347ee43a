"""The engine's wire contracts: the offers payload and the staff's expert view.

The offers payload is sent to the chat widget (the contract of shared/DESIGN.md). One
definition, used by the engine to build it, by the action server to send it, and by the
web app and tests to read it.

The expert view (candidates with their score parts, excluded products with the rules
they break, violations of staff locks, component options) is for the staff console only;
it is never part of the offers payload. It carries data, not sentences: templates turn
``{"attribute": "frame_size_cm", "wanted": 56, "actual": 52}`` into words.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, cast

__all__ = [
    "BreachKind",
    "BreachPayload",
    "CandidatePayload",
    "CandidateStatus",
    "ComponentOptionPayload",
    "CrossSellPayload",
    "ExclusionPayload",
    "OfferItemPayload",
    "OfferPayload",
    "OffersMessage",
    "RelaxationChoicePayload",
    "RelaxationPayload",
    "Role",
    "ScorePartPayload",
    "TraceEntry",
    "ViolationPayload",
    "WishSourcePayload",
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


# -- expert view (staff console) ---------------------------------------------------

#: Why a ranked candidate is or is not an offer: it is one; another variant of its model
#: is one; no ready-to-use bundle could be made (``note`` says why); the offers were full.
CandidateStatus = Literal["offered", "same_model", "not_bundled", "not_needed"]

#: Which kind of rule a product breaks: a hard wish on the main product, a requirement's
#: selection (pedals for the shoes), a compatibility rule, or the budget of the bundle.
BreachKind = Literal["hard_wish", "requirement", "compatibility", "budget"]


class ScorePartPayload(TypedDict):
    """One term of a candidate's score; the parts of a candidate add up to its score."""

    part: str  # soft filter id, in_stock, margin, price_fit, distance:<id>, over:<id>
    label: str
    points: float


class CandidatePayload(TypedDict):
    """A main product the ranking considered, in ranking order, and what became of it."""

    sku: str
    name: str
    group_sku: str
    price: float
    stock: int
    margin_pct: float
    attributes: dict[str, Any]
    score: float
    parts: list[ScorePartPayload]
    status: CandidateStatus
    offer_rank: int | None
    note: str  # why it is not an offer (the trace's words), else empty


class WishSourcePayload(TypedDict):
    """The answer a derived wish comes from (frame size from ``body_height_cm`` 182)."""

    answer: str
    value: Any


class BreachPayload(TypedDict):
    """One rule a product breaks: what the rule wants and what the product has.

    ``op`` is the rule's operator (``eq``, ``in``, ``le`` ..., ``between`` for a widened
    size with ``wanted`` ``[low, high]``, ``compatible`` for a pairs or relation rule).
    ``over_by`` is how far a price is above its limit (EUR), else None. ``other`` is the
    SKU of the item a compatibility rule compares with, else None.
    """

    rule: str
    kind: BreachKind
    label: str
    attribute: str
    op: str
    wanted: Any
    actual: Any
    over_by: float | None
    other: str | None
    source: NotRequired[WishSourcePayload]


class ExclusionPayload(TypedDict):
    """A main product left out because it breaks at least one hard wish."""

    sku: str
    name: str
    price: float
    reasons: list[BreachPayload]


class ViolationPayload(TypedDict):
    """A rule a staff lock breaks; the offer is built anyway, and staff may confirm it.

    ``key`` is stable across requests (``pin:<sku>:<rule>``, ``budget:<main>:<rule>``,
    ``component:<main>:<requirement>:<sku>``, ``requirement:<main>:<requirement>``,
    ``compatibility:<main>:<sku>:<other>:<rule>``) so a confirmation outlives the request.
    """

    key: str
    main: str  # the main SKU of the offer concerned
    sku: str  # the product that breaks the rule
    rule: str
    kind: BreachKind
    detail: BreachPayload
    confirmed: bool


class ComponentOptionPayload(TypedDict):
    """A product staff may choose for a requirement of one main product."""

    sku: str
    name: str
    price: float
    in_stock: bool
    attributes: dict[str, Any]
    fits: bool
    problems: list[BreachPayload]


def offers_in(messages: list[dict[str, Any]]) -> OffersMessage | None:
    """The offers payload among a reply's messages (Rasa REST channel format), if any."""
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "offers":
            return cast(OffersMessage, custom)
    return None
