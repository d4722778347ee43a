"""Who takes a shopper's request for a person: a pure routing algorithm.

The algorithm sees a snapshot (the staff with their status, capacity and open chats,
the queue of requests, the opening hours) and a moment, and returns decisions; it reads
no database and no clock of its own. :mod:`advisor.handover` loads the snapshot, applies
the decisions and stores what happened, as :mod:`product_rules.relaxation` is handed
its queries as callables.

**Strategy: first to accept wins (a broadcast).** Every request is offered at once to
every staff member who is *available* and has a free slot (fewer open chats than their
capacity, default :data:`DEFAULT_CAPACITY`); the first to accept gets it, and the
others' offers are withdrawn on the next round. Round robin with an accept timeout was
the alternative; it was not chosen because

* the shopper waits for the first free person, not for a chain of timeouts: with
  round robin, three colleagues who are busy at the counter cost the shopper three
  accept timeouts before the fourth is asked, and one accept timeout
  (:data:`DEFAULT_ACCEPT_TIMEOUT`, 60 s) is all a shopper should wait;
* the shops this is for have a handful of staff who see each other: fairness is kept
  by capacity (nobody is offered more than they can take) and by the order of the offer
  (least loaded first, shown so in the console), not by forcing a turn;
* it has no per-staff timer state to keep consistent across web processes: the only
  race, two people accepting at once, is settled by one conditional update in the
  store (the loser is told :class:`RequestTakenError`).

A request that nobody accepts within the accept timeout ends as *nobody available*
(``timed_out``); outside the opening hours (:class:`OpeningHours`, set by an admin,
time zone Europe/Berlin) a request ends at once as *closed*. Either way the shopper can
leave a message for the inbox and the bot keeps helping.

A transfer hands an accepted chat to a colleague who can take it (available, with a free
slot) directly, with a note; the chat, its history and its hand-over id stay the same.

Exceptions (one tree, :class:`HandoverError`)::

    HandoverError
    ├── InvalidOpeningHoursError  a weekday or a time range that cannot be read
    ├── RequestNotOpenError       the request was closed, timed out or left a message
    ├── RequestTakenError         someone else accepted it first
    ├── StaffUnavailableError     the staff member is busy, away or has no free slot
    └── NotYourChatError          a transfer or message by someone not in the chat
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_ACCEPT_TIMEOUT",
    "DEFAULT_CAPACITY",
    "DEFAULT_TIMEZONE",
    "OPEN_STATUSES",
    "Accepted",
    "Decision",
    "HandoverError",
    "InvalidOpeningHoursError",
    "NobodyAvailable",
    "NotYourChatError",
    "Offer",
    "OpeningHours",
    "RequestNotOpenError",
    "RequestStatus",
    "RequestTakenError",
    "Staff",
    "StaffStatus",
    "StaffUnavailableError",
    "Transferred",
    "Wait",
    "WaitingRequest",
    "accept",
    "queue_positions",
    "route",
    "transfer",
]

DEFAULT_CAPACITY = 3
DEFAULT_ACCEPT_TIMEOUT = timedelta(seconds=60)
DEFAULT_TIMEZONE = "Europe/Berlin"
MAX_NOTE_LENGTH = 1000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    **{day: i for i, day in enumerate(WEEKDAYS)},
    **{
        day: i
        for i, day in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}


class HandoverError(Exception):
    """Base of every hand-over error; the message says what to do instead."""


class InvalidOpeningHoursError(HandoverError, ValueError):
    """Opening hours that cannot be read."""


class RequestNotOpenError(HandoverError):
    """The request is no longer waiting for someone (closed, timed out, left a message)."""

    def __init__(self, request: str, status: str) -> None:
        super().__init__(
            f"the request {request} is {status.replace('_', ' ')}, not waiting any more: "
            "the shopper can ask for a person again"
        )
        self.request = request
        self.status = status


class RequestTakenError(HandoverError):
    """Another staff member accepted the request first."""

    def __init__(self, request: str, staff: str | None) -> None:
        who = staff or "a colleague"
        super().__init__(f"{who} accepted the request {request} first: pick another one")
        self.request = request
        self.staff = staff


class StaffUnavailableError(HandoverError):
    """A staff member who cannot take a chat now."""

    def __init__(self, staff: str, reason: str) -> None:
        super().__init__(f"{staff} cannot take a chat now: {reason}")
        self.staff = staff
        self.reason = reason


class NotYourChatError(HandoverError):
    """Someone acted on a chat that is not theirs."""

    def __init__(self, request: str, staff: str) -> None:
        super().__init__(
            f"the chat {request} is not {staff}'s: only the staff member in the chat may do this"
        )
        self.request = request
        self.staff = staff


class StaffStatus(StrEnum):
    """What a staff member told the console about themselves."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"


