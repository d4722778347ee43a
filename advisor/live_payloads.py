"""The live chat's wire contract: what the widget and the console receive, as TypedDicts.

Every hand-over event and every message of a live chat is one payload. It is stored
first (a row of ``advisor_live_message``, whose id becomes the payload's ``id``) and
then published on the live channel (:mod:`advisor.live`), so a widget that reloads, or
a web process that restarts, reads the same payloads back from the history and can drop
the ones it has seen by ``id``.

Payloads carry data, not sentences: the widget and the console turn
``{"type": "nobody_available", "reason": "outside_hours"}`` into words in their own
templates. Some payloads are for staff only (:data:`STAFF_ONLY`: offers to staff, a
transfer and its note, a message left for the inbox); :func:`for_shopper` tells the web
layer which ones a shopper's stream and history may show.

Topics: :func:`chat_topic` for one hand-over (the shopper and the staff in it),
:data:`QUEUE_TOPIC` for every staff console (requests offered, taken, messages left).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from product_rules.offers import OffersMessage

__all__ = [
    "PAYLOAD_TYPES",
    "QUEUE_TOPIC",
    "STAFF_ONLY",
    "ClosedPayload",
    "HandedBackPayload",
    "LivePayload",
    "MessageLeftPayload",
    "NobodyAvailablePayload",
    "OfferCardPayload",
    "OfferedPayload",
    "QueuedPayload",
    "ShopperMessagePayload",
    "StaffJoinedPayload",
    "StaffMessagePayload",
    "TakenPayload",
    "TransferredPayload",
    "chat_topic",
    "for_shopper",
    "payload_in",
]

#: The topic every staff console listens to.
QUEUE_TOPIC = "handover.queue"


def chat_topic(handover: str) -> str:
    """The topic of one hand-over's live chat."""
    return f"handover.chat.{handover}"


class QueuedPayload(TypedDict):
    """The shopper's request waits for a free staff member; ``position`` 1 is next."""

    type: Literal["queued"]
    id: int
    handover: str
    at: str
    position: int


class StaffJoinedPayload(TypedDict):
    """A staff member accepted (or took over by transfer) and is in the chat now."""

    type: Literal["staff_joined"]
    id: int
    handover: str
    at: str
    staff: str


class StaffMessagePayload(TypedDict):
    """A message the staff member wrote."""

    type: Literal["staff_message"]
    id: int
    handover: str
    at: str
    staff: str
    text: str


class ShopperMessagePayload(TypedDict):
    """A message the shopper wrote while a staff member is in the chat."""

    type: Literal["shopper_message"]
    id: int
    handover: str
    at: str
    text: str


class OfferCardPayload(TypedDict):
    """Offers the staff member pushed into the chat (the offers contract of DESIGN.md)."""

    type: Literal["offer_card"]
    id: int
    handover: str
    at: str
    staff: str
    offers: OffersMessage


class HandedBackPayload(TypedDict):
    """The staff member handed the conversation back to the bot."""

    type: Literal["handed_back"]
    id: int
    handover: str
    at: str
    staff: str


class ClosedPayload(TypedDict):
    """The live chat ended; ``by`` is the staff member or ``"shopper"``."""

    type: Literal["closed"]
    id: int
    handover: str
    at: str
    by: str


class NobodyAvailablePayload(TypedDict):
    """Nobody accepted in time, or the shop is closed; the shopper may leave a message."""

    type: Literal["nobody_available"]
    id: int
    handover: str
    at: str
    reason: Literal["timeout", "outside_hours"]


class OfferedPayload(TypedDict):
    """Staff only: a request is offered to ``staff`` (empty: withdrawn, back in queue)."""

    type: Literal["offered"]
    id: int
    handover: str
    at: str
    staff: list[str]


class TakenPayload(TypedDict):
    """Staff only: ``staff`` accepted the request; the others' offers are gone."""

    type: Literal["taken"]
    id: int
    handover: str
    at: str
    staff: str


class TransferredPayload(TypedDict):
    """Staff only: the chat moved to a colleague, with a note for them."""

    type: Literal["transferred"]
    id: int
    handover: str
    at: str
    from_staff: str
    to_staff: str
    note: str


class MessageLeftPayload(TypedDict):
    """Staff only: the shopper left a message; it is in the inbox under ``inbox``."""

    type: Literal["message_left"]
    id: int
    handover: str
    at: str
    inbox: int


LivePayload = (
    QueuedPayload
    | StaffJoinedPayload
    | StaffMessagePayload
    | ShopperMessagePayload
    | OfferCardPayload
    | HandedBackPayload
    | ClosedPayload
    | NobodyAvailablePayload
    | OfferedPayload
    | TakenPayload
    | TransferredPayload
    | MessageLeftPayload
)

#: Every payload type, each with the keys it must have besides ``type``, ``id``,
#: ``handover`` and ``at``.
PAYLOAD_TYPES: dict[str, frozenset[str]] = {
    "queued": frozenset({"position"}),
    "staff_joined": frozenset({"staff"}),
    "staff_message": frozenset({"staff", "text"}),
    "shopper_message": frozenset({"text"}),
    "offer_card": frozenset({"staff", "offers"}),
    "handed_back": frozenset({"staff"}),
    "closed": frozenset({"by"}),
    "nobody_available": frozenset({"reason"}),
    "offered": frozenset({"staff"}),
    "taken": frozenset({"staff"}),
    "transferred": frozenset({"from_staff", "to_staff", "note"}),
    "message_left": frozenset({"inbox"}),
}

#: Payload types a shopper never receives.
STAFF_ONLY = frozenset({"offered", "taken", "transferred", "message_left"})

_COMMON = frozenset({"type", "id", "handover", "at"})


def for_shopper(payload: LivePayload) -> bool:
    """Whether the shopper's widget may receive this payload."""
    return payload["type"] not in STAFF_ONLY


def payload_in(raw: Any) -> LivePayload | None:
    """Read a payload off the wire (JSON decoded); ``None`` if it is not one of ours."""
    if not isinstance(raw, dict):
        return None
    required = PAYLOAD_TYPES.get(str(raw.get("type")))
    if required is None or not (_COMMON | required) <= raw.keys():
        return None
    return cast(LivePayload, raw)
