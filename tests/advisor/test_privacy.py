"""Erasing and exporting one conversation across every store, on SQLite.

A conversation is written the way the running app writes it (the hand-over, share,
rating, inbox, session and event stores of ours), and Rasa's rows are written to a
table of the shape Rasa 3.6's SQL tracker store makes (``events``: ``sender_id``,
``type_name``, ``data`` as JSON text); the integration tests do the same with the real
Rasa (tests/integration/test_privacy_erase.py). After an erase, :func:`traces` reads
every text and JSON column of every table and must find neither the id nor a sentence
the shopper wrote.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import JSON, Engine, MetaData, String, Table, Text, create_engine, select, text

from advisor import privacy, schema
from advisor.conversation_store import ConversationStore
from advisor.events import Event, EventKind, EventLog, Scope
from advisor.handover import HandoverStore
from advisor.privacy import (
    InvalidReferenceError,
    PrivacyAudit,
    Stores,
    UnknownConversationError,
    digest,
    erase,
    resolve,
)
from advisor.privacy_export import export
from advisor.ratings import RatingStore
from advisor.sessions import SessionStore
from advisor.sharing import ShareStore
from advisor.state import STATE_SLOT, ConversationState

#: What the shopper of conversation ``ERASED`` wrote, each distinctive enough to search for.
SHOPPER_SAID = (
    "I want a road bike for my commute along the Isar",
    "zxqv flibbertigibbet wobble",  # not understood: stored as text by the analytics
    "Could a colleague check the frame for my knees",  # in the live chat
    "Please call me back about the Isar commute bike",  # left for the inbox
    "The advice about the Isar bike was rather slow",  # rating comment
)
EMAIL = "isar.rider@example.org"
PHONE = "+49 89 1234567"
ERASED = "ErasedConversation_0123456789abc"
KEPT = "KeptConversation_0123456789abcde"


def traces(engines: Iterable[Engine], needles: Iterable[str]) -> list[str]:
    """Where any needle occurs: ``table.column: needle`` for each text or JSON cell.

    Generic on purpose: every table of every database, whatever module made it.
    """
    wanted = [n for n in needles if n]
    found: list[str] = []
    for engine in engines:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                columns = [
                    c
                    for c in table.columns
                    if isinstance(c.type, (String, Text, JSON)) or "JSON" in str(c.type).upper()
                ]
                if not columns:
                    continue
                for row in connection.execute(select(*columns)):
                    for column, value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        cell = value if isinstance(value, str) else json.dumps(value)
                        found += [f"{table.name}.{column.name}: {n}" for n in wanted if n in cell]
    return found


def rasa_table(engine: Engine) -> Table:
    """``events`` as Rasa 3.6's SQLTrackerStore creates it."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id "
                "VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, timestamp FLOAT, "
                "intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
            )
        )
    return Table("events", MetaData(), autoload_with=engine)


def rasa_turn(engine: Engine, sender: str, said: str, reply: dict[str, object], at: float) -> None:
    """One turn as Rasa stores it: the user event, the bot's utterance, the state slot."""
    events = rasa_table(engine)
    state = {"answers": {"usage": "commute"}, "ruleset": "road_bike"}
    rows = [
        ("user", {"event": "user", "timestamp": at, "text": said, "parse_data": {"text": said}}),
        ("bot", {"event": "bot", "timestamp": at, "text": reply.get("text"), "data": reply}),
        ("slot", {"event": "slot", "timestamp": at, "name": STATE_SLOT, "value": state}),
    ]
    with engine.begin() as connection:
        for kind, data in rows:
            connection.execute(
                events.insert().values(
                    sender_id=sender, type_name=kind, timestamp=at, data=json.dumps(data)
                )
            )


@dataclass
class World:
    stores: Stores
    code: str
    events_before: int