class RequestStatus(StrEnum):
    """Where a shopper's request for a person stands."""

    QUEUED = "queued"  # waiting, nobody free to offer it to
    OFFERED = "offered"  # offered to the free staff; the first to accept gets it
    ACCEPTED = "accepted"  # a staff member is in the chat
    CLOSED = "closed"  # ended: handed back, closed, or asked outside the opening hours
    TIMED_OUT = "timed_out"  # nobody accepted within the accept timeout
    LEFT_MESSAGE = "left_message"  # the shopper left a message for the inbox instead


#: Requests still waiting for someone to accept them.
OPEN_STATUSES = frozenset({RequestStatus.QUEUED, RequestStatus.OFFERED})


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff member as routing sees them.

    Attributes:
        name: The staff user's name.
        status: Available, busy or away.
        capacity: How many chats they take at once.
        chats: How many accepted chats they are in now.
    """

    name: str
    status: StaffStatus = StaffStatus.AWAY
    capacity: int = DEFAULT_CAPACITY
    chats: int = 0

    @property
    def free_slots(self) -> int:
        """How many more chats they could take (0 unless available)."""
        if self.status != StaffStatus.AVAILABLE:
            return 0
        return max(0, self.capacity - self.chats)

    def check_can_take(self) -> None:
        """Refuse unless they are available with a free slot.

        Raises:
            StaffUnavailableError: Busy, away or full.
        """
        if self.status != StaffStatus.AVAILABLE:
            raise StaffUnavailableError(self.name, f"the status is {self.status.value}")
        if self.chats >= self.capacity:
            raise StaffUnavailableError(
                self.name, f"already in {self.chats} of {self.capacity} chats"
            )


@dataclass(frozen=True, slots=True)
class WaitingRequest:
    """A shopper's request as routing sees it.

    Attributes:
        id: The hand-over id.
        status: Where it stands.
        queued_at: When the shopper asked.
        offered_to: Whom it is offered to now (for :data:`RequestStatus.OFFERED`).
        staff: Who accepted it (for :data:`RequestStatus.ACCEPTED`).
    """

    id: str
    status: RequestStatus
    queued_at: datetime
    offered_to: tuple[str, ...] = ()
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """Offer the request to these staff members (replacing any earlier offer)."""

    request: str
    staff: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Wait:
    """Nobody can take the request now: withdraw its offer, keep it in the queue."""

    request: str


@dataclass(frozen=True, slots=True)
class NobodyAvailable:
    """The request ends: nobody accepted in time, or the shop is closed."""

    request: str
    reason: Literal["timeout", "outside_hours"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """``staff`` takes the request."""

    request: str
    staff: str


@dataclass(frozen=True, slots=True)
class Transferred:
    """The chat moves from one staff member to another, with a note for the colleague."""

    request: str
    from_staff: str
    to_staff: str
    note: str


Decision = Offer | Wait | NobodyAvailable


# -- opening hours ----------------------------------------------------------------------

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """When staff answer: time ranges per weekday in one time zone.

    Attributes:
        weekly: For each weekday (0 Monday … 6 Sunday), ``(start, end)`` ranges; the end
            is exclusive and ``None`` means midnight at the end of the day. A weekday
            missing is closed all day.
        timezone: The shop's time zone (IANA name).
        always: Open at any time (no hours set).
    """

    weekly: Mapping[int, tuple[tuple[time, time | None], ...]] = field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE
    always: bool = False

    @classmethod
    def around_the_clock(cls) -> OpeningHours:
        """Hours that are always open: the default until an admin sets some."""
        return cls(always=True)

    @classmethod
    def parse(
        cls, spec: Mapping[str, Sequence[str]], *, timezone: str = DEFAULT_TIMEZONE
    ) -> OpeningHours:
        """Hours as an admin writes them: ``{"mon-fri": ["09:00-18:00"], "sat": [...]}``.

        Keys are weekdays (``mon`` … ``sun``) or ranges of them (``mon-fri``); values are
        ``HH:MM-HH:MM`` ranges, the end after the start (``24:00`` for midnight).

        Raises:
            InvalidOpeningHoursError: An unknown weekday, a range that cannot be read, a
                range that ends before it starts, or an unknown time zone.
        """
        try:
            ZoneInfo(timezone)
        except (KeyError, ValueError) as exc:
            raise InvalidOpeningHoursError(
                f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Berlin'"
            ) from exc
        weekly: dict[int, list[tuple[time, time | None]]] = {}
        for key, ranges in spec.items():
            for day in _days(key):
                weekly.setdefault(day, []).extend(_range(key, text) for text in ranges)
        return cls(
            weekly={day: tuple(sorted(r)) for day, r in sorted(weekly.items())},
            timezone=timezone,
        )

    def to_spec(self) -> dict[str, list[str]]:
        """The hours in the form :meth:`parse` reads, one key per open weekday."""
        return {
            WEEKDAYS[day]: [
                f"{start:%H:%M}-{end:%H:%M}" if end is not None else f"{start:%H:%M}-24:00"
                for start, end in ranges
            ]
            for day, ranges in sorted(self.weekly.items())
        }

    def is_open(self, moment: datetime) -> bool:
        """Whether staff answer at ``moment`` (an aware datetime)."""
        if self.always:
            return True
        local = moment.astimezone(ZoneInfo(self.timezone))
        now = local.time().replace(tzinfo=None)
        return any(
            start <= now and (end is None or now < end)
            for start, end in self.weekly.get(local.weekday(), ())
        )


def _days(key: str) -> list[int]:
    names = [part.strip().lower() for part in key.split("-")]
    if len(names) not in (1, 2) or any(n not in _DAY_NAMES for n in names):
        raise InvalidOpeningHoursError(
            f"unknown weekday {key!r}: use mon, tue, wed, thu, fri, sat, sun or a range "
            "such as 'mon-fri'"
        )
    first, last = _DAY_NAMES[names[0]], _DAY_NAMES[names[-1]]
    if last < first:
        raise InvalidOpeningHoursError(f"the weekdays {key!r} run backwards: write 'mon-fri'")
    return list(range(first, last + 1))


def _range(key: str, text: str) -> tuple[time, time | None]:
    match = _RANGE.match(text)
    bad = InvalidOpeningHoursError(
        f"cannot read the hours {text!r} of {key!r}: write 'HH:MM-HH:MM', e.g. '09:00-18:00'"
    )
    if match is None:
        raise bad
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise bad
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise InvalidOpeningHoursError(
            f"the hours {text!r} of {key!r} end before they start: split a night across "
            "two days ('22:00-24:00' and '00:00-02:00' the next day)"
        )
    return start, end


# -- the algorithm ------------------------------------------------------------------------


def _offer_order(staff: Iterable[Staff]) -> tuple[str, ...]:
    """Staff who can take a chat, least loaded first (then by name)."""
    free = [s for s in staff if s.free_slots > 0]
    free.sort(key=lambda s: (s.chats / max(1, s.capacity), s.name))
    return tuple(s.name for s in free)


def route(
    requests: Sequence[WaitingRequest],
    staff: Sequence[Staff],
    *,
    now: datetime,
    hours: OpeningHours,
    accept_timeout: timedelta = DEFAULT_ACCEPT_TIMEOUT,
) -> list[Decision]:
    """What changes for the open requests at ``now``; nothing for those that stay as they are.

    Args:
        requests: The requests; only open ones (:data:`OPEN_STATUSES`) are looked at.
        staff: Every staff member with their status, capacity and open chats.
        now: The current moment (aware).
        hours: When staff answer; outside them every open request ends as closed.
        accept_timeout: How long a request may wait for someone to accept it.

    Returns:
        Decisions, oldest request first: :class:`NobodyAvailable` when it ends,
        :class:`Offer` when whom it is offered to changes, :class:`Wait` when its offer
        is withdrawn because nobody can take it any more.
    """
    decisions: list[Decision] = []
    is_open = hours.is_open(now)
    offer_to = _offer_order(staff)
    for request in sorted(requests, key=lambda r: (r.queued_at, r.id)):
        if request.status not in OPEN_STATUSES:
            continue
        if not is_open:
            decisions.append(NobodyAvailable(request.id, "outside_hours"))
        elif now - request.queued_at >= accept_timeout:
            decisions.append(NobodyAvailable(request.id, "timeout"))
        elif offer_to and offer_to != request.offered_to:
            decisions.append(Offer(request.id, offer_to))
        elif not offer_to and request.status == RequestStatus.OFFERED:
            decisions.append(Wait(request.id))
    return decisions


def queue_positions(requests: Sequence[WaitingRequest]) -> dict[str, int]:
    """Each open request's place in the queue, 1 for the oldest."""
    waiting = sorted(
        (r for r in requests if r.status in OPEN_STATUSES), key=lambda r: (r.queued_at, r.id)
    )
    return {r.id: place for place, r in enumerate(waiting, start=1)}


