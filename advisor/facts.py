"""One row per advised conversation, kept up to date as its events are written.

The reports count conversations: how many started, reached each question, saw offers,
clicked, rated. Counting distinct conversations over a million events takes seconds;
over one row per conversation it takes milliseconds. So each flush of the event log
(:class:`advisor.events.EventLog`) also updates these facts, in the same transaction,
with statements that need no read first (``SET answered = answered + 1``), so the
action server and the web app can both write facts of one conversation.

A conversation that starts over begins a new row (a new *run*): the funnel then counts
two starts, as a shopper who starts twice went through it twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Index, UniqueConstraint, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from advisor.accounts import UTCDateTime

if TYPE_CHECKING:
    from advisor.events import Scope, TurnRecord

__all__ = ["TABLE_NAMES", "AnswerFact", "ConversationFacts", "apply", "current_scope", "erase"]


class ConversationFacts(SQLModel, table=True):
    """What one run of a conversation came to."""

    __tablename__ = "advisor_conversation_facts"
    __table_args__ = (
        # Led by time, covering what the reports read: a period's rows come from the
        # index alone (no lookup per row). Not led by the rule set: a filter on it alone
        # matches nearly every row, and SQLite then looked up each one instead of
        # scanning the table (bench/analytics.py).
        Index(
            "ix_advisor_facts_reports",
            "started_at",
            "ruleset",
            "version",
            "language",
            "channel",
            "offers_at",
            "last_asked",
            "clicked",
            "handover_asked",
            "handover_taken",
            "rating_bot",
            "rating_staff",
            "seconds_to_offers",
            "turns_to_offers",
        ),
        Index("ix_advisor_facts_conversation", "conversation", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation: str = Field(max_length=64)
    ruleset: str = Field(max_length=64)
    version: int | None = None
    channel: str = Field(max_length=16)
    language: str = Field(max_length=8)
    started_at: datetime = Field(sa_type=UTCDateTime)
    last_asked: str | None = Field(default=None, max_length=64)
    #: Shopper turns so far, until the first offers.
    turns: int = 0
    offers_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    turns_to_offers: int | None = None
    seconds_to_offers: float | None = None
    clicked: bool = False
    handover_asked: bool = False
    handover_taken: bool = False
    rating_bot: int | None = None
    rating_staff: int | None = None
    ended: bool = False


class AnswerFact(SQLModel, table=True):
    """The first answer of a run to one question ("don't know" is ``None``).

    The run's filter columns are repeated here, so counting answers needs no join
    (a join over a million rows is what made the first version miss its target).
    """

    __tablename__ = "advisor_answer_fact"
    __table_args__ = (
        UniqueConstraint("facts_id", "question"),
        # Covering: the answer counts read the index alone, already grouped.
        Index(
            "ix_advisor_answer_fact_counts",
            "question",
            "value",
            "ruleset",
            "version",
            "language",
            "channel",
            "started_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    facts_id: int = Field(foreign_key="advisor_conversation_facts.id", index=True)
    question: str = Field(max_length=64)
    value: str | None = Field(default=None, max_length=320)
    ruleset: str = Field(max_length=64)
    version: int | None = None
    channel: str = Field(max_length=16)
    language: str = Field(max_length=8)
    started_at: datetime = Field(sa_type=UTCDateTime)


TABLE_NAMES = (ConversationFacts.__tablename__, AnswerFact.__tablename__)

_FACTS = ConversationFacts.__table__  # type: ignore[attr-defined]
_ANSWERS = AnswerFact.__table__  # type: ignore[attr-defined]


def _latest(conversation: str) -> Any:
    """The id of the conversation's current run, as a scalar subquery."""
    return (
        select(func.max(_FACTS.c.id)).where(_FACTS.c.conversation == conversation).scalar_subquery()
    )


