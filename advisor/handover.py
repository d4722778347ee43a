"""Hand-over requests, staff presence and live-chat history, in the advisor's database.

:mod:`advisor.routing` decides; this store loads the snapshot it decides on, applies the
decisions and writes down what happened. Every change of a request and every message of
its live chat is a row of ``advisor_live_message`` (append-only, :mod:`advisor.live_payloads`),
written in the same transaction as the change, so a restart loses nothing and a
reloaded widget reads the whole chat back (:meth:`HandoverStore.history`). Methods
return the stored payloads as :class:`Event` (topic, payload), for the caller to publish
on the live channel *after* the commit (:class:`advisor.live.LiveDesk` does both).

Several web processes share one database: a request changes with a conditional update
(routing on the request's ``version``, a person's action on the state it needs), so two
staff members accepting at once, or two processes routing at once, cannot both succeed;
the one that loses is told (:class:`RequestTakenError`) or simply finds nothing left to
do. Not guarded: one staff member accepting two requests at the very same moment may
end one chat above their capacity.

Tables (made by the migrations, :mod:`advisor.schema`):
``advisor_staff_presence``, ``advisor_handover``, ``advisor_live_message``,
``advisor_inbox_message``, ``advisor_opening_hours``.

Presence and opening hours are stored by :mod:`advisor.presence`, the log by
:mod:`advisor.live_log`, the inbox by :mod:`advisor.inbox`; this store is the one door
to them for the web layer.

Exceptions: the tree of :class:`advisor.routing.HandoverError`, plus
:class:`UnknownHandoverError` here and
:class:`advisor.presence.InvalidPresenceError`.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Engine, bindparam, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Field, Session, SQLModel, col, select

from advisor import inbox, live_log, presence, routing
from advisor.accounts import UTCDateTime
from advisor.inbox import InboxMessage
from advisor.live_log import Event, LiveMessage
from advisor.live_payloads import LivePayload
from advisor.presence import InvalidPresenceError, OpeningHoursSetting, StaffPresence
from advisor.routing import (
    DEFAULT_ACCEPT_TIMEOUT,
    HandoverError,
    NotYourChatError,
    OpeningHours,
    RequestNotOpenError,
    RequestStatus,
    RequestTakenError,
    Staff,
    WaitingRequest,
)
from advisor.state import ConversationState
from product_rules.offers import OffersMessage

__all__ = [
    "Event",
    "HandoverRecord",
    "HandoverStore",
    "InvalidPresenceError",
    "UnknownHandoverError",
]

MAX_MESSAGE_LENGTH = 4000
#: A request that is waiting or found nobody may leave a message for the inbox.
_MAY_LEAVE_MESSAGE = routing.OPEN_STATUSES | {RequestStatus.TIMED_OUT}


class UnknownHandoverError(HandoverError, LookupError):
    """No hand-over has this id."""

    def __init__(self, handover: str) -> None:
        super().__init__(f"no hand-over request {handover!r}: it may have been purged")
        self.handover = handover


def _now() -> datetime:
    return datetime.now(UTC)


class HandoverRecord(SQLModel, table=True):
    """A shopper's request for a person, from the queue to the end of the live chat."""

    __tablename__ = "advisor_handover"

    id: str = Field(primary_key=True, max_length=32)
    conversation: str = Field(max_length=128, index=True)
    code: str | None = Field(default=None, max_length=16)
    #: The conversation state when the shopper asked (answers, offers so far).
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16, index=True)
    #: Why it ended: timeout, outside_hours, handed_back, closed, left_message.
    outcome: str | None = Field(default=None, max_length=32)
    staff: str | None = Field(default=None, max_length=80, index=True)
    offered_to: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: The last transfer's note for the colleague.
    note: str = Field(default="", max_length=1000)
    version: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    def conversation_state(self) -> ConversationState:
        """The state when the shopper asked."""
        return ConversationState.from_dict(self.state)

    def waiting(self) -> WaitingRequest:
        """The request as :mod:`advisor.routing` sees it."""
        return WaitingRequest(
            self.id,
            RequestStatus(self.status),
            self.created_at,
            tuple(self.offered_to),
            self.staff,
        )


TABLES = (StaffPresence, HandoverRecord, LiveMessage, InboxMessage, OpeningHoursSetting)


