"""The shopper's conversation state in our database, written before the reply goes out.

Rasa keeps the state in a slot of its tracker, but it saves the tracker *after* the
action has answered, and a save that fails (PostgreSQL going away) is only logged: the
shopper was told "Got it: …" and the answer is gone on the next turn (Rasa 3.6's
``FailSafeTrackerStore``; seen in ``tests/integration/test_postgres_restart.py``). So
the action server writes every changed state here first, and an answer is acknowledged
only once it is stored. On the next turn the newer of the two copies wins (the state's
``seq``), and a tracker Rasa could not load at all (it then hands the action a new,
empty one) is recovered from here.

Table ``advisor_conversation`` (migration 0004): one row per conversation, its newest
state. Privacy's erase and purge delete it like every other store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from advisor.accounts import UTCDateTime
from advisor.state import ConversationState

__all__ = ["ConversationRecord", "ConversationStore", "newest_state"]


def _now() -> datetime:
    return datetime.now(UTC)


class ConversationRecord(SQLModel, table=True):
    """The newest state of one shopper's conversation."""

    __tablename__ = "advisor_conversation"

    conversation: str = Field(primary_key=True, max_length=64)
    seq: int = Field(default=0)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime, index=True)


class ConversationStore:
    """Reads and writes conversation states; a write never goes back to an older one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, conversation: str) -> ConversationState | None:
        """The stored state, or ``None`` for a conversation never stored.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The database does not answer.
        """
        with Session(self.engine) as session:
            record = session.get(ConversationRecord, conversation)
            return None if record is None else ConversationState.from_dict(record.state)

    def save(self, conversation: str, state: ConversationState) -> None:
        """Store ``state`` unless a newer one (a higher ``seq``) is stored already.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The database does not answer.
        """
        values = {"seq": state.seq, "state": state.to_dict(), "updated_at": _now()}
        table = ConversationRecord.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(table)
                .where(table.c.conversation == conversation, table.c.seq < state.seq)
                .values(**values)
            ).rowcount
            if changed:
                return
            exists = connection.execute(
                table.select()
                .with_only_columns(table.c.seq)
                .where(table.c.conversation == conversation)
            ).first()
            if exists is not None:
                return  # as new or newer already
            try:
                with connection.begin_nested():
                    connection.execute(table.insert().values(conversation=conversation, **values))
            except IntegrityError:
                pass  # another process stored it at the same moment: theirs or ours, both new


def newest_state(
    slot: ConversationState | None, stored: ConversationState | None, *, lost: bool
) -> ConversationState:
    """The state a turn starts from: Rasa's slot or ours, whichever is newer.

    Args:
        slot: The tracker's slot, ``None`` when it has none: a new conversation, one
            Rasa restarted (``/restart`` resets every slot), or a tracker not loaded.
        stored: Ours (:class:`ConversationStore`), ``None`` when never stored.
        lost: Whether Rasa could not load the tracker (its tracker store marks it,
            ``bot/addons/advisor_tracker_store.py``): ours is then the conversation.
    """
    if stored is None:
        return slot or ConversationState()
    if slot is None:
        # Not loaded: ours. Restarted: afresh, counting on after ours.
        return stored if lost else ConversationState(seq=stored.seq)
    return stored if stored.seq > slot.seq else slot
