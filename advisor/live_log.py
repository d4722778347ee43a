"""The append-only log of live chats: every payload of a hand-over, as it was sent.

Each payload (:mod:`advisor.live_payloads`) is a row, written by
:class:`advisor.handover.HandoverStore` in the same transaction as the change it
reports; the row's id is the payload's ``id``. The log is what a reloaded widget or a
restarted process reads back; the live channel only pushes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select

from advisor.accounts import UTCDateTime
from advisor.live_payloads import QUEUE_TOPIC, STAFF_ONLY, LivePayload, chat_topic, for_shopper

__all__ = ["QUEUE_TYPES", "Event", "LiveMessage", "append", "read"]

#: Payload types the staff consoles follow on the queue topic, besides the chat's own.
QUEUE_TYPES = STAFF_ONLY | {"queued", "nobody_available", "closed", "handed_back"}


class LiveMessage(SQLModel, table=True):
    """One payload of a live chat or of its hand-over, as sent. Never updated."""

    __tablename__ = "advisor_live_message"

    id: int | None = Field(default=None, primary_key=True)
    handover_id: str = Field(max_length=32, index=True)
    type: str = Field(max_length=32)
    author: str | None = Field(default=None, max_length=80)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_type=UTCDateTime)


class Event(NamedTuple):
    """A stored payload and the topic to publish it on."""

    topic: str
    payload: LivePayload


def append(
    session: Session,
    *,
    handover_id: str,
    kind: str,
    author: str | None,
    now: datetime,
    **fields: Any,
) -> list[Event]:
    """Store one payload (flushed, not committed) and say where to publish it.

    The chat's topic carries every payload (a shopper's stream filters with
    :func:`advisor.live_payloads.for_shopper`); the consoles' queue topic carries what
    changes the queue (:data:`QUEUE_TYPES`).
    """
    row = LiveMessage(handover_id=handover_id, type=kind, author=author, payload={}, at=now)
    session.add(row)
    session.flush()
    payload: dict[str, Any] = {
        "type": kind,
        "id": row.id,
        "handover": handover_id,
        "at": now.isoformat(),
    }
    payload.update(fields)
    row.payload = payload
    session.add(row)
    typed = cast(LivePayload, payload)
    events = [Event(chat_topic(handover_id), typed)]
    if kind in QUEUE_TYPES:
        events.append(Event(QUEUE_TOPIC, typed))
    return events


def read(session: Session, handover_id: str, *, shopper: bool = False) -> list[LivePayload]:
    """Every payload of a hand-over, oldest first; ``shopper`` leaves out staff-only ones."""
    rows = session.exec(
        select(LiveMessage)
        .where(LiveMessage.handover_id == handover_id)
        .order_by(col(LiveMessage.id))
    ).all()
    payloads = [cast(LivePayload, r.payload) for r in rows]
    return [p for p in payloads if for_shopper(p)] if shopper else payloads