def _conversation(
    stores: Stores, sender: str, said: tuple[str, ...], *, at: float, contact: tuple[str, str]
) -> str:
    """A conversation through every store of ours; the hand-over code it was given."""
    engine = stores.engine
    state = ConversationState(ruleset="road_bike", answers={"usage": "commute"})
    offers = {"type": "offers", "answers": {"usage": "commute"}, "offers": [], "cross_sell": []}
    assert stores.tracker is not None
    rasa_turn(stores.tracker, sender, said[0], {"text": "How do you ride?"}, at)
    rasa_turn(stores.tracker, sender, said[1], {"text": "Here you are", "custom": offers}, at + 1)
    ConversationStore(engine).save(sender, state)
    code = ShareStore(engine).handoff_code(state, sender)
    handover = HandoverStore(engine)
    handover.set_presence("anna", status="available", capacity=3)
    record, _ = handover.request(conversation=sender, state=state, code=code)
    handover.route()
    handover.accept(record.id, staff="anna")
    handover.say(record.id, text=said[2])
    handover.say(record.id, text="Sure, which size do you ride?", staff="anna")
    handover.end(record.id, by="anna", hand_back=True)
    second, _ = handover.request(conversation=sender, state=state, code=None)
    handover.leave_message(second.id, text=said[3], email=contact[0], phone=contact[1])
    RatingStore(engine).rate(sender, "bot", 4, said[4])
    SessionStore(engine).create(staff="anna", state=state, origin_code=code, note=said[0][:40])
    log = EventLog(engine, background=False)
    scope = Scope(sender, "road_bike", 1, "chat", "en")
    log.record(scope, [Event(EventKind.STARTED), Event(EventKind.ASKED, "usage")])
    log.record(scope, [Event(EventKind.NOT_UNDERSTOOD, "usage", said[1])])
    log.record(scope, [Event(EventKind.ANSWERED, "usage", "commute", "typed")])
    log.flush()
    return code


@pytest.fixture()
def world(tmp_path: Path) -> World:
    engine = create_engine(f"sqlite:///{tmp_path / 'advisor.db'}")
    schema.metadata().create_all(engine)
    stores = Stores(engine, create_engine(f"sqlite:///{tmp_path / 'tracker.db'}"))
    now = time.time()
    code = _conversation(stores, ERASED, SHOPPER_SAID, at=now, contact=(EMAIL, PHONE))
    # The other shopper says the same in capitals: no needle of the first is in them.
    _conversation(
        stores,
        KEPT,
        tuple(s.upper() for s in SHOPPER_SAID),
        at=now,
        contact=("kept@example.org", "+49 30 7654321"),
    )
    with engine.connect() as connection:
        before = connection.execute(text("SELECT count(*) FROM advisor_event")).scalar_one()
    return World(stores, code, before)


def _engines(world: World) -> list[Engine]:
    assert world.stores.tracker is not None
    return [world.stores.engine, world.stores.tracker]


def test_the_fixture_puts_the_conversation_in_every_store(world: World) -> None:
    # The erase test proves nothing unless the id and the texts were there first.
    found = traces(_engines(world), [ERASED, *SHOPPER_SAID, EMAIL])
    tables = {line.split(".")[0] for line in found}
    assert {
        "events",
        "advisor_event",
        "advisor_rating",
        "advisor_live_message",
        "advisor_inbox_message",
        "advisor_handover",
        "advisor_shared",
        "advisor_conversation_facts",
        "advisor_conversation",
    } <= tables


def test_erase_leaves_no_trace_of_the_conversation(world: World) -> None:
    counts = erase(world.stores, ERASED, actor="anna", via="id")

    assert traces(_engines(world), [ERASED, *SHOPPER_SAID, EMAIL, PHONE, world.code]) == []
    assert counts["rasa:events"] == 6
    assert counts["advisor_live_message"] > 0


def test_erase_keeps_the_other_conversation_and_the_counts(world: World) -> None:
    erase(world.stores, ERASED, actor="anna", via="id")

    kept = traces(_engines(world), [KEPT, SHOPPER_SAID[2].upper()])
    assert any(line.startswith("events.") for line in kept)
    assert any(line.startswith("advisor_live_message.") for line in kept)
    with world.stores.engine.connect() as connection:
        after = connection.execute(text("SELECT count(*) FROM advisor_event")).scalar_one()
        runs = connection.execute(
            text("SELECT count(*) FROM advisor_conversation_facts")
        ).scalar_one()
        steps = connection.execute(text("SELECT step FROM advisor_rating")).scalars().all()
    assert after == world.events_before, "the analytics keep counting the erased conversation"
    assert runs == 2
    assert sorted(steps) == [4, 4]


def test_erase_writes_an_audit_entry_without_the_id(world: World) -> None:
    erase(world.stores, ERASED, actor="anna", via="code")

    with world.stores.engine.connect() as connection:
        rows = connection.execute(select(PrivacyAudit.__table__)).mappings().all()  # type: ignore[attr-defined]
    assert [(r["actor"], r["action"], r["via"]) for r in rows] == [("anna", "erase", "code")]
    assert rows[0]["conversation_digest"] == digest(ERASED)
    assert rows[0]["counts"]["rasa:events"] == 6
    assert ERASED not in json.dumps([dict(r) for r in rows], default=str)


