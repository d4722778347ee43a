"""Assisted sessions and their audit log, in the advisor's database.

A session is one customer advised by a staff member: its id is issued here (random,
never chosen by a browser), its state is a :class:`advisor.state.ConversationState`,
and every change is written to an append-only audit log (who, when, what).

Exceptions:
    UnknownSessionError: No session with that id.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine
from sqlmodel import Field, Session, SQLModel, col, select

from advisor.assisted import Change
from advisor.state import ConversationState

__all__ = ["AssistedSession", "AuditEntry", "SessionStore", "UnknownSessionError"]


class UnknownSessionError(LookupError):
    """No assisted session has this id (or it belongs to nobody here)."""


def _now() -> datetime:
    return datetime.now(UTC)


class AssistedSession(SQLModel, table=True):
    """A customer advised in the store or on the phone."""

    __tablename__ = "advisor_assisted_session"

    id: str = Field(primary_key=True, max_length=32)
    staff: str = Field(max_length=80, index=True)
    customer_name: str = Field(default="", max_length=120)
    note: str = Field(default="", max_length=1000)
    #: The hand-over code the session was picked up from, if any.
    origin_code: str | None = Field(default=None, max_length=16)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    updated_at: datetime = Field(index=True)

    def conversation_state(self) -> ConversationState:
        """The stored state."""
        return ConversationState.from_dict(self.state)


class AuditEntry(SQLModel, table=True):
    """One change to an assisted session: who did what, when. Never updated."""

    __tablename__ = "advisor_audit"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=32, index=True)
    actor: str = Field(max_length=80)
    at: datetime
    action: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SessionStore:
    """Creates, reads and saves assisted sessions; every save appends to the audit log."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.clock = clock

    def create(
        self,
        *,
        staff: str,
        state: ConversationState,
        customer_name: str = "",
        note: str = "",
        origin_code: str | None = None,
    ) -> AssistedSession:
        """Open a session; its id is random and issued here."""
        now = self.clock()
        record = AssistedSession(
            id=secrets.token_hex(12),
            staff=staff,
            customer_name=" ".join(customer_name.split())[:120],
            note=note.strip()[:1000],
            origin_code=origin_code,
            state=state.to_dict(),
            created_at=now,
            updated_at=now,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(record)
            session.add(
                AuditEntry(
                    session_id=record.id,
                    actor=staff,
                    at=now,
                    action="start" if origin_code is None else "take_over",
                    detail={"ruleset": state.ruleset, "code": origin_code},
                )
            )
            session.commit()
        return record

    def get(self, session_id: str) -> AssistedSession:
        """The session ``session_id``."""
        with Session(self.engine) as session:
            record = session.get(AssistedSession, session_id)
        if record is None:
            raise UnknownSessionError(session_id)
        return record

    def save(
        self, session_id: str, state: ConversationState, *, actor: str, change: Change
    ) -> AssistedSession:
        """Store the new state and log the change that led to it."""
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            record = session.get(AssistedSession, session_id)
            if record is None:
                raise UnknownSessionError(session_id)
            record.state = state.to_dict()
            record.updated_at = now
            session.add(record)
            session.add(
                AuditEntry(
                    session_id=session_id,
                    actor=actor,
                    at=now,
                    action=change.action,
                    detail=change.detail,
                )
            )
            session.commit()
        return record

    def log(self, session_id: str, *, actor: str, change: Change) -> None:
        """Record an event that changes no state (a share, a hand-over to the customer)."""
        with Session(self.engine) as session:
            session.add(
                AuditEntry(
                    session_id=session_id,
                    actor=actor,
                    at=self.clock(),
                    action=change.action,
                    detail=change.detail,
                )
            )
            session.commit()

    def recent(self, *, staff: str | None = None, limit: int = 20) -> list[AssistedSession]:
        """The latest sessions, newest first (of one staff member, or of everyone)."""
        statement = select(AssistedSession).order_by(col(AssistedSession.updated_at).desc())
        if staff is not None:
            statement = statement.where(AssistedSession.staff == staff)
        with Session(self.engine) as session:
            return list(session.exec(statement.limit(limit)))

    def audit(self, session_id: str) -> list[AuditEntry]:
        """Every change of a session, oldest first."""
        with Session(self.engine) as session:
            statement = (
                select(AuditEntry)
                .where(AuditEntry.session_id == session_id)
                .order_by(col(AuditEntry.id))
            )
            return list(session.exec(statement))
