"""Short codes for a conversation or a configuration: hand-over and share links.

A code is 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L), drawn with
:mod:`secrets`, stored with the state it stands for and an expiry. It is never derived
from the conversation id: knowing a code gives the configuration, not the conversation.

Exceptions (one tree, :class:`CodeError`):
    UnknownCodeError: No such code (mistyped, or never issued).
    ExpiredCodeError: The code existed but is past its expiry.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON, Column, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from advisor.state import ConversationState

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "CodeError",
    "ExpiredCodeError",
    "SharedConfiguration",
    "ShareStore",
    "UnknownCodeError",
    "code_in",
    "normalise_code",
]

#: Upper-case letters and digits a person cannot mistake for one another when read aloud
#: or typed from a receipt: no 0/O, no 1/I/L.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

Kind = Literal["handoff", "share"]

#: A shopper asking for a human waits minutes, not days.
HANDOFF_TTL = timedelta(hours=24)
SHARE_TTL = timedelta(days=14)


class CodeError(Exception):
    """A code that cannot be used; the message says what to do instead."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownCodeError(CodeError):
    """No configuration has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(code, f"no configuration has the code {code!r}: check the letters")


class ExpiredCodeError(CodeError):
    """The code was valid until ``expired_at``."""

    def __init__(self, code: str, expired_at: datetime) -> None:
        super().__init__(code, f"the code {code!r} expired on {expired_at:%Y-%m-%d}")
        self.expired_at = expired_at


class SharedConfiguration(SQLModel, table=True):
    """A state behind a code: a shopper's conversation or a configuration staff handed over."""

    __tablename__ = "advisor_shared"

    code: str = Field(primary_key=True, max_length=CODE_LENGTH)
    kind: str = Field(max_length=16, index=True)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    offers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: The conversation the code came from (server-issued id), never shown to anyone.
    conversation: str | None = Field(default=None, max_length=128, index=True)
    created_by: str | None = Field(default=None, max_length=80)
    created_at: datetime
    expires_at: datetime = Field(index=True)

    def conversation_state(self) -> ConversationState:
        """The stored state."""
        return ConversationState.from_dict(self.state)


def normalise_code(raw: str) -> str:
    """A code as typed ("ab3 k7q", "ab3-k7q") in its stored form ("AB3K7Q")."""
    return re.sub(r"[\s\-_.]", "", raw or "").upper()[:16]


def code_in(text: str) -> str:
    """A code written inside a sentence ("my code is k7qx3m"), or "" if there is none."""
    for word in re.findall(r"\b[A-Za-z0-9]{6}\b", text or ""):
        candidate = str(word).upper()
        if all(c in ALPHABET for c in candidate) and any(c.isdigit() for c in candidate):
            return candidate
    return ""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; they were stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ShareStore:
    """Issues and resolves codes, in the advisor's database.

    Args:
        engine: The database (the catalogue's, by default).
        clock: Current time (aware, UTC); tests pass a fixed one.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.clock = clock
        SQLModel.metadata.create_all(engine, tables=[SharedConfiguration.__table__])  # type: ignore[attr-defined]

    def issue(
        self,
        *,
        kind: Kind,
        state: ConversationState,
        offers: dict[str, Any] | None = None,
        conversation: str | None = None,
        created_by: str | None = None,
        ttl: timedelta | None = None,
    ) -> SharedConfiguration:
        """Store ``state`` under a new random code."""
        now = self.clock()
        ttl = ttl if ttl is not None else (HANDOFF_TTL if kind == "handoff" else SHARE_TTL)
        for _ in range(10):  # 31^6 = 887 M codes: a clash is rare, retrying is cheap
            record = SharedConfiguration(
                code="".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)),
                kind=kind,
                state=state.to_dict(),
                offers=offers,
                conversation=conversation,
                created_by=created_by,
                created_at=now,
                expires_at=now + ttl,
            )
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    session.add(record)
                    session.commit()
                return record
            except IntegrityError:
                continue
        raise RuntimeError("could not draw a free code in 10 tries")  # pragma: no cover

    def get(self, raw: str, *, kind: Kind | None = None) -> SharedConfiguration:
        """The configuration behind a code.

        Raises:
            UnknownCodeError: No such code (of that kind).
            ExpiredCodeError: The code is past its expiry.
        """
        code = normalise_code(raw)
        if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
            raise UnknownCodeError(code)
        with Session(self.engine) as session:
            record = session.exec(
                select(SharedConfiguration).where(SharedConfiguration.code == code)
            ).first()
        if record is None or (kind is not None and record.kind != kind):
            raise UnknownCodeError(code)
        if _aware(record.expires_at) <= self.clock():
            raise ExpiredCodeError(code, _aware(record.expires_at))
        return record

    def handoff_code(self, state: ConversationState, conversation: str | None) -> str:
        """A hand-over code for a shopper's conversation (:class:`advisor.service.HandoffCodes`)."""
        return self.issue(kind="handoff", state=state, conversation=conversation).code