class HandoverStore:
    """Requests for a person, routed to staff, and the history of their live chats.

    Args:
        engine: The advisor's database.
        clock: Current time (aware, UTC); tests pass one they move.
        accept_timeout: How long a request waits for someone to accept it (60 s).
        chat_engine: Where chat messages are written (one autocommit statement each);
            default ``engine``. The web app gives PostgreSQL a pool of its own
            (:meth:`use_chat_engine`), so the busiest path never waits for a
            connection the pages and routing hold, nor opens one per burst.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _now,
        accept_timeout: timedelta = DEFAULT_ACCEPT_TIMEOUT,
        chat_engine: Engine | None = None,
    ) -> None:
        self.engine = engine
        self.use_chat_engine(chat_engine or engine)
        accepted = col(HandoverRecord.status) == RequestStatus.ACCEPTED.value
        in_chat = (col(HandoverRecord.id) == bindparam("chat_id")) & accepted
        self._by_anyone = live_log.checked_insert(in_chat)
        self._by_staff = live_log.checked_insert(
            in_chat & (col(HandoverRecord.staff) == bindparam("chat_staff"))
        )
        self.clock = clock
        self.accept_timeout = accept_timeout

    # -- staff and hours ------------------------------------------------------------------

    def set_presence(
        self, staff: str, *, status: str, capacity: int | None = None
    ) -> StaffPresence:
        """Set a staff member's status (and capacity, if given); routing follows on the next round.

        Raises:
            InvalidPresenceError: An unknown status, or a capacity not in 1 to 20.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            return presence.set_presence(
                session, staff=staff, status=status, capacity=capacity, now=self.clock()
            )

    def staff(self) -> list[Staff]:
        """Every staff member with a presence or a chat, with their open chats counted."""
        with Session(self.engine) as session:
            return self._staff(session)

    def _staff(self, session: Session) -> list[Staff]:
        rows = presence.presences(session)
        chats = Counter(
            session.exec(
                select(HandoverRecord.staff).where(
                    HandoverRecord.status == RequestStatus.ACCEPTED.value
                )
            ).all()
        )
        return presence.as_staff(rows, chats)

    def _one_staff(self, name: str) -> Staff:
        return next((s for s in self.staff() if s.name == name), Staff(name))

    def set_opening_hours(self, hours: OpeningHours, *, by: str) -> None:
        """Store the opening hours (an admin's setting); always open clears them."""
        with Session(self.engine) as session:
            presence.set_opening_hours(session, hours=hours, by=by, now=self.clock())

    def opening_hours(self) -> OpeningHours:
        """The hours staff answer; always open until an admin sets some."""
        with Session(self.engine) as session:
            return presence.opening_hours(session)

    # -- requests -------------------------------------------------------------------------

    def get(self, handover_id: str) -> HandoverRecord:
        """The request ``handover_id``.

        Raises:
            UnknownHandoverError: No such request.
        """
        with Session(self.engine) as session:
            record = session.get(HandoverRecord, handover_id)
        if record is None:
            raise UnknownHandoverError(handover_id)
        return record

    def latest_for(self, conversation: str) -> HandoverRecord | None:
        """The conversation's latest request, if it ever asked for a person."""
        with Session(self.engine) as session:
            return session.exec(
                select(HandoverRecord)
                .where(HandoverRecord.conversation == conversation)
                .order_by(col(HandoverRecord.created_at).desc())
                .limit(1)
            ).first()

    def queue(self) -> list[HandoverRecord]:
        """The requests waiting for someone, oldest first."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(HandoverRecord)
                    .where(col(HandoverRecord.status).in_([s.value for s in routing.OPEN_STATUSES]))
                    .order_by(col(HandoverRecord.created_at), col(HandoverRecord.id))
                ).all()
            )

    def chats(self, staff: str) -> list[HandoverRecord]:
        """The accepted chats ``staff`` is in, oldest first."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(HandoverRecord)
                    .where(
                        HandoverRecord.staff == staff,
                        HandoverRecord.status == RequestStatus.ACCEPTED.value,
                    )
                    .order_by(col(HandoverRecord.accepted_at))
                ).all()
            )

    def request(
        self, *, conversation: str, state: ConversationState, code: str | None = None
    ) -> tuple[HandoverRecord, list[Event]]:
        """Queue a shopper's request for a person and route it at once.

        A conversation with a request still waiting or in a live chat gets that one back
        (asking twice does not queue twice).
        """
        current = self.latest_for(conversation)
        if current is not None and current.status in (
            *routing.OPEN_STATUSES,
            RequestStatus.ACCEPTED,
        ):
            return current, []
        now = self.clock()
        record = HandoverRecord(
            id=secrets.token_hex(12),
            conversation=conversation,
            code=code,
            state=state.to_dict(),
            status=RequestStatus.QUEUED.value,
            created_at=now,
            updated_at=now,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(record)
            session.flush()
            position = len(self._open(session))
            events = self._append(session, record.id, "queued", None, position=position)
            session.commit()
        events += self.route()
        return self.get(record.id), events

    def _open(self, session: Session) -> list[HandoverRecord]:
        open_values = [s.value for s in routing.OPEN_STATUSES]
        return list(
            session.exec(
                select(HandoverRecord).where(col(HandoverRecord.status).in_(open_values))
            ).all()
        )

    def _positions(self, session: Session) -> dict[str, int]:
        return routing.queue_positions([r.waiting() for r in self._open(session)])

    def _moved_up(self, session: Session, before: dict[str, int]) -> list[Event]:
        """A new ``queued`` payload for each request that moved up since ``before``."""
        moved = [
            (handover_id, "queued", None, {"position": position})
            for handover_id, position in self._positions(session).items()
            if position < before.get(handover_id, position)
        ]
        return live_log.append_many(session, moved, now=self.clock())

    def route(self) -> list[Event]:
        """Apply :func:`advisor.routing.route` to the queue now (call it every few seconds)."""
        now = self.clock()
        events: list[Event] = []
        with Session(self.engine, expire_on_commit=False) as session:
            hours, staff = presence.opening_hours(session), self._staff(session)
            records = {r.id: r for r in self._open(session)}
            before = routing.queue_positions([r.waiting() for r in records.values()])
            decisions = routing.route(
                [r.waiting() for r in records.values()],
                staff,
                now=now,
                hours=hours,
                accept_timeout=self.accept_timeout,
            )
            for decision in decisions:
                record = records[decision.request]
                if isinstance(decision, routing.Offer):
                    changes: dict[str, Any] = {
                        "status": RequestStatus.OFFERED.value,
                        "offered_to": list(decision.staff),
                    }
                    fields: dict[str, Any] = {"staff": list(decision.staff)}
                    kind = "offered"
                elif isinstance(decision, routing.Wait):
                    changes = {"status": RequestStatus.QUEUED.value, "offered_to": []}
                    fields, kind = {"staff": []}, "offered"
                else:
                    timeout = decision.reason == "timeout"
                    status = RequestStatus.TIMED_OUT if timeout else RequestStatus.CLOSED
                    changes = {
                        "status": status.value,
                        "outcome": decision.reason,
                        "offered_to": [],
                        "ended_at": now,
                    }
                    fields, kind = {"reason": decision.reason}, "nobody_available"
                if self._change(session, record, **changes):
                    events += self._append(session, record.id, kind, None, **fields)
            events += self._moved_up(session, before)
            session.commit()
        return events

    def _change(
        self, session: Session, record: HandoverRecord, *, when: Any = None, **values: Any
    ) -> bool:
        """Update ``record`` if it is still as read (or, given ``when``, still in that state).

        Routing guards with the version (its decisions hold for the snapshot it read);
        a person's action guards with the state it needs (an accept only needs the
        request to be open, however often it was re-offered meanwhile).
        """
        guard = when if when is not None else col(HandoverRecord.version) == record.version
        result = session.exec(
            update(HandoverRecord)
            .where(col(HandoverRecord.id) == record.id, guard)
            .values(version=col(HandoverRecord.version) + 1, updated_at=self.clock(), **values)
        )
        return bool(result.rowcount == 1)

    def _append(
        self, session: Session, handover_id: str, kind: str, author: str | None, **fields: Any
    ) -> list[Event]:
        return live_log.append(
            session, handover_id=handover_id, kind=kind, author=author, now=self.clock(), **fields
        )

    # -- the live chat --------------------------------------------------------------------

    def accept(self, handover_id: str, *, staff: str) -> tuple[HandoverRecord, list[Event]]:
        """``staff`` accepts the request; the first to accept gets it.

        Raises:
            UnknownHandoverError: No such request.
            RequestTakenError: Someone accepted it first.
            RequestNotOpenError: It ended, or its accept timeout passed.
            StaffUnavailableError: ``staff`` is busy, away or full.
        """
        record = self.get(handover_id)
        routing.accept(
            record.waiting(),
            self._one_staff(staff),
            now=self.clock(),
            accept_timeout=self.accept_timeout,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            now = self.clock()
            before = self._positions(session)
            changed = self._change(
                session,
                record,
                when=col(HandoverRecord.status).in_([s.value for s in routing.OPEN_STATUSES]),
                status=RequestStatus.ACCEPTED.value,
                staff=staff,
                offered_to=[],
                accepted_at=now,
            )
            if not changed:
                now_as = self.get(handover_id)
                if now_as.status == RequestStatus.ACCEPTED:
                    raise RequestTakenError(handover_id, now_as.staff)
                raise RequestNotOpenError(handover_id, now_as.status)
            events = self._append(session, handover_id, "taken", staff, staff=staff)
            events += self._append(session, handover_id, "staff_joined", staff, staff=staff)
            events += self._moved_up(session, before)
            session.commit()
        return self.get(handover_id), events

    def transfer(self, handover_id: str, *, by: str, to: str, note: str = "") -> list[Event]:
        """``by`` hands the chat to the colleague ``to`` with a note; the history stays.

        Raises:
            UnknownHandoverError: No such request.
            NotYourChatError: ``by`` is not in this chat.
            StaffUnavailableError: ``to`` cannot take a chat now (or is ``by``).
        """
        record = self.get(handover_id)
        moved = routing.transfer(record.waiting(), by=by, to=self._one_staff(to), note=note)
        with Session(self.engine) as session:
            in_chat = (col(HandoverRecord.status) == RequestStatus.ACCEPTED.value) & (
                col(HandoverRecord.staff) == by
            )
            if not self._change(
                session, record, when=in_chat, staff=moved.to_staff, note=moved.note
            ):
                raise NotYourChatError(handover_id, by)
            events = self._append(
                session,
                handover_id,
                "transferred",
                by,
                from_staff=moved.from_staff,
                to_staff=moved.to_staff,
                note=moved.note,
            )
            events += self._append(
                session, handover_id, "staff_joined", moved.to_staff, staff=moved.to_staff
            )
            session.commit()
        return events

    def _in_chat(self, handover_id: str, staff: str | None) -> HandoverRecord:
        record = self.get(handover_id)
        if record.status != RequestStatus.ACCEPTED.value:
            raise RequestNotOpenError(handover_id, record.status)
        if staff is not None and record.staff != staff:
            raise NotYourChatError(handover_id, staff)
        return record

    def use_chat_engine(self, engine: Engine) -> None:
        """Write chat messages through ``engine`` (the same database, a pool of its own)."""
        self.chat_engine = engine
        self._chat = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _append_in_chat(
        self, handover_id: str, member: str | None, kind: str, author: str | None, **fields: Any
    ) -> list[Event]:
        """Store a payload of a live chat if it is live (and ``staff``'s): one statement.

        Raises:
            UnknownHandoverError: No such request.
            RequestNotOpenError: Nobody is in the chat (not accepted, or ended).
            NotYourChatError: ``member`` (a staff member) is not the one in the chat.
        """
        statement, guard = self._by_anyone, {"chat_id": handover_id}
        if member is not None:
            statement, guard = self._by_staff, {**guard, "chat_staff": member}
        for attempt in (1, 2):
            try:
                with self._chat.connect() as connection:
                    events = live_log.append_if(
                        connection,
                        statement,
                        guard,
                        handover_id=handover_id,
                        kind=kind,
                        author=author,
                        now=self.clock(),
                        **fields,
                    )
                break
            except DBAPIError as exc:
                # A pooled connection the server dropped (a restart): the pool is
                # invalidated; one more try on a fresh connection.
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        if events is None:  # refused: say why
            record = self._in_chat(handover_id, member)
            raise RequestNotOpenError(handover_id, record.status)  # pragma: no cover - a race
        return events

    def say(self, handover_id: str, *, text: str, staff: str | None = None) -> list[Event]:
        """Store a message of the chat: by ``staff``, or by the shopper when ``None``.

        Raises:
            UnknownHandoverError: No such request.
            RequestNotOpenError: Nobody is in the chat (not accepted, or ended).
            NotYourChatError: ``staff`` is not the one in the chat.
        """
        body = text.strip()[:MAX_MESSAGE_LENGTH]
        if staff is None:
            return self._append_in_chat(handover_id, None, "shopper_message", None, text=body)
        return self._append_in_chat(
            handover_id, staff, "staff_message", staff, staff=staff, text=body
        )

    def push_offers(self, handover_id: str, *, staff: str, offers: OffersMessage) -> list[Event]:
        """Store an offer card the staff member pushes into the chat."""
        return self._append_in_chat(
            handover_id, staff, "offer_card", staff, staff=staff, offers=dict(offers)
        )

    def end(self, handover_id: str, *, by: str, hand_back: bool = True) -> list[Event]:
        """End the live chat: handed back to the bot, or closed (``by`` may be "shopper").

        Raises:
            UnknownHandoverError: No such request.
            RequestNotOpenError: The chat is not live.
            NotYourChatError: ``by`` is another staff member.
        """
        record = self._in_chat(handover_id, None if by == "shopper" else by)
        outcome = "handed_back" if hand_back else "closed"
        with Session(self.engine) as session:
            changed = self._change(
                session,
                record,
                when=(col(HandoverRecord.status) == RequestStatus.ACCEPTED.value)
                & (col(HandoverRecord.staff) == record.staff),
                status=RequestStatus.CLOSED.value,
                outcome=outcome,
                ended_at=self.clock(),
            )
            if not changed:
                raise RequestNotOpenError(handover_id, self.get(handover_id).status)
            if hand_back:
                events = self._append(session, handover_id, "handed_back", by, staff=by)
            else:
                events = self._append(session, handover_id, "closed", by, by=by)
            session.commit()
        return events

    def leave_message(
        self,
        handover_id: str,
        *,
        text: str,
        email: str | None = None,
        phone: str | None = None,
    ) -> tuple[InboxMessage, list[Event]]:
        """The shopper leaves a message for the inbox instead of waiting (or after).

        Raises:
            UnknownHandoverError: No such request.
            RequestNotOpenError: A staff member is in the chat (or a message was left).
            InvalidInboxMessageError: An empty message or unusable contact details.
        """
        record = self.get(handover_id)
        closed_hours = record.status == RequestStatus.CLOSED and record.outcome == "outside_hours"
        if record.status not in _MAY_LEAVE_MESSAGE and not closed_hours:
            raise RequestNotOpenError(handover_id, record.status)
        inbox.check_contact(text, email, phone)
        with Session(self.engine, expire_on_commit=False) as session:
            before = self._positions(session)
            changed = self._change(
                session,
                record,
                when=col(HandoverRecord.status) == record.status,
                status=RequestStatus.LEFT_MESSAGE.value,
                outcome=record.outcome or "left_message",
                offered_to=[],
                ended_at=record.ended_at or self.clock(),
            )
            if not changed:
                raise RequestNotOpenError(handover_id, self.get(handover_id).status)
            message = inbox.add_message(
                session,
                text=text,
                email=email,
                phone=phone,
                handover_id=handover_id,
                conversation=record.conversation,
                now=self.clock(),
            )
            events = self._append(session, handover_id, "message_left", None, inbox=message.id)
            events += self._moved_up(session, before)
            session.commit()
        return message, events

    def inbox(self, *, unread_only: bool = False, limit: int = 50) -> list[InboxMessage]:
        """The messages shoppers left, newest first."""
        with Session(self.engine) as session:
            return inbox.list_messages(session, unread_only=unread_only, limit=limit)

    def history(
        self, handover_id: str, *, shopper: bool = False, after: int = 0
    ) -> list[LivePayload]:
        """Every payload of a hand-over, oldest first; ``shopper`` leaves out staff-only ones.

        ``after``: only those with a greater id (a reconnecting stream's backlog).
        """
        with Session(self.engine) as session:
            return live_log.read(session, handover_id, shopper=shopper, after=after)

    def conversation_history(
        self, conversation: str, *, shopper: bool = False
    ) -> list[LivePayload]:
        """Every payload of every hand-over of a conversation (a reloaded widget's view)."""
        with Session(self.engine) as session:
            ids: Iterable[str] = session.exec(
                select(HandoverRecord.id)
                .where(HandoverRecord.conversation == conversation)
                .order_by(col(HandoverRecord.created_at))
            ).all()
        return [p for handover_id in ids for p in self.history(handover_id, shopper=shopper)]
