"""The append-only log of live chats: every payload of a hand-over, as it was sent.

Each payload (:mod:`advisor.live_payloads`) is a row, written by
:class:`advisor.handover.HandoverStore` in the same transaction as the change it
reports; the row's id is the payload's ``id`` (the stored JSON leaves it out: the row
is written once, with one statement, and :func:`read` puts the id back). The log is
what a reloaded widget or a restarted process reads back; the live channel only
pushes it.

A chat message needs no transaction of its own: :func:`append_if` writes it with one
``INSERT … SELECT … WHERE EXISTS (…) RETURNING id`` that also checks the hand-over
(one round trip to the database, atomic by itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import JSON, Column, ColumnElement, Connection, Insert, bindparam, exists, insert
from sqlmodel import Field, Session, SQLModel, col, select

from advisor.accounts import UTCDateTime
from advisor.live_payloads import QUEUE_TOPIC, STAFF_ONLY, LivePayload, chat_topic, for_shopper

__all__ = [
    "QUEUE_TYPES",
    "Event",
    "LiveMessage",
    "append",
    "append_if",
    "append_many",
    "checked_insert",
    "read",
]

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


def _payload(kind: str, handover_id: str, now: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "handover": handover_id, "at": now.isoformat(), **fields}


def _events(handover_id: str, kind: str, row_id: int, stored: dict[str, Any]) -> list[Event]:
    typed = cast(LivePayload, _with_id(stored, row_id))
    events = [Event(chat_topic(handover_id), typed)]
    if kind in QUEUE_TYPES:
        events.append(Event(QUEUE_TOPIC, typed))
    return events


def _with_id(stored: dict[str, Any], row_id: int | None) -> dict[str, Any]:
    # "type" first, then "id", then the rest, as the payloads always looked.
    # (Rows written before the id was left out carry the same id: no harm.)
    return {"type": stored.get("type"), "id": row_id, **stored}


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
    return append_many(session, [(handover_id, kind, author, fields)], now=now)


def append_many(
    session: Session,
    items: Iterable[tuple[str, str, str | None, dict[str, Any]]],
    *,
    now: datetime,
) -> list[Event]:
    """Store several payloads (hand-over, type, author, fields) with one flush.

    One flush is one batched ``INSERT … RETURNING`` (SQLAlchemy's "insertmanyvalues"):
    a queue of 50 whose positions all move costs one round trip, not 50.
    """
    rows: list[tuple[LiveMessage, dict[str, Any]]] = []
    for handover_id, kind, author, fields in items:
        stored = _payload(kind, handover_id, now, fields)
        row = LiveMessage(handover_id=handover_id, type=kind, author=author, payload=stored, at=now)
        rows.append((row, stored))
    if not rows:
        return []
    session.add_all([row for row, _ in rows])
    session.flush()
    events: list[Event] = []
    for row, stored in rows:
        assert row.id is not None  # flushed
        events += _events(row.handover_id, row.type, row.id, stored)
    return events


def checked_insert(guard: ColumnElement[bool]) -> Insert:
    """``INSERT … SELECT … WHERE EXISTS (guard) RETURNING id``, for :func:`append_if`.

    The values are bound parameters (``m_handover``, ``m_type``, ``m_author``,
    ``m_payload``, ``m_at``), so the statement is compiled once and each message only
    binds them; ``guard`` (on the hand-over's row) brings its own parameters.
    """
    table = LiveMessage.__table__  # type: ignore[attr-defined]
    c = table.c
    values = select(  # type: ignore[call-overload]
        bindparam("m_handover", type_=c.handover_id.type),
        bindparam("m_type", type_=c.type.type),
        bindparam("m_author", type_=c.author.type),
        bindparam("m_payload", type_=c.payload.type),
        bindparam("m_at", type_=c.at.type),
    ).where(exists().where(guard))
    return (
        insert(table)
        .from_select(["handover_id", "type", "author", "payload", "at"], values)
        .returning(c.id)
    )


def append_if(
    connection: Connection,
    statement: Insert,
    guard: dict[str, Any],
    *,
    handover_id: str,
    kind: str,
    author: str | None,
    now: datetime,
    **fields: Any,
) -> list[Event] | None:
    """Store one payload if the guard of ``statement`` holds; ``None`` if it did not.

    ``statement`` comes from :func:`checked_insert`, ``guard`` binds its guard's
    parameters. The check and the insert are one statement, so on an autocommit
    connection the message costs one round trip and is stored exactly when the
    hand-over was as the guard asks at that moment.
    """
    stored = _payload(kind, handover_id, now, fields)
    values: dict[str, Any] = {"m_handover": handover_id, "m_type": kind, "m_author": author}
    values |= {"m_payload": stored, "m_at": now, **guard}
    row_id = connection.execute(statement, values).scalar()
    if row_id is None:
        return None
    return _events(handover_id, kind, int(row_id), stored)


def read(
    session: Session, handover_id: str, *, shopper: bool = False, after: int = 0
) -> list[LivePayload]:
    """Every payload of a hand-over, oldest first; ``shopper`` leaves out staff-only ones.

    ``after``: only the payloads with a greater id (what a reconnecting stream missed).
    """
    rows = session.exec(
        select(LiveMessage)
        .where(LiveMessage.handover_id == handover_id, col(LiveMessage.id) > after)
        .order_by(col(LiveMessage.id))
    ).all()
    payloads = [cast(LivePayload, _with_id(r.payload, r.id)) for r in rows]
    return [p for p in payloads if for_shopper(p)] if shopper else payloads
