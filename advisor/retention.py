"""Retention: conversations silent for longer than the configured days are erased.

A conversation's last activity is the newest moment any store saw it: a message in
Rasa's tracker, an analytics event, a rating, a hand-over, a code, a message left for
staff. :func:`purge` erases, with :func:`advisor.privacy.erase`, every conversation
whose last activity is older than the cut-off, so nothing outlives the retention the
widget's notice promises; the analytics keep their anonymous counts (the erasure
anonymises them). ``advisor privacy purge`` runs it, by hand or from cron.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, func, inspect, select

from advisor.conversation_store import ConversationRecord
from advisor.events import AdvisorEvent
from advisor.handover import HandoverRecord
from advisor.inbox import InboxMessage
from advisor.privacy import ERASED_PREFIX, Stores, erase, rasa_events
from advisor.ratings import Rating
from advisor.sharing import SharedConfiguration

__all__ = ["PurgeResult", "cutoff", "due", "last_activity", "now", "purge"]

#: Each store's conversation column and the column saying when it last changed.
_ACTIVITY: tuple[tuple[Any, str, str], ...] = (
    (ConversationRecord, "conversation", "updated_at"),
    (AdvisorEvent, "conversation", "at"),
    (Rating, "conversation", "updated_at"),
    (HandoverRecord, "conversation", "updated_at"),
    (SharedConfiguration, "conversation", "created_at"),
    (InboxMessage, "conversation", "created_at"),
)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge did: the conversations erased and the rows per table."""

    cutoff: datetime
    conversations: int
    counts: dict[str, int] = field(default_factory=dict)


def now() -> datetime:
    """The current moment, aware (UTC)."""
    return datetime.now(UTC)


def cutoff(days: int, moment: datetime) -> datetime:
    """The moment before which a conversation's last activity makes it due."""
    if days <= 0:
        raise ValueError(f"retention must be a positive number of days, got {days}")
    return moment - timedelta(days=days)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _latest(engine: Engine, table: Table, who: str, when: str) -> dict[str, datetime]:
    if not inspect(engine).has_table(table.name):
        return {}
    statement = (
        select(table.c[who], func.max(table.c[when]))
        .where(table.c[who].is_not(None))
        .group_by(table.c[who])
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    found = {}
    for conversation, moment in rows:
        at = _aware(moment)
        if at is not None and not str(conversation).startswith(ERASED_PREFIX):
            found[str(conversation)] = at
    return found


def last_activity(stores: Stores) -> dict[str, datetime]:
    """Every conversation still stored and the newest moment any store saw it."""
    latest: dict[str, datetime] = {}

    def merge(found: dict[str, datetime]) -> None:
        for conversation, at in found.items():
            if conversation not in latest or at > latest[conversation]:
                latest[conversation] = at

    for model, who, when in _ACTIVITY:
        merge(_latest(stores.engine, model.__table__, who, when))
    if stores.tracker is not None:
        events = rasa_events(stores.tracker)
        if events is not None:
            merge(_latest(stores.tracker, events, "sender_id", "timestamp"))
    return latest


def due(stores: Stores, before: datetime) -> list[str]:
    """The conversations whose last activity is older than ``before``, sorted."""
    return sorted(c for c, at in last_activity(stores).items() if at < before)


def purge(stores: Stores, *, days: int, clock: Callable[[], datetime] = now) -> PurgeResult:
    """Erase every conversation whose last activity is more than ``days`` days ago."""
    before = cutoff(days, clock())
    conversations = due(stores, before)
    totals: dict[str, int] = {}
    for conversation in conversations:
        counts = erase(stores, conversation, actor="retention", via="retention", clock=clock)
        for table, n in counts.items():
            totals[table] = totals.get(table, 0) + n
    return PurgeResult(cutoff=before, conversations=len(conversations), counts=totals)
