"""Short codes for a conversation or a configuration: hand-over and share links.

A code is 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L), drawn with
:mod:`secrets`, stored with the state it stands for and an expiry. It is never derived
from the conversation id: knowing a code gives the configuration, not the conversation.

Two kinds:

* ``share``: a configuration staff hand to a customer; lasts :data:`SHARE_TTL` and opens
  as often as the customer likes (:meth:`ShareStore.get`).
* ``handoff``: a shopper asking for a person; lasts :data:`HANDOFF_TTL` (30 minutes,
  configurable) and is **single use**: :meth:`ShareStore.claim` marks it used, a
  second claim is refused with :class:`UsedCodeError`. The claim is a row with the code
  as primary key, so two staff members (or two app processes) claiming at once cannot
  both win.

Claims are throttled, with the failures stored as rows (like failed logins in
:mod:`advisor.accounts`), so the limits hold across processes and restarts: a client
(the staff member's name, or an address) gets :data:`ClaimLimits.per_client` wrong
codes per window, one code gets :data:`ClaimLimits.per_code` failed claims, and all
clients together get :data:`ClaimLimits.overall`, which bounds a guessing attack spread
over many addresses (31^6 = 887 M codes, of which a few dozen are live at a time). A
refused (throttled) try is not counted, so hammering cannot stretch the cooldown.

Exceptions (one tree, :class:`CodeError`)::

    CodeError
    ├── UnknownCodeError      no such code (mistyped, or never issued)
    ├── ExpiredCodeError      the code existed but is past its expiry
    ├── UsedCodeError         a hand-over code that was claimed already
    └── ClaimThrottledError   too many failed claims; ``retry_at`` says when to retry
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON, Column, Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from advisor.accounts import UTCDateTime
from advisor.state import ConversationState

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "HANDOFF_TTL",
    "SHARE_TTL",
    "ClaimAttempt",
    "ClaimLimits",
    "ClaimThrottledError",
    "CodeClaim",
    "CodeError",
    "ExpiredCodeError",
    "SharedConfiguration",
    "ShareStore",
    "UnknownCodeError",
    "UsedCodeError",
    "code_in",
    "normalise_code",
]

#: Upper-case letters and digits a person cannot mistake for one another when read aloud
#: or typed from a receipt: no 0/O, no 1/I/L.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

Kind = Literal["handoff", "share"]

#: A shopper asking for a human waits minutes, not days.
HANDOFF_TTL = timedelta(minutes=30)
SHARE_TTL = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class ClaimLimits:
    """How many failed claims are allowed within ``window``.

    Attributes:
        per_client: Failures of one client (a staff name or an address).
        per_code: Failures naming one code (a used or expired code tried again).
        overall: Failures of all clients together: the ceiling of a distributed guess.
        window: How long a failure counts.
    """

    per_client: int = 10
    per_code: int = 5
    overall: int = 200
    window: timedelta = timedelta(minutes=10)


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


class UsedCodeError(CodeError):
    """A single-use hand-over code that was claimed at ``used_at``."""

    def __init__(self, code: str, used_at: datetime, used_by: str | None = None) -> None:
        by = f" by {used_by}" if used_by else ""
        super().__init__(
            code,
            f"the code {code!r} was used{by} at {used_at:%H:%M} UTC: a hand-over code opens "
            "once; ask the customer to ask for a person again for a new code",
        )
        self.used_at = used_at
        self.used_by = used_by


class ClaimThrottledError(CodeError):
    """Too many failed claims (of this client, of this code, or overall)."""

    def __init__(self, code: str, retry_at: datetime) -> None:
        super().__init__(code, f"too many wrong codes: try again after {retry_at:%H:%M:%S} UTC")
        self.retry_at = retry_at

    def retry_after_seconds(self, now: datetime | None = None) -> int:
        """Whole seconds until a claim is accepted again (at least 1)."""
        remaining = (self.retry_at - (now or _now())).total_seconds()
        return max(1, math.ceil(remaining))


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


class CodeClaim(SQLModel, table=True):
    """The one claim of a single-use code; the primary key makes a second one fail."""

    __tablename__ = "advisor_code_claim"

    code: str = Field(primary_key=True, max_length=CODE_LENGTH)
    claimed_by: str | None = Field(default=None, max_length=80)
    client: str = Field(max_length=120)
    at: datetime = Field(sa_type=UTCDateTime)


class ClaimAttempt(SQLModel, table=True):
    """One failed claim, kept for :attr:`ClaimLimits.window` to throttle guessing."""

    __tablename__ = "advisor_code_attempt"

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=120, index=True)
    code: str = Field(max_length=16, index=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)


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
        handoff_ttl: How long a hand-over code lasts (default :data:`HANDOFF_TTL`).
        limits: How many failed claims are allowed (default :class:`ClaimLimits`).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _now,
        handoff_ttl: timedelta = HANDOFF_TTL,
        limits: ClaimLimits | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.handoff_ttl = handoff_ttl
        self.limits = limits or ClaimLimits()

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
        ttl = ttl if ttl is not None else (self.handoff_ttl if kind == "handoff" else SHARE_TTL)
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
        """The configuration behind a code, without using it up (share links).

        A hand-over code is opened with :meth:`claim`, which uses it up and is throttled.

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

    def claim(self, raw: str, *, client: str, claimed_by: str | None = None) -> SharedConfiguration:
        """Use up a hand-over code: the first claim gets its conversation, no later one.

        Args:
            raw: The code as typed (any case, blanks and dashes ignored).
            client: Who is claiming, for the throttle: the staff member's name or the
                client's address.
            claimed_by: The staff member, stored with the claim.

        Raises:
            ClaimThrottledError: Too many failed claims recently; nothing was checked.
            UnknownCodeError: No hand-over code like this.
            ExpiredCodeError: The code is past its expiry.
            UsedCodeError: The code was claimed before.
        """
        code = normalise_code(raw)
        client = client[:120]
        now = self.clock()
        retry_at = self._throttled_until(client=client, code=code, now=now)
        if retry_at > now:
            raise ClaimThrottledError(code, retry_at)
        try:
            record = self.get(code, kind="handoff")
            with Session(self.engine) as session:
                session.add(CodeClaim(code=code, claimed_by=claimed_by, client=client, at=now))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    raise self._used(session, code) from None
        except CodeError:
            self._fail(client=client, code=code, now=now)
            raise
        return record

    @staticmethod
    def _used(session: Session, code: str) -> UsedCodeError:
        claim = session.get(CodeClaim, code)
        at = claim.at if claim is not None else datetime.min.replace(tzinfo=UTC)
        return UsedCodeError(code, at, claim.claimed_by if claim is not None else None)

    def claimed(self, raw: str) -> CodeClaim | None:
        """The claim of a code, or ``None`` while it is unused."""
        with Session(self.engine) as session:
            return session.get(CodeClaim, normalise_code(raw))

    def _fail(self, *, client: str, code: str, now: datetime) -> None:
        with Session(self.engine) as session:
            cutoff = now - self.limits.window
            session.exec(delete(ClaimAttempt).where(col(ClaimAttempt.at) <= cutoff))
            session.add(ClaimAttempt(client=client, code=code[:16], at=now))
            session.commit()

    def _throttled_until(self, *, client: str, code: str, now: datetime) -> datetime:
        """When the next claim is accepted; ``now`` or earlier when it is at once."""
        limits = self.limits
        cutoff = now - limits.window
        until = now
        checks = (
            (col(ClaimAttempt.client) == client, limits.per_client),
            (col(ClaimAttempt.code) == code[:16], limits.per_code),
            (None, limits.overall),
        )
        with Session(self.engine) as session:
            for condition, limit in checks:
                statement = select(ClaimAttempt.at).where(col(ClaimAttempt.at) > cutoff)
                if condition is not None:
                    statement = statement.where(condition)
                recent = session.exec(
                    statement.order_by(col(ClaimAttempt.at).desc()).limit(limit)
                ).all()
                if len(recent) >= limit:  # accepted again once the oldest of them expires
                    until = max(until, recent[-1] + limits.window)
        return until

    def handoff_code(self, state: ConversationState, conversation: str | None) -> str:
        """A hand-over code for a shopper's conversation (:class:`advisor.service.HandoffCodes`)."""
        return self.issue(kind="handoff", state=state, conversation=conversation).code