def _insert_answer(connection: Connection, values: dict[str, Any]) -> None:
    """Keep the first answer to a question: a second one for it changes nothing."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(_ANSWERS).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(_ANSWERS).values(**values).on_conflict_do_nothing()
    else:  # other servers: a duplicate is simply not inserted
        exists = select(_ANSWERS.c.id).where(
            _ANSWERS.c.facts_id == values["facts_id"], _ANSWERS.c.question == values["question"]
        )
        if connection.execute(exists).first() is not None:
            return
        statement = insert(_ANSWERS).values(**values)
    connection.execute(statement)


def _current(connection: Connection, conversation: str) -> Any:
    """The conversation's current run (a row), if it has one."""
    return connection.execute(select(_FACTS).where(_FACTS.c.id == _latest(conversation))).first()


def current_scope(connection: Connection, conversation: str) -> Scope | None:
    """Rule set, version, channel and language of the conversation's current run.

    What the widget and staff report beside the turns (a click, a rating, a hand-over
    taken) is filed under this, without asking Rasa for the conversation's state.
    Tables that do not exist yet mean no run.
    """
    from advisor.events import Scope

    try:
        row = _current(connection, conversation)
    except SQLAlchemyError:
        return None
    if row is None:
        return None
    return Scope(conversation, row.ruleset, row.version, row.channel, row.language)


def apply(connection: Connection, record: TurnRecord) -> None:
    """Update the facts with one recorded turn (inside the flush's transaction)."""
    scope = record.scope
    if "started" in record.kinds and scope.ruleset:
        connection.execute(
            insert(_FACTS).values(
                conversation=scope.conversation,
                ruleset=scope.ruleset,
                version=scope.version,
                channel=scope.channel,
                language=scope.language,
                started_at=record.at,
            )
        )
    latest = _latest(scope.conversation)
    run = _FACTS.c.id == latest
    if record.is_turn:
        connection.execute(
            update(_FACTS).where(run, _FACTS.c.offers_at.is_(None)).values(turns=_FACTS.c.turns + 1)
        )
    changes: dict[str, Any] = {}
    for row in record.events:
        kind = row["kind"]
        if kind == "asked":
            changes["last_asked"] = row["question"]
        elif kind in ("answered", "dont_know"):
            current = _current(connection, scope.conversation)
            if current is not None:
                _insert_answer(
                    connection,
                    {
                        "facts_id": current.id,
                        "question": row["question"],
                        "value": row["value"],
                        "ruleset": current.ruleset,
                        "version": current.version,
                        "channel": current.channel,
                        "language": current.language,
                        "started_at": current.started_at,
                    },
                )
        elif kind == "offers_shown":
            current = _current(connection, scope.conversation)
            if current is not None and current.offers_at is None:
                changes["offers_at"] = record.at
                changes["turns_to_offers"] = _FACTS.c.turns
                changes["seconds_to_offers"] = (record.at - current.started_at).total_seconds()
        elif kind == "offer_clicked":
            changes["clicked"] = True
        elif kind == "handover_asked":
            changes["handover_asked"] = True
        elif kind == "handover_taken":
            changes["handover_taken"] = True
        elif kind == "rated" and row["value"] is not None:
            column = "rating_staff" if row["how"] == "staff" else "rating_bot"
            changes[column] = int(row["value"])
        elif kind == "ended":
            # "start over" ends the run before the new one: it is the previous row.
            if "started" in record.kinds:
                connection.execute(
                    update(_FACTS)
                    .where(
                        _FACTS.c.id
                        == select(func.max(_FACTS.c.id))
                        .where(_FACTS.c.conversation == scope.conversation, _FACTS.c.id < latest)
                        .scalar_subquery()
                    )
                    .values(ended=True)
                )
            else:
                changes["ended"] = True
    if changes:
        connection.execute(update(_FACTS).where(run).values(**changes))


def erase(connection: Connection, conversation: str) -> int:
    """Delete the facts of one conversation; rows deleted."""
    runs = select(_FACTS.c.id).where(_FACTS.c.conversation == conversation)
    answers = connection.execute(delete(_ANSWERS).where(_ANSWERS.c.facts_id.in_(runs)))
    facts = connection.execute(delete(_FACTS).where(_FACTS.c.conversation == conversation))
    return int(answers.rowcount or 0) + int(facts.rowcount or 0)
