"""The live channel: hand-over payloads from the process that stores them to every listener.

A :class:`LiveChannel` publishes a payload on a topic and lets a listener subscribe to a
topic. Two implementations:

* :class:`InProcessChannel` (the default): asyncio queues in one process, no server.
  Enough for one web process; with several, a listener only hears what its own process
  published.
* :class:`RedisChannel`: Redis pub/sub (``LIVE_CHANNEL_URL=redis://…``), for several web
  processes or hosts. Each subscription holds its own connection.

The channel is not the record: :class:`LiveDesk` stores every payload first (through
:class:`advisor.handover.HandoverStore`, in the same transaction as the change it
reports) and publishes it only after the commit. A listener that missed something (a
widget reloading, a process restarting, Redis down for a moment) reads the history and
drops what it has seen by the payload's ``id``. So a failed publish is logged, never
raised: the message is safe, only its push is late.

Subscribing is ``async with channel.subscribe(topic) as messages: async for payload in
messages``: entering the block completes the subscription, so nothing published after it
is missed.

Exceptions: :class:`LiveChannelError` (the channel's server cannot be reached).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from advisor.handover import Event, HandoverRecord, HandoverStore
from advisor.inbox import InboxMessage
from advisor.live_payloads import QUEUE_TOPIC, LivePayload, chat_topic, payload_in
from advisor.state import ConversationState
from product_rules.offers import OffersMessage

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "DESK_THREADS",
    "InProcessChannel",
    "LiveChannel",
    "LiveChannelError",
    "LiveDesk",
    "RedisChannel",
    "Subscription",
    "make_channel",
]

log = logging.getLogger("advisor.live")

#: The desk's worker threads (as many as the web app's chat pool keeps connections).
DESK_THREADS = 10
#: Payloads a slow in-process listener may fall behind by; older ones are dropped (the
#: history has them).
DEFAULT_QUEUE_SIZE = 1000
T = TypeVar("T")


class LiveChannelError(Exception):
    """The live channel cannot publish or subscribe (its server is unreachable)."""


def _wire(payload: LivePayload) -> str:
    return json.dumps(payload, separators=(",", ":"), default=str)


class Subscription(Protocol):
    """An open subscription: an async iterator of payloads, closed on leaving ``async with``."""

    async def __aenter__(self) -> Self:
        """Complete the subscription."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End the subscription."""
        ...

    def __aiter__(self) -> AsyncIterator[LivePayload]:
        """The payloads, as they are published."""
        ...

    async def __anext__(self) -> LivePayload:
        """The next payload (waits for it)."""
        ...


class LiveChannel(Protocol):
    """Publish payloads on topics; subscribe to a topic."""

    async def publish(self, topic: str, payload: LivePayload) -> None:
        """Send ``payload`` to every current subscriber of ``topic``.

        Raises:
            LiveChannelError: The channel's server cannot be reached.
        """
        ...

    def subscribe(self, topic: str) -> Subscription:
        """A subscription to ``topic``, complete once its ``async with`` is entered."""
        ...

    async def aclose(self) -> None:
        """Release the channel's connections."""
        ...


# -- in one process ---------------------------------------------------------------------


