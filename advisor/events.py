"""The advisor's event log: what happened in each conversation, for the workbench's reports.

Events are derived from what a turn did to the conversation state (:func:`events_of`):
the advisor's own logic stays free of bookkeeping, and every face (chat, console,
preview) produces the same events for the same behaviour. The log is append-only;
the only deletion is erasing one conversation (privacy requests, :meth:`EventLog.erase`).

Writing must not slow a turn (target: under 1 ms added): :meth:`EventLog.record` only
queues rows, a background thread writes them in batches. Rows that fail to write are
kept and retried, and the queue is written out when the log is closed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Engine, Index, delete, insert
from sqlmodel import Field, SQLModel, col

from advisor.accounts import UTCDateTime
from advisor.reply import Reply
from advisor.state import ConversationState

__all__ = [
    "TABLE_NAMES",
    "AdvisorEvent",
    "Event",
    "EventKind",
    "EventLog",
    "OfferShown",
    "Scope",
    "TurnRecord",
    "events_of",
]

log = logging.getLogger(__name__)

#: Longest answer text kept (a shopper may paste anything into the chat).
MAX_TEXT = 300


class EventKind(StrEnum):
    """What happened in a turn."""

    STARTED = "started"  # a rule set was chosen
    ASKED = "asked"  # a question was put
    ANSWERED = "answered"  # a question got its first answer
    CHANGED = "changed"  # an answer was changed
    DONT_KNOW = "dont_know"  # "not sure": the question's default or no preference
    NOT_UNDERSTOOD = "not_understood"  # free text the parser could not map
    RELAXED = "relaxed"  # wishes loosened to find offers
    OFFERS_SHOWN = "offers_shown"
    OFFER_CLICKED = "offer_clicked"  # reported by the widget
    HANDOVER_ASKED = "handover_asked"
    HANDOVER_TAKEN = "handover_taken"
    RATED = "rated"
    ENDED = "ended"  # started over, or a live chat closed


class AdvisorEvent(SQLModel, table=True):
    """One event of one conversation."""

    __tablename__ = "advisor_event"
    __table_args__ = (
        # Covering for the reports that read events (gaps, not understood): led by the
        # kind, which picks a few percent of the rows, then all they filter and group by.
        Index(
            "ix_advisor_event_reports",
            "kind",
            "ruleset",
            "at",
            "question",
            "value",
            "conversation",
            "version",
            "language",
            "channel",
        ),
        Index("ix_advisor_event_conversation", "conversation", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    conversation: str = Field(max_length=64)
    ruleset: str | None = Field(default=None, max_length=64)
    version: int | None = None
    channel: str = Field(max_length=16)
    language: str = Field(max_length=8)
    kind: str = Field(max_length=24)
    question: str | None = Field(default=None, max_length=64)
    #: The answer (JSON text), the rating, the typed text or the group of unmet wishes:
    #: what the reports group by, so it is a plain column and not inside ``data``.
    value: str | None = Field(default=None, max_length=MAX_TEXT + 20)
    #: How an answer came: ``clicked``, ``typed`` or ``staff``; a rating: ``bot``/``staff``.
    how: str | None = Field(default=None, max_length=16)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OfferShown(SQLModel, table=True):
    """One product shown as an offer's main item (the "never recommended" report)."""

    __tablename__ = "advisor_offer_shown"
    # Covering, led by the product: "never recommended" reads the index alone.
    __table_args__ = (
        Index(
            "ix_advisor_offer_shown_sku", "sku", "ruleset", "version", "language", "channel", "at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    conversation: str = Field(max_length=64, index=True)
    ruleset: str = Field(max_length=64)
    version: int | None = None
    channel: str = Field(max_length=16)
    language: str = Field(max_length=8)
    sku: str = Field(max_length=64)
    rank: int


TABLE_NAMES = (AdvisorEvent.__tablename__, OfferShown.__tablename__)


@dataclass(frozen=True, slots=True)
class Event:
    """An event before it is stored: what happened, without who and when."""

    kind: EventKind
    question: str | None = None
    value: Any = None
    how: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def _clicked(turn_text: str, entities: Mapping[str, str]) -> bool:
    return "choice" in entities or turn_text.startswith("/")


def events_of(
    before: ConversationState,
    after: ConversationState,
    reply: Reply,
    *,
    text: str = "",
    entities: Mapping[str, str] | None = None,
    intent: str | None = None,
) -> list[Event]:
    """The events of one turn, from the state before and after it and the reply.

    Args:
        before: The state the turn started from.
        after: The state it left.
        reply: What the advisor answered.
        text: What the person wrote or the button's payload.
        entities: Entities of the message (buttons carry ``choice``).
        intent: The intent Rasa recognised, if any.
    """
    entities = entities or {}
    events: list[Event] = []
    if after.ruleset and (after.ruleset != before.ruleset or _restarted(before, after)):
        events.append(Event(EventKind.STARTED))
    if before.ruleset and (after.ruleset != before.ruleset or _restarted(before, after)):
        events.insert(0, Event(EventKind.ENDED, data={"why": "start_over"}))
    how = "clicked" if _clicked(text, entities) else "typed"
    if after.channel == "console":
        how = "staff"
    same_ruleset = after.ruleset == before.ruleset
    for question, value in after.answers.items():
        if question not in before.answers or not same_ruleset:
            kind = EventKind.DONT_KNOW if value is None else EventKind.ANSWERED
            events.append(Event(kind, question, value, how))
        elif before.answers[question] != value:
            events.append(
                Event(EventKind.CHANGED, question, value, how, {"from": before.answers[question]})
            )
    answered = any(e.kind in (EventKind.ANSWERED, EventKind.DONT_KNOW) for e in events)
    if (
        before.question
        and before.question == after.question
        and same_ruleset
        and not answered
        and not _clicked(text, entities)
        and text.strip()
        and intent not in ("ask_why", "explain_term", "human_handoff", "greet", "start_over")
    ):
        events.append(
            Event(EventKind.NOT_UNDERSTOOD, before.question, " ".join(text.split())[:MAX_TEXT])
        )
    if after.question and (after.question != before.question or not same_ruleset):
        events.append(Event(EventKind.ASKED, after.question))
    for payload in reply.payloads:
        if payload.get("type") == "offers":
            events.extend(_offer_events(payload))
        elif payload.get("type") == "handoff":
            events.append(Event(EventKind.HANDOVER_ASKED))
    return events


def _restarted(before: ConversationState, after: ConversationState) -> bool:
    """The same rule set chosen again from a fresh state ("start over")."""
    return bool(before.answers) and not after.answers and after.ruleset == before.ruleset


def _offer_events(payload: Mapping[str, Any]) -> list[Event]:
    events: list[Event] = []
    relaxation = payload.get("relaxation") or {}
    unmet = [str(w) for w in relaxation.get("unmet") or []]
    applied = [
        str(w) for c in relaxation.get("choices") or [] if c.get("applied") for w in c["relax"]
    ]
    if unmet:
        # The gap report groups by the wishes that could not all be met with what the
        # shopper asked of them ("your budget" at 400 EUR), so one line gets a count.
        asked = {
            question: payload["answers"].get(question)
            for choice in relaxation.get("choices") or []
            for question in choice.get("answers") or {}
        }
        events.append(
            Event(
                EventKind.RELAXED,
                value={"unmet": sorted(unmet), "asked": asked},
                data={"unmet": unmet, "relaxed": applied, "answers": dict(payload["answers"])},
            )
        )
    offers = [
        {"rank": o["rank"], "sku": o["items"][0]["sku"], "total": o["total_price"]}
        for o in payload.get("offers") or []
        if o.get("items")
    ]
    events.append(Event(EventKind.OFFERS_SHOWN, value=str(len(offers)), data={"offers": offers}))
    return events


def _json(value: Any) -> str | None:
    """The value as JSON text (one spelling, so the reports can group by it)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)[: MAX_TEXT + 20]


@dataclass(frozen=True, slots=True)
class Scope:
    """Who and where: the part of a row that every event of a turn shares."""

    conversation: str
    ruleset: str | None
    version: int | None
    channel: str
    language: str


@dataclass(slots=True)
class TurnRecord:
    """The rows of one recorded call, kept together so the facts see whole turns."""

    scope: Scope
    at: datetime
    kinds: list[str]
    events: list[dict[str, Any]]
    offers: list[dict[str, Any]]
    #: A shopper's turn (it counts towards "turns to offers"); clicks and ratings are not.
    is_turn: bool


class EventLog:
    """Queues events and writes them in batches from a background thread.

    Each flush writes the events and updates the per-conversation facts
    (:mod:`advisor.facts`) in one transaction, so the reports never see one without
    the other.

    Args:
        engine: The advisor's database.
        flush_seconds: How long an event may wait in the queue.
        max_queue: Events kept while the database does not answer; the oldest go first
            (and are counted in the log) once it is full.
        clock: Now, as an aware datetime (tests pass their own).
        background: Start the writer thread; without it the owner calls :meth:`flush`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        flush_seconds: float = 0.5,
        max_queue: int = 100_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        background: bool = True,
    ) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.max_queue = max_queue
        self.clock = clock
        self._queue: list[TurnRecord] = []
        self._queued = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self.dropped = 0
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="advisor-events", daemon=True)
            self._thread.start()

    def record(self, scope: Scope, events: Sequence[Event], *, turn: bool = True) -> None:
        """Queue the events of one turn (cheap: no database work here).

        Args:
            scope: Whose conversation, which rule set and version, channel, language.
            events: What happened (:func:`events_of`).
            turn: Whether this was a shopper's turn; ``False`` for what the widget or
                staff report beside the conversation (a click, a rating, a hand-over).
        """
        if not events:
            return
        at = self.clock()
        shared = {
            "at": at,
            "conversation": scope.conversation,
            "ruleset": scope.ruleset,
            "version": scope.version,
            "channel": scope.channel,
            "language": scope.language,
        }
        rows = [
            {
                **shared,
                "kind": event.kind.value,
                "question": event.question,
                "value": _json(event.value),
                "how": event.how,
                "data": dict(event.data),
            }
            for event in events
        ]
        offers = [
            {**shared, "sku": offer["sku"], "rank": offer["rank"]}
            for event in events
            if event.kind is EventKind.OFFERS_SHOWN and scope.ruleset
            for offer in event.data.get("offers", [])
        ]
        record = TurnRecord(scope, at, [e.kind.value for e in events], rows, offers, turn)
        with self._lock:
            self._queue.append(record)
            self._queued += len(rows)
            while self._queued > self.max_queue and len(self._queue) > 1:
                oldest = self._queue.pop(0)
                self._queued -= len(oldest.events)
                self.dropped += len(oldest.events)
                log.error(
                    "event log full: %d events of conversation %s dropped",
                    len(oldest.events),
                    oldest.scope.conversation,
                )

    def flush(self) -> int:
        """Write what is queued in one transaction; the number of events written."""
        from advisor import facts

        with self._write_lock:
            with self._lock:
                records, self._queue = self._queue, []
                self._queued = 0
            if not records:
                return 0
            written = sum(len(r.events) for r in records)
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        insert(AdvisorEvent.__table__),  # type: ignore[attr-defined]
                        [row for r in records for row in r.events],
                    )
                    offers = [row for r in records for row in r.offers]
                    if offers:
                        connection.execute(insert(OfferShown.__table__), offers)  # type: ignore[attr-defined]
                    for record in records:
                        facts.apply(connection, record)
            except Exception:
                log.exception("event log: %d events not written, kept for the next try", written)
                with self._lock:
                    self._queue[:0] = records
                    self._queued += written
                return 0
            return written

    def pending(self) -> int:
        """Events queued and not yet written."""
        with self._lock:
            return self._queued

    def erase(self, conversation: str) -> int:
        """Delete every event and fact of one conversation (a privacy request)."""
        from advisor import facts

        self.flush()
        with self._lock:
            kept = [r for r in self._queue if r.scope.conversation != conversation]
            self._queued -= sum(len(r.events) for r in self._queue if r not in kept)
            self._queue = kept
        deleted = 0
        with self.engine.begin() as connection:
            for table in (AdvisorEvent, OfferShown):
                result = connection.execute(
                    delete(table).where(col(table.conversation) == conversation)
                )
                deleted += int(result.rowcount or 0)
            deleted += facts.erase(connection, conversation)
        return deleted

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Write out what is queued and stop the writer."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
