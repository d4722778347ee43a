"""The console's inbox: messages shoppers left when nobody could take their chat.

A shopper told "nobody is available" or "we are closed" may leave a message with an
optional email address or phone number; it is a row here until a staff member reads it.
Functions take the session keyword-only, as :mod:`advisor.accounts` does.

Exceptions: :class:`InvalidInboxMessageError` (an empty or overlong message, an email
address or phone number that cannot be used), part of the hand-over tree
(:class:`advisor.routing.HandoverError`).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from advisor.accounts import UTCDateTime
from advisor.routing import HandoverError

__all__ = [
    "MAX_TEXT_LENGTH",
    "InboxMessage",
    "InvalidInboxMessageError",
    "add_message",
    "check_contact",
    "list_messages",
    "mark_read",
]

MAX_TEXT_LENGTH = 2000
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")
_PHONE = re.compile(r"\+?[0-9][0-9 ()/.\-]{4,28}[0-9]")


class InvalidInboxMessageError(HandoverError, ValueError):
    """A message or contact detail that cannot be stored; the message says which."""


class InboxMessage(SQLModel, table=True):
    """A message a shopper left for staff."""

    __tablename__ = "advisor_inbox_message"

    id: int | None = Field(default=None, primary_key=True)
    handover_id: str | None = Field(default=None, max_length=32, index=True)
    conversation: str | None = Field(default=None, max_length=128)
    text: str = Field(max_length=MAX_TEXT_LENGTH)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_by: str | None = Field(default=None, max_length=80)


def check_contact(
    text: str, email: str | None = None, phone: str | None = None
) -> tuple[str, str | None, str | None]:
    """The message and contact details as stored: trimmed, blanks as ``None``.

    Raises:
        InvalidInboxMessageError: The message is empty or too long, or the email
            address or phone number cannot be used.
    """
    body = text.strip()
    if not body:
        raise InvalidInboxMessageError("the message is empty: write what you would like to ask")
    if len(body) > MAX_TEXT_LENGTH:
        raise InvalidInboxMessageError(
            f"the message is too long ({len(body)} characters): keep it under {MAX_TEXT_LENGTH}"
        )
    mail = (email or "").strip() or None
    if mail is not None and (len(mail) > 254 or not _EMAIL.fullmatch(mail)):
        raise InvalidInboxMessageError(
            f"{mail!r} is not an email address: write it like name@example.com, or leave it out"
        )
    number = " ".join((phone or "").split()) or None
    if number is not None and (
        not _PHONE.fullmatch(number) or sum(c.isdigit() for c in number) < 6
    ):
        raise InvalidInboxMessageError(
            f"{number!r} is not a phone number: write digits, e.g. +49 30 1234567, or leave it out"
        )
    return body, mail, number


def add_message(
    session: Session,
    *,
    text: str,
    now: datetime,
    email: str | None = None,
    phone: str | None = None,
    handover_id: str | None = None,
    conversation: str | None = None,
) -> InboxMessage:
    """Store a shopper's message (not committed: the caller commits with its event).

    Raises:
        InvalidInboxMessageError: See :func:`check_contact`.
    """
    body, mail, number = check_contact(text, email, phone)
    message = InboxMessage(
        handover_id=handover_id,
        conversation=conversation,
        text=body,
        email=mail,
        phone=number,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def list_messages(
    session: Session, *, unread_only: bool = False, limit: int = 50
) -> list[InboxMessage]:
    """The latest messages, newest first."""
    statement = select(InboxMessage).order_by(col(InboxMessage.id).desc()).limit(limit)
    if unread_only:
        statement = statement.where(col(InboxMessage.read_at).is_(None))
    return list(session.exec(statement).all())


def mark_read(session: Session, *, message_id: int, by: str, now: datetime) -> InboxMessage | None:
    """Mark a message read by ``by`` and commit; ``None`` if there is no such message."""
    message = session.get(InboxMessage, message_id)
    if message is None:
        return None
    if message.read_at is None:
        message.read_at, message.read_by = now, by
        session.add(message)
        session.commit()
        session.refresh(message)
    return message