class _QueueSubscription:
    def __init__(self, channel: InProcessChannel, topic: str) -> None:
        self._channel, self.topic = channel, topic
        self._queue: asyncio.Queue[LivePayload] = asyncio.Queue(channel.queue_size)
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        self.loop = asyncio.get_running_loop()
        self._channel._subscribers.setdefault(self.topic, set()).add(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        listeners = self._channel._subscribers.get(self.topic, set())
        listeners.discard(self)
        if not listeners:
            self._channel._subscribers.pop(self.topic, None)

    def put(self, payload: LivePayload) -> None:
        if self._queue.full():  # a listener this far behind reads the history instead
            self._queue.get_nowait()
        self._queue.put_nowait(payload)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> LivePayload:
        if self.loop is None:
            await self.__aenter__()
        return await self._queue.get()


class InProcessChannel:
    """Topics as asyncio queues in this process: the single-process default.

    Publishing is safe from any thread (a sync route in the thread pool): a payload is
    handed to each subscriber on its own event loop.

    Args:
        queue_size: How far one subscriber may fall behind before old payloads drop.
    """

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._subscribers: dict[str, set[_QueueSubscription]] = {}

    def subscribers(self, topic: str) -> int:
        """How many subscriptions ``topic`` has now."""
        return len(self._subscribers.get(topic, ()))

    async def publish(self, topic: str, payload: LivePayload) -> None:
        """Hand a copy of ``payload`` (as it would cross the wire) to each subscriber."""
        copy: Any = json.loads(_wire(payload))
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - called outside any loop
            running = None
        for subscription in list(self._subscribers.get(topic, ())):
            if subscription.loop is None or subscription.loop is running:
                subscription.put(copy)
            else:
                subscription.loop.call_soon_threadsafe(subscription.put, copy)

    def subscribe(self, topic: str) -> _QueueSubscription:
        """A subscription to ``topic``."""
        return _QueueSubscription(self, topic)

    async def aclose(self) -> None:
        """Forget every subscriber."""
        self._subscribers.clear()


# -- across processes: Redis pub/sub ----------------------------------------------------------


class _RedisSubscription:
    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self._pubsub = client.pubsub()
        self.channel = channel
        self._subscribed = False

    async def __aenter__(self) -> Self:
        try:
            await self._pubsub.subscribe(self.channel)
        except (RedisError, OSError) as exc:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            raise LiveChannelError(f"cannot subscribe to {self.channel}: {exc}") from exc
        self._subscribed = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.unsubscribe(self.channel)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> LivePayload:
        if not self._subscribed:
            await self.__aenter__()
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=None
                )
            except (RedisError, OSError) as exc:
                raise LiveChannelError(f"lost the subscription to {self.channel}: {exc}") from exc
            if message is None or message.get("type") != "message":
                continue
            try:
                payload = payload_in(json.loads(message["data"]))
            except ValueError:
                payload = None
            if payload is None:
                log.warning("ignored a message on %s that is not a live payload", self.channel)
                continue
            return payload


class RedisChannel:
    """Topics as Redis pub/sub channels, shared by every web process on one Redis.

    Args:
        url: The Redis server (``redis://host:6379/0``).
        prefix: Put before every topic, so several shops (or test runs) share one Redis.
    """

    def __init__(self, url: str, *, prefix: str = "advisor:") -> None:
        self.prefix = prefix
        self._client = aioredis.Redis.from_url(url, socket_connect_timeout=2)

    async def publish(self, topic: str, payload: LivePayload) -> None:
        """Publish ``payload`` as JSON on ``prefix + topic``.

        Raises:
            LiveChannelError: Redis cannot be reached.
        """
        try:
            await self._client.publish(self.prefix + topic, _wire(payload))
        except (RedisError, OSError) as exc:
            raise LiveChannelError(f"cannot publish on {topic}: {exc}") from exc

    def subscribe(self, topic: str) -> _RedisSubscription:
        """A subscription to ``topic`` on its own connection."""
        return _RedisSubscription(self._client, self.prefix + topic)

    async def ping(self) -> None:
        """Check that Redis answers.

        Raises:
            LiveChannelError: It does not.
        """
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise LiveChannelError(f"Redis does not answer: {exc}") from exc

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def make_channel(url: str | None = None) -> LiveChannel:
    """The channel a URL names: ``redis://…`` or ``rediss://…``; empty for in-process.

    Raises:
        ValueError: Another kind of URL.
    """
    if not url:
        return InProcessChannel()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisChannel(url)
    raise ValueError(f"unknown live channel {url!r}: use redis://host:6379/0, or leave it empty")


# -- store, then publish ------------------------------------------------------------------------


