"""Routing a shopper's request to a free staff member: the pure algorithm."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from advisor.routing import (
    Accepted,
    InvalidOpeningHoursError,
    NobodyAvailable,
    NotYourChatError,
    Offer,
    OpeningHours,
    RequestNotOpenError,
    RequestStatus,
    RequestTakenError,
    Staff,
    StaffStatus,
    StaffUnavailableError,
    Transferred,
    Wait,
    WaitingRequest,
    accept,
    queue_positions,
    route,
    transfer,
)

# Wednesday 2 December 2026, 10:00 UTC = 11:00 in Berlin.
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
ALWAYS = OpeningHours.around_the_clock()
A, B, W = StaffStatus.AVAILABLE, StaffStatus.BUSY, StaffStatus.AWAY


def waiting(
    rid: str = "r1",
    *,
    ago: float = 5,
    status: RequestStatus = RequestStatus.QUEUED,
    offered_to: tuple[str, ...] = (),
    staff: str | None = None,
) -> WaitingRequest:
    return WaitingRequest(rid, status, NOW - timedelta(seconds=ago), offered_to, staff)


@pytest.mark.parametrize(
    ("staff", "offered"),
    [
        ([Staff("anna", A)], ("anna",)),
        ([Staff("anna", A, chats=2), Staff("ben", A)], ("ben", "anna")),
        ([Staff("anna", B), Staff("ben", A)], ("ben",)),
        ([Staff("anna", W), Staff("ben", A)], ("ben",)),
        ([Staff("anna", A, capacity=3, chats=3), Staff("ben", A)], ("ben",)),
        ([Staff("anna", A, capacity=1), Staff("ben", A, capacity=5)], ("anna", "ben")),
    ],
    ids=["one-free", "least-loaded-first", "skips-busy", "skips-away", "skips-full", "by-name"],
)
def test_route_offers_to_available_staff_under_capacity(
    staff: list[Staff], offered: tuple[str, ...]
) -> None:
    assert route([waiting()], staff, now=NOW, hours=ALWAYS) == [Offer("r1", offered)]


@pytest.mark.parametrize(
    "staff",
    [[], [Staff("anna", B)], [Staff("anna", W)], [Staff("anna", A, capacity=2, chats=2)]],
    ids=["nobody", "busy", "away", "full"],
)
def test_route_keeps_request_queued_when_nobody_is_free(staff: list[Staff]) -> None:
    assert route([waiting()], staff, now=NOW, hours=ALWAYS) == []
    offered = waiting(status=RequestStatus.OFFERED, offered_to=("anna",))
    assert route([offered], staff, now=NOW, hours=ALWAYS) == [Wait("r1")]


def test_route_same_offer_twice_decides_nothing() -> None:
    offered = waiting(status=RequestStatus.OFFERED, offered_to=("anna",))
    assert route([offered], [Staff("anna", A)], now=NOW, hours=ALWAYS) == []


@pytest.mark.parametrize(
    ("ago", "timeout", "decision"),
    [
        (59, timedelta(seconds=60), Offer("r1", ("anna",))),
        (60, timedelta(seconds=60), NobodyAvailable("r1", "timeout")),
        (20, timedelta(seconds=15), NobodyAvailable("r1", "timeout")),
    ],
    ids=["just-in-time", "default-60s", "configured-15s"],
)
def test_route_times_out_to_nobody_available(
    ago: float, timeout: timedelta, decision: object
) -> None:
    decisions = route(
        [waiting(ago=ago)], [Staff("anna", A)], now=NOW, hours=ALWAYS, accept_timeout=timeout
    )
    assert decisions == [decision]


HOURS = OpeningHours.parse({"mon-fri": ["09:00-12:30", "13:30-18:00"], "sat": ["10:00-14:00"]})


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2026, 12, 2, 10, 0, tzinfo=UTC), True),  # Wed 11:00 Berlin
        (datetime(2026, 12, 2, 7, 59, tzinfo=UTC), False),  # Wed 08:59 Berlin
        (datetime(2026, 12, 2, 11, 45, tzinfo=UTC), False),  # Wed 12:45 lunch
        (datetime(2026, 12, 2, 17, 0, tzinfo=UTC), False),  # Wed 18:00 end is exclusive
        (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), True),  # Sat 13:00
        (datetime(2026, 12, 6, 12, 0, tzinfo=UTC), False),  # Sunday
        (datetime(2026, 7, 1, 15, 30, tzinfo=UTC), True),  # Wed 17:30 summer time
        (datetime(2026, 7, 1, 16, 30, tzinfo=UTC), False),  # Wed 18:30 summer time
    ],
    ids=["morning", "before", "lunch", "at-close", "saturday", "sunday", "cest", "cest-after"],
)
def test_check_opening_hours_in_berlin(moment: datetime, is_open: bool) -> None:
    assert HOURS.is_open(moment) is is_open


def test_route_outside_hours_is_closed() -> None:
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    requests = [waiting("r1"), waiting("r2", status=RequestStatus.OFFERED, offered_to=("anna",))]
    decisions = route(requests, [Staff("anna", A)], now=sunday, hours=HOURS)
    assert decisions == [
        NobodyAvailable("r1", "outside_hours"),
        NobodyAvailable("r2", "outside_hours"),
    ]


def test_route_ignores_requests_that_are_not_open() -> None:
    requests = [
        waiting("r1", status=RequestStatus.ACCEPTED, staff="anna"),
        waiting("r2", status=RequestStatus.TIMED_OUT),
        waiting("r3", status=RequestStatus.LEFT_MESSAGE, ago=600),
    ]
    assert route(requests, [Staff("ben", A)], now=NOW, hours=ALWAYS) == []


def test_queue_positions_oldest_first() -> None:
    requests = [
        waiting("late", ago=5),
        waiting("early", ago=30, status=RequestStatus.OFFERED),
        waiting("done", ago=50, status=RequestStatus.ACCEPTED),
    ]
    assert queue_positions(requests) == {"early": 1, "late": 2}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"mo-fr": ["09:00-18:00"]}, "unknown weekday"),
        ({"fri-mon": ["09:00-18:00"]}, "run backwards"),
        ({"mon": ["9-18"]}, "HH:MM-HH:MM"),
        ({"mon": ["22:00-02:00"]}, "end before they start"),
        ({"mon": ["09:00-24:30"]}, "HH:MM-HH:MM"),
    ],
    ids=["weekday", "backwards", "format", "overnight", "past-midnight"],
)
def test_parse_opening_hours_refused(spec: dict[str, list[str]], words: str) -> None:
    with pytest.raises(InvalidOpeningHoursError, match=words):
        OpeningHours.parse(spec)


def test_parse_opening_hours_round_trip() -> None:
    hours = OpeningHours.parse({"saturday": ["20:00-24:00"], "mon-tue": ["09:00-18:00"]})
    assert hours.to_spec() == {
        "mon": ["09:00-18:00"],
        "tue": ["09:00-18:00"],
        "sat": ["20:00-24:00"],
    }
    assert hours.weekly[5] == ((time(20, 0), None),)
    assert OpeningHours.parse(hours.to_spec()) == hours
    with pytest.raises(InvalidOpeningHoursError, match="time zone"):
        OpeningHours.parse({}, timezone="Mars/Olympus")


# -- accept and transfer ------------------------------------------------------------------


def test_accept_request_by_free_staff() -> None:
    assert accept(waiting(), Staff("anna", A), now=NOW) == Accepted("r1", "anna")


@pytest.mark.parametrize(
    ("request_", "staff", "error"),
    [
        (waiting(status=RequestStatus.ACCEPTED, staff="ben"), Staff("anna", A), RequestTakenError),
        (waiting(status=RequestStatus.CLOSED), Staff("anna", A), RequestNotOpenError),
        (waiting(ago=61), Staff("anna", A), RequestNotOpenError),
        (waiting(), Staff("anna", B), StaffUnavailableError),
        (waiting(), Staff("anna", A, capacity=3, chats=3), StaffUnavailableError),
    ],
    ids=["taken", "closed", "timed-out", "busy", "full"],
)
def test_accept_request_refused(
    request_: WaitingRequest, staff: Staff, error: type[Exception]
) -> None:
    with pytest.raises(error):
        accept(request_, staff, now=NOW)


def test_transfer_chat_to_colleague_with_note() -> None:
    chat = waiting(status=RequestStatus.ACCEPTED, staff="anna")
    moved = transfer(chat, by="anna", to=Staff("ben", A), note="  wants SPD pedals ")
    assert moved == Transferred("r1", "anna", "ben", "wants SPD pedals")


@pytest.mark.parametrize(
    ("by", "to", "error"),
    [
        ("ben", Staff("carl", A), NotYourChatError),
        ("anna", Staff("anna", A), StaffUnavailableError),
        ("anna", Staff("ben", W), StaffUnavailableError),
        ("anna", Staff("ben", A, capacity=1, chats=1), StaffUnavailableError),
    ],
    ids=["not-theirs", "to-self", "colleague-away", "colleague-full"],
)
def test_transfer_chat_refused(by: str, to: Staff, error: type[Exception]) -> None:
    chat = waiting(status=RequestStatus.ACCEPTED, staff="anna")
    with pytest.raises(error):
        transfer(chat, by=by, to=to)
