"""The live channel (in-process and Redis) and the desk that stores, then publishes."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from advisor.handover import HandoverStore
from advisor.live import (
    InProcessChannel,
    LiveChannel,
    LiveChannelError,
    LiveDesk,
    RedisChannel,
    Subscription,
    make_channel,
)
from advisor.live_payloads import (
    QUEUE_TOPIC,
    LivePayload,
    StaffMessagePayload,
    chat_topic,
    for_shopper,
    payload_in,
)
from advisor.state import ConversationState
from tests.tables import create_schema

WAIT = 5.0  # seconds any single wait may take
STATE = ConversationState(ruleset="road_bike", answers={"budget": 1500.0})
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def message(text: str = "hello", handover: str = "h1", id: int = 1) -> StaffMessagePayload:
    return {
        "type": "staff_message",
        "id": id,
        "handover": handover,
        "at": "2026-12-02T10:00:00+00:00",
        "staff": "anna",
        "text": text,
    }


async def next_of(subscription: Subscription) -> LivePayload:
    return await asyncio.wait_for(anext(subscription), WAIT)


# -- the payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        (message(), True),
        ({**message(), "type": "staff_whisper"}, False),
        ({"type": "staff_message", "id": 1, "handover": "h1", "at": "…"}, False),
        ("staff_message", False),
    ],
    ids=["message", "unknown-type", "missing-keys", "not-a-dict"],
)
def test_read_payload_off_the_wire(raw: Any, read: bool) -> None:
    assert (payload_in(raw) is not None) is read


@pytest.mark.parametrize(
    ("kind", "shown"),
    [("staff_message", True), ("nobody_available", True), ("transferred", False)],
    ids=["message", "nobody", "transfer-note"],
)
def test_payload_for_shopper(kind: str, shown: bool) -> None:
    assert for_shopper({**message(), "type": kind}) is shown  # type: ignore[typeddict-item]


def test_make_channel_from_url() -> None:
    assert isinstance(make_channel(""), InProcessChannel)
    assert isinstance(make_channel("redis://127.0.0.1:6379/0"), RedisChannel)
    with pytest.raises(ValueError, match="unknown live channel"):
        make_channel("postgresql://x")


# -- in one process --------------------------------------------------------------------------


async def test_publish_reaches_every_subscriber_in_process() -> None:
    channel = InProcessChannel()
    async with channel.subscribe("t") as first, channel.subscribe("t") as second:
        async with channel.subscribe("other") as other:
            await channel.publish("t", message("one"))
            assert (await next_of(first))["text"] == "one"  # type: ignore[typeddict-item]
            assert (await next_of(second))["text"] == "one"  # type: ignore[typeddict-item]
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(other), 0.05)
        assert channel.subscribers("t") == 2
    assert channel.subscribers("t") == 0
    await channel.publish("t", message())  # nobody listens: nothing happens


async def test_publish_in_process_from_a_thread() -> None:
    channel = InProcessChannel()
    async with channel.subscribe("t") as listener:
        await asyncio.to_thread(asyncio.run, channel.publish("t", message("from a worker")))
        assert (await next_of(listener))["text"] == "from a worker"  # type: ignore[typeddict-item]


async def test_publish_to_slow_subscriber_drops_oldest_in_process() -> None:
    channel = InProcessChannel(queue_size=2)
    async with channel.subscribe("t") as listener:
        for i in range(1, 4):
            await channel.publish("t", message(id=i))
        assert [(await next_of(listener))["id"] for _ in range(2)] == [2, 3]


# -- store, then publish ---------------------------------------------------------------------------


@pytest.fixture()
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    yield create_schema(engine)
    engine.dispose()


class Recording(InProcessChannel):
    """An in-process channel that checks each payload is stored before it is published."""

    def __init__(self, store: HandoverStore, *, fail: bool = False) -> None:
        super().__init__()
        self.store, self.fail = store, fail
        self.published: list[tuple[str, LivePayload]] = []

    async def publish(self, topic: str, payload: LivePayload) -> None:
        stored = {p["id"] for p in self.store.history(payload["handover"])}
        assert payload["id"] in stored, "published before it was stored"
        self.published.append((topic, payload))
        if self.fail:
            raise LiveChannelError("Redis is down")
        await super().publish(topic, payload)


async def live_chat(desk: LiveDesk) -> str:
    record = await desk.request(conversation="conv-1", state=STATE)
    offered = await desk.set_presence("anna", status="available")
    assert [p["type"] for p in offered] == ["offered"]
    await desk.accept(record.id, staff="anna")
    return record.id


async def test_say_stores_then_publishes(engine: Engine) -> None:
    store = HandoverStore(engine)
    channel = Recording(store)
    desk = LiveDesk(store, channel)
    handover = await live_chat(desk)
    async with desk.chat(handover) as widget, desk.queue() as console:
        sent = await desk.say(handover, text="Hi, I am Anna", staff="anna")
        received = await next_of(widget)
        assert received == sent[0] and received["type"] == "staff_message"
        await desk.say(handover, text="Hi Anna")
        assert (await next_of(widget))["type"] == "shopper_message"
        await desk.end(handover, by="anna")
        assert (await next_of(widget))["type"] == "handed_back"
        assert (await next_of(console))["type"] == "handed_back"
    assert [p["type"] for t, p in channel.published if t == chat_topic(handover)][-3:] == [
        "staff_message",
        "shopper_message",
        "handed_back",
    ]
    assert {t for t, _ in channel.published} == {chat_topic(handover), QUEUE_TOPIC}


async def test_say_keeps_message_when_publish_fails(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = HandoverStore(engine)
    desk = LiveDesk(store, Recording(store, fail=True))
    handover = await live_chat(desk)
    await desk.say(handover, text="Are you there?")
    assert store.history(handover)[-1]["type"] == "shopper_message"
    assert "stored but was not pushed live" in caplog.text


def test_read_history_after_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'advisor.db'}"
    first = create_schema(create_engine(url))
    store = HandoverStore(first)
    store.set_presence("anna", status="available")
    record, _ = store.request(conversation="conv-1", state=STATE, code="ABC234")
    store.accept(record.id, staff="anna")
    store.say(record.id, text="Which frame size?", staff="anna")
    store.say(record.id, text="I am 1.82 m")
    before = store.history(record.id)
    first.dispose()

    second = create_engine(url)  # a new process on the same database
    again = HandoverStore(second)
    assert again.history(record.id) == before
    assert [p.get("text") for p in again.conversation_history("conv-1", shopper=True)][-2:] == [
        "Which frame size?",
        "I am 1.82 m",
    ]
    assert again.get(record.id).staff == "anna" and again.staff()[0].chats == 1
    second.dispose()


async def test_route_forever_times_out_requests(engine: Engine) -> None:
    store = HandoverStore(engine, accept_timeout=timedelta(seconds=0.2))
    desk = LiveDesk(store, InProcessChannel())
    record = await desk.request(conversation="conv-1", state=STATE)
    stop = asyncio.Event()
    async with desk.chat(record.id) as widget:
        loop = asyncio.create_task(desk.route_forever(every=0.05, until=stop))
        try:
            payload = await next_of(widget)
        finally:
            stop.set()
            await asyncio.wait_for(loop, WAIT)
    assert payload["type"] == "nobody_available" and payload["reason"] == "timeout"


# -- across processes: Redis ----------------------------------------------------------------


@pytest.fixture()
async def redis_channels() -> AsyncIterator[list[LiveChannel]]:
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    channels = [RedisChannel(REDIS, prefix=prefix) for _ in range(3)]
    try:
        await channels[0].ping()
    except LiveChannelError as exc:
        for channel in channels:
            await channel.aclose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis not reachable at {REDIS}: {exc}")
    yield list(channels)
    for channel in channels:
        await channel.aclose()


@pytest.mark.redis
async def test_publish_reaches_subscribers_on_other_connections_redis(
    redis_channels: list[LiveChannel],
) -> None:
    publisher, one, two = redis_channels
    async with one.subscribe("chat") as first, two.subscribe("chat") as second:
        async with one.subscribe("elsewhere") as other:
            await publisher.publish("chat", message("über Redis"))
            for listener in (first, second):
                got = await next_of(listener)
                assert got == message("über Redis")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(other), 0.1)


@pytest.mark.redis
async def test_say_over_redis(engine: Engine, redis_channels: list[LiveChannel]) -> None:
    store = HandoverStore(engine)
    sender, listener, _ = redis_channels
    desk = LiveDesk(store, sender)
    handover = await live_chat(desk)
    async with listener.subscribe(chat_topic(handover)) as widget:
        sent = await desk.say(handover, text="Hello from another process", staff="anna")
        assert await next_of(widget) == sent[0]


@pytest.mark.redis
async def test_publish_redis_unreachable_raises_channel_error() -> None:
    channel = RedisChannel("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(LiveChannelError):
            await channel.publish("t", message())
        with pytest.raises(LiveChannelError):
            async with channel.subscribe("t"):
                pass
    finally:
        await channel.aclose()