class LiveDesk:
    """The hand-over as the web layer calls it: every change stored, then published.

    Store calls run in the desk's worker threads (they wait for the database); their
    payloads are published once the store has committed them.

    Args:
        store: Requests, presence and history.
        channel: Where the payloads go live.
        threads: How many store calls may wait for the database at once.
    """

    def __init__(
        self, store: HandoverStore, channel: LiveChannel, *, threads: int = DESK_THREADS
    ) -> None:
        self.store = store
        self.channel = channel
        # Threads of the desk's own: a staff message never queues behind page reads
        # and routing in the event loop's default pool (6 threads on 2 cores), and as
        # many can wait for the database as the chat pool has connections.
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="live-desk")

    async def _thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def shutdown(self) -> None:
        """Let the desk's worker threads go (app shutdown)."""
        self._executor.shutdown(wait=False)

    async def publish(self, events: list[Event]) -> None:
        """Publish stored payloads; a channel failure is logged (the history has them)."""
        for event in events:
            try:
                await self.channel.publish(event.topic, event.payload)
            except LiveChannelError:
                log.warning(
                    "payload %s of hand-over %s is stored but was not pushed live",
                    event.payload["id"],
                    event.payload["handover"],
                    exc_info=True,
                )

    async def _run(self, operation: Callable[[], tuple[T, list[Event]]]) -> T:
        result, events = await self._thread(operation)
        await self.publish(events)
        return result

    async def _events(self, operation: Callable[[], list[Event]]) -> list[LivePayload]:
        events = await self._thread(operation)
        await self.publish(events)
        return [e.payload for e in events if e.topic != QUEUE_TOPIC]

    async def request(
        self, *, conversation: str, state: ConversationState, code: str | None = None
    ) -> HandoverRecord:
        """Queue a shopper's request and offer it (:meth:`HandoverStore.request`)."""
        return await self._run(
            lambda: self.store.request(conversation=conversation, state=state, code=code)
        )

    async def set_presence(
        self, staff: str, *, status: str, capacity: int | None = None
    ) -> list[LivePayload]:
        """Set a staff member's status and capacity, then route the queue at once.

        Raises:
            InvalidPresenceError: An unknown status, or a capacity out of range.
        """
        await self._thread(lambda: self.store.set_presence(staff, status=status, capacity=capacity))
        return await self.route()

    async def route(self) -> list[LivePayload]:
        """Route the queue now: offers, withdrawals, timeouts, closing time."""
        return await self._events(self.store.route)

    async def accept(self, handover_id: str, *, staff: str) -> HandoverRecord:
        """``staff`` accepts (:meth:`HandoverStore.accept`)."""
        return await self._run(lambda: self.store.accept(handover_id, staff=staff))

    async def transfer(
        self, handover_id: str, *, by: str, to: str, note: str = ""
    ) -> list[LivePayload]:
        """Hand the chat to a colleague (:meth:`HandoverStore.transfer`)."""
        return await self._events(lambda: self.store.transfer(handover_id, by=by, to=to, note=note))

    async def say(
        self, handover_id: str, *, text: str, staff: str | None = None
    ) -> list[LivePayload]:
        """A message of the chat, by ``staff`` or by the shopper (:meth:`HandoverStore.say`)."""
        return await self._events(lambda: self.store.say(handover_id, text=text, staff=staff))

    async def push_offers(
        self, handover_id: str, *, staff: str, offers: OffersMessage
    ) -> list[LivePayload]:
        """An offer card into the chat (:meth:`HandoverStore.push_offers`)."""
        return await self._events(
            lambda: self.store.push_offers(handover_id, staff=staff, offers=offers)
        )

    async def end(self, handover_id: str, *, by: str, hand_back: bool = True) -> list[LivePayload]:
        """Hand back to the bot or close (:meth:`HandoverStore.end`)."""
        return await self._events(lambda: self.store.end(handover_id, by=by, hand_back=hand_back))

    async def leave_message(
        self, handover_id: str, *, text: str, email: str | None = None, phone: str | None = None
    ) -> InboxMessage:
        """A message for the inbox (:meth:`HandoverStore.leave_message`)."""
        return await self._run(
            lambda: self.store.leave_message(handover_id, text=text, email=email, phone=phone)
        )

    def chat(self, handover_id: str) -> Subscription:
        """A subscription to one hand-over's payloads."""
        return self.channel.subscribe(chat_topic(handover_id))

    def queue(self) -> Subscription:
        """A subscription to the consoles' queue payloads."""
        return self.channel.subscribe(QUEUE_TOPIC)

    async def route_forever(
        self, *, every: float = 2.0, until: asyncio.Event | None = None
    ) -> None:
        """Route the queue every ``every`` seconds (accept timeouts, closing time)."""
        stop = until or asyncio.Event()
        while not stop.is_set():
            try:
                await self.route()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                log.exception("routing the hand-over queue failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