def _check_open(request: WaitingRequest, *, now: datetime, accept_timeout: timedelta) -> None:
    if request.status == RequestStatus.ACCEPTED:
        raise RequestTakenError(request.id, request.staff)
    if request.status not in OPEN_STATUSES:
        raise RequestNotOpenError(request.id, request.status.value)
    if now - request.queued_at >= accept_timeout:
        raise RequestNotOpenError(request.id, RequestStatus.TIMED_OUT.value)


def accept(
    request: WaitingRequest,
    staff: Staff,
    *,
    now: datetime,
    accept_timeout: timedelta = DEFAULT_ACCEPT_TIMEOUT,
) -> Accepted:
    """``staff`` accepts ``request``, if it is still waiting and they have a free slot.

    Any staff member who can take a chat may accept, offered or not: the offer is a
    notification, the queue is visible to every available colleague.

    Raises:
        RequestTakenError: Someone accepted it already.
        RequestNotOpenError: It ended (or its accept timeout passed).
        StaffUnavailableError: ``staff`` is busy, away or full.
    """
    _check_open(request, now=now, accept_timeout=accept_timeout)
    staff.check_can_take()
    return Accepted(request.id, staff.name)


def transfer(request: WaitingRequest, *, by: str, to: Staff, note: str = "") -> Transferred:
    """``by`` hands their chat to ``to``, with a note; the chat itself stays as it is.

    Raises:
        NotYourChatError: The chat is not accepted, or not by ``by``.
        StaffUnavailableError: ``to`` is ``by``, or cannot take a chat now.
    """
    if request.status != RequestStatus.ACCEPTED or request.staff != by:
        raise NotYourChatError(request.id, by)
    if to.name == by:
        raise StaffUnavailableError(to.name, "a chat is transferred to a colleague")
    to.check_can_take()
    return Transferred(request.id, by, to.name, note.strip()[:MAX_NOTE_LENGTH])
