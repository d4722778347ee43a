"""Staff presence (status and capacity) and the shop's opening hours, as stored.

Staff set their own status (available, busy, away) and how many chats they take at once
in the console; an admin sets the opening hours. Routing (:mod:`advisor.routing`) reads
both through :class:`advisor.handover.HandoverStore`. Functions take the session
keyword-only and commit, as :mod:`advisor.accounts` does.

Exceptions: :class:`InvalidPresenceError` (an unknown status, a capacity out of range),
part of the hand-over tree (:class:`advisor.routing.HandoverError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

from advisor.accounts import UTCDateTime
from advisor.routing import DEFAULT_CAPACITY, HandoverError, OpeningHours, Staff, StaffStatus

__all__ = [
    "MAX_CAPACITY",
    "InvalidPresenceError",
    "OpeningHoursSetting",
    "StaffPresence",
    "as_staff",
    "opening_hours",
    "presences",
    "set_opening_hours",
    "set_presence",
]

MAX_CAPACITY = 20


class StaffPresence(SQLModel, table=True):
    """What a staff member told the console: their status and how many chats they take."""

    __tablename__ = "advisor_staff_presence"

    staff: str = Field(primary_key=True, max_length=80)
    status: str = Field(max_length=16)
    capacity: int = DEFAULT_CAPACITY
    updated_at: datetime = Field(sa_type=UTCDateTime)


class OpeningHoursSetting(SQLModel, table=True):
    """The opening hours an admin set (one row)."""

    __tablename__ = "advisor_opening_hours"

    id: int = Field(default=1, primary_key=True)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    timezone: str = Field(max_length=64)
    updated_by: str = Field(max_length=80)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class InvalidPresenceError(HandoverError, ValueError):
    """A status or capacity that cannot be set."""


def set_presence(
    session: Session, *, staff: str, status: str, now: datetime, capacity: int | None = None
) -> StaffPresence:
    """Set a staff member's status (and capacity, if given) and commit.

    Raises:
        InvalidPresenceError: An unknown status, or a capacity not in 1 to
            :data:`MAX_CAPACITY`.
    """
    try:
        parsed = StaffStatus(status.strip().lower())
    except ValueError:
        raise InvalidPresenceError(
            f"unknown status {status!r}: choose available, busy or away"
        ) from None
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidPresenceError(
            f"a capacity of {capacity} chats cannot be set: choose 1 to {MAX_CAPACITY}"
        )
    row = session.get(StaffPresence, staff) or StaffPresence(
        staff=staff, status=parsed.value, updated_at=now
    )
    row.status, row.updated_at = parsed.value, now
    if capacity is not None:
        row.capacity = capacity
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def presences(session: Session) -> dict[str, StaffPresence]:
    """Every stored presence, by staff name."""
    return {r.staff: r for r in session.exec(select(StaffPresence)).all()}


def as_staff(rows: Mapping[str, StaffPresence], chats: Mapping[str | None, int]) -> list[Staff]:
    """Staff as routing sees them: a presence each (away if none) and their open chats."""
    names = sorted(set(rows) | {name for name in chats if name})
    return [
        Staff(
            name,
            StaffStatus(rows[name].status) if name in rows else StaffStatus.AWAY,
            rows[name].capacity if name in rows else DEFAULT_CAPACITY,
            chats.get(name, 0),
        )
        for name in names
    ]


def set_opening_hours(session: Session, *, hours: OpeningHours, by: str, now: datetime) -> None:
    """Store the opening hours and commit; hours that are always open clear them."""
    row = session.get(OpeningHoursSetting, 1)
    if hours.always:
        if row is not None:
            session.delete(row)
    else:
        row = row or OpeningHoursSetting(timezone=hours.timezone, updated_by=by, updated_at=now)
        row.spec, row.timezone = dict(hours.to_spec()), hours.timezone
        row.updated_by, row.updated_at = by, now
        session.add(row)
    session.commit()


def opening_hours(session: Session) -> OpeningHours:
    """The hours staff answer; always open until an admin sets some."""
    row = session.get(OpeningHoursSetting, 1)
    if row is None:
        return OpeningHours.around_the_clock()
    return OpeningHours.parse(row.spec, timezone=row.timezone)
