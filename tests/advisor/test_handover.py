"""Hand-over codes (single use, expiring, throttled) and the hand-over store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from advisor.sharing import (
    ALPHABET,
    CODE_LENGTH,
    ClaimLimits,
    ClaimThrottledError,
    CodeError,
    ExpiredCodeError,
    ShareStore,
    UnknownCodeError,
    UsedCodeError,
)
from advisor.state import ConversationState

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture()
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    yield engine
    engine.dispose()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def codes(engine: Engine, clock: Clock) -> ShareStore:
    return ShareStore(engine, clock=clock, limits=ClaimLimits(per_client=3, per_code=2, overall=5))


STATE = ConversationState(ruleset="road_bike", answers={"budget": 1500.0})


# -- codes -----------------------------------------------------------------------------------


def test_issue_handoff_code_is_random_and_not_the_conversation(codes: ShareStore) -> None:
    drawn = {codes.handoff_code(STATE, "conversation-1") for _ in range(20)}
    assert len(drawn) == 20
    for code in drawn:
        assert len(code) == CODE_LENGTH and all(c in ALPHABET for c in code)
        assert code not in "conversation-1".upper()


def test_issue_handoff_code_expires_after_30_minutes(codes: ShareStore, clock: Clock) -> None:
    record = codes.issue(kind="handoff", state=STATE)
    assert record.expires_at - clock.now == timedelta(minutes=30)


def test_issue_handoff_code_with_configured_expiry(engine: Engine, clock: Clock) -> None:
    store = ShareStore(engine, clock=clock, handoff_ttl=timedelta(minutes=5))
    assert store.issue(kind="handoff", state=STATE).expires_at == clock.now + timedelta(minutes=5)
    assert store.issue(kind="share", state=STATE).expires_at == clock.now + timedelta(days=14)


def test_claim_handoff_code_once(codes: ShareStore) -> None:
    code = codes.handoff_code(STATE, "conversation-1")
    record = codes.claim(code.lower(), client="staff:anna", claimed_by="anna")
    assert record.conversation == "conversation-1"
    assert record.conversation_state().answers == STATE.answers
    claim = codes.claimed(code)
    assert claim is not None and claim.claimed_by == "anna"
    with pytest.raises(UsedCodeError) as refused:
        codes.claim(code, client="staff:ben", claimed_by="ben")
    assert refused.value.used_by == "anna"
    assert "opens once" in str(refused.value)


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ("unknown", UnknownCodeError),
        ("expired", ExpiredCodeError),
        ("share", UnknownCodeError),
        ("malformed", UnknownCodeError),
    ],
    ids=["unknown", "expired", "share-code-is-no-handoff", "malformed"],
)
def test_claim_handoff_code_refused(
    codes: ShareStore, clock: Clock, setup: str, error: type[CodeError]
) -> None:
    code = {
        "unknown": "ZZZZZ9",
        "expired": codes.handoff_code(STATE, None),
        "share": codes.issue(kind="share", state=STATE).code,
        "malformed": "0O1IL!",
    }[setup]
    clock.advance(minutes=31)
    with pytest.raises(error):
        codes.claim(code, client="staff:anna")


def test_share_code_opens_many_times(codes: ShareStore) -> None:
    code = codes.issue(kind="share", state=STATE).code
    for _ in range(3):
        assert codes.get(code, kind="share").code == code


@pytest.mark.parametrize(
    ("clients", "refused_client"),
    [
        (["a", "a", "a"], "a"),  # per client: 3
        (["a", "b", "c", "d", "e"], "f"),  # overall: 5
    ],
    ids=["per-client", "overall"],
)
def test_claim_wrong_codes_throttled(
    codes: ShareStore, clock: Clock, clients: list[str], refused_client: str
) -> None:
    good = codes.handoff_code(STATE, "c-1")
    for i, client in enumerate(clients):
        with pytest.raises(UnknownCodeError):
            codes.claim(f"ZZZZZ{ALPHABET[-1 - i]}", client=client)
    with pytest.raises(ClaimThrottledError) as throttled:
        codes.claim(good, client=refused_client)  # even the right code waits
    assert throttled.value.retry_at == T0 + timedelta(minutes=10)
    assert throttled.value.retry_after_seconds(clock.now) == 600
    assert codes.claimed(good) is None
    clock.advance(minutes=10, seconds=1)
    assert codes.claim(good, client=refused_client).code == good


def test_claim_same_code_throttled_per_code(codes: ShareStore) -> None:
    code = codes.handoff_code(STATE, "c-1")
    codes.claim(code, client="a")
    for client in ("b", "c"):
        with pytest.raises(UsedCodeError):
            codes.claim(code, client=client)
    with pytest.raises(ClaimThrottledError):
        codes.claim(code, client="d")


def test_claim_throttled_tries_are_not_counted(codes: ShareStore, clock: Clock) -> None:
    for letter in "ABC":
        with pytest.raises(UnknownCodeError):
            codes.claim(f"ZZZZZ{letter}", client="a")
    clock.advance(minutes=9)
    for _ in range(5):
        with pytest.raises(ClaimThrottledError):
            codes.claim("ZZZZZD", client="a")
    clock.advance(minutes=1, seconds=1)
    with pytest.raises(UnknownCodeError):
        codes.claim("ZZZZZD", client="a")