def test_a_second_erase_finds_nothing(world: World) -> None:
    erase(world.stores, ERASED, actor="anna", via="id")

    assert erase(world.stores, ERASED, actor="anna", via="id") == {}
    with pytest.raises(UnknownConversationError):
        resolve(world.stores, ERASED)


def test_export_holds_everything_the_shopper_said(world: World) -> None:
    document = export(world.stores, ERASED, now=datetime(2026, 12, 4, tzinfo=UTC))

    dumped = json.dumps(document, ensure_ascii=False)
    for sentence in SHOPPER_SAID:
        assert sentence in dumped, sentence
    said = [m["text"] for m in document["messages"] if m["from"] == "shopper"]
    assert said == list(SHOPPER_SAID[:2])
    assert document["answers"] == {"usage": "commute"}
    assert [o["type"] for o in document["offers"]] == ["offers"]
    assert [(r["step"], r["comment"]) for r in document["ratings"]] == [(4, SHOPPER_SAID[4])]
    staff = [m for m in document["staff_messages"] if m.get("author") == "anna"]
    assert any(m.get("text") == "Sure, which size do you ride?" for m in staff)
    assert document["messages_left"][0]["email"] == EMAIL
    assert KEPT not in dumped, "another conversation's data in the export"


def test_export_of_an_empty_conversation_is_empty(world: World) -> None:
    document = export(world.stores, "NeverUsedConversation_0123456789")

    assert document["messages"] == [] and document["ratings"] == []


@pytest.mark.parametrize(
    "typed",
    [ERASED, f"  {ERASED} "],
    ids=["plain", "with spaces"],
)
def test_resolve_an_id(world: World, typed: str) -> None:
    assert resolve(world.stores, typed) == privacy.Reference(ERASED, "id")


def test_resolve_a_handover_code_as_typed(world: World) -> None:
    typed = f"{world.code[:3].lower()}-{world.code[3:].lower()}"

    assert resolve(world.stores, typed) == privacy.Reference(ERASED, "code")


@pytest.mark.parametrize(
    ("typed", "error", "says"),
    [
        ("UnknownConversation_0123456789ab", UnknownConversationError, "no conversation"),
        ("ZZZZZZ", UnknownConversationError, "no shopper's conversation has the code"),
        ("'; DROP TABLE events; --", InvalidReferenceError, "neither a conversation id"),
        ("", InvalidReferenceError, "neither a conversation id"),
        ("erased-0123456789abcdef", InvalidReferenceError, "neither a conversation id"),
    ],
    ids=["unknown id", "unknown code", "not an id", "empty", "a pseudonym"],
)
def test_resolve_refuses(world: World, typed: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        resolve(world.stores, typed)


def test_erase_without_tracker_store_erases_ours(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'advisor.db'}")
    schema.metadata().create_all(engine)
    RatingStore(engine).rate(ERASED, "bot", 2, SHOPPER_SAID[4])

    counts = erase(Stores(engine), ERASED, actor="anna", via="id")

    assert counts == {"advisor_rating": 1}
    assert traces([engine], [ERASED, SHOPPER_SAID[4]]) == []


async def test_what_arrives_after_an_erasure_is_swept_twice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events written after the erasure, soon or late, do not outlive it."""
    from web import privacy_view

    monkeypatch.setattr(privacy_view, "LATE_SWEEP_SECONDS", 0.05)
    monkeypatch.setattr(privacy_view, "LAST_SWEEP_SECONDS", 0.6)
    erase(world.stores, ERASED, actor="shopper", via="cookie")
    assert traces(_engines(world), [ERASED]) == []
    sweeps = asyncio.create_task(privacy_view._sweep_later(world.stores, ERASED))
    assert world.stores.tracker is not None
    rasa_turn(world.stores.tracker, ERASED, "soon", {"text": "ok"}, time.time())
    await asyncio.sleep(0.3)  # the first sweep has run: this one comes after it
    assert traces(_engines(world), [ERASED]) == [], "the first sweep took the early one"
    rasa_turn(world.stores.tracker, ERASED, "late", {"text": "ok"}, time.time())
    await asyncio.wait_for(sweeps, timeout=10)
    assert traces(_engines(world), [ERASED]) == [], "the last sweep took the late one"
