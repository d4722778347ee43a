"""The live hand-over as the web layer shows it: event streams and merged histories.

* :func:`event_stream`: a server-sent event stream over live-channel subscriptions:
  first what the listener missed (from the stored history, after the id it last saw),
  then payloads as they are published; each once (by id), a keep-alive comment every
  few seconds, ended when the client goes away. Bounded in time (two minutes less a
  random part, so streams opened together do not end together; a server that stops
  waits for open streams): it ends with a ``reconnect`` event, on which ``chat.js``
  and ``live.js`` open a new stream at once after the last id they saw, so a message
  sent meanwhile comes from the history a moment later, not after ``retry:``.
* :func:`merge_history`: the widget's history after a reload: Rasa's transcript and the
  live chat's payloads in the order they happened.
* :func:`last_offers`: the last offers the bot showed in a transcript (what staff push).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request

from advisor.handover import HandoverRecord
from advisor.live import Subscription
from advisor.live_payloads import LivePayload
from advisor.routing import OPEN_STATUSES, RequestStatus
from product_rules.offers import OffersMessage
from web.conversation import history_from_tracker

__all__ = [
    "LIVE_STATUSES",
    "RETRY_MS",
    "SSE_HEADERS",
    "Follow",
    "event_stream",
    "last_event_id",
    "last_offers",
    "live_message",
    "merge_history",
    "shopper_view",
    "sse",
    "stream_length",
]

#: Response headers of an event stream: never cached, never buffered by a proxy.
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
#: A hand-over still waiting for a person, or in a live chat with one.
LIVE_STATUSES = frozenset({*OPEN_STATUSES, RequestStatus.ACCEPTED})
#: How many payload ids one stream remembers to drop duplicates.
_SEEN_LIMIT = 5000
#: The reconnect delay a stream asks for (``retry:``), after an error; a stream that
#: ends on time says ``reconnect`` instead, and the client reconnects at once.
RETRY_MS = 2000
#: Up to this share of a stream's length is taken off at random (:func:`stream_length`).
STREAM_JITTER = 0.25


def sse(payload: Mapping[str, Any]) -> str:
    """One payload as an SSE message (its id as the event id)."""
    data = json.dumps(payload, separators=(",", ":"), default=str)
    return f"id: {payload.get('id', '')}\ndata: {data}\n\n"


def last_event_id(request: Request, after: int | None) -> int:
    """The id a listener saw last: ``?after=`` or the ``Last-Event-ID`` of a reconnect."""
    seen = after or 0
    header = request.headers.get("last-event-id", "").strip()
    if header.isdigit():
        seen = max(seen, int(header))
    return seen


async def _pump(subscription: Subscription, queue: asyncio.Queue[LivePayload]) -> None:
    async for payload in subscription:
        await queue.put(payload)


@dataclass(frozen=True, slots=True)
class Follow:
    """Chats a stream starts (or stops) following while it is open.

    The staff's stream follows the chats of the staff member; one accepted or handed
    over to them after the stream opened is picked up from its queue payload
    (``taken``, ``transferred``), without waiting for the next reconnect.

    Attributes:
        chats: The hand-overs followed from the start.
        start: The hand-over a payload makes this stream follow, or ``None``.
        stop: The hand-over a payload makes this stream leave, or ``None``.
        subscribe: A subscription to one hand-over's payloads.
        backlog: A hand-over's stored payloads after an id (read once subscribed, so
            what was said between the payload and the subscription is not missed).
    """

    chats: Sequence[str]
    start: Callable[[LivePayload], str | None]
    stop: Callable[[LivePayload], str | None]
    subscribe: Callable[[str], Subscription]
    backlog: Callable[[str, int], Awaitable[list[LivePayload]]]


class _Listening:
    """Open subscriptions, each pumping into one queue; closed together."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[LivePayload] = asyncio.Queue(maxsize=1000)
        self._open: dict[str, tuple[Subscription, asyncio.Task[None]]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._open

    async def add(self, key: str, subscription: Subscription) -> None:
        await subscription.__aenter__()
        self._open[key] = (subscription, asyncio.create_task(_pump(subscription, self.queue)))

    async def remove(self, key: str) -> None:
        subscription, pump = self._open.pop(key)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        with contextlib.suppress(Exception):
            await subscription.__aexit__(None, None, None)

    async def close(self) -> None:
        for key in list(self._open):
            await self.remove(key)


def stream_length(seconds: float) -> float:
    """How long one stream stays open: ``seconds``, less up to a quarter at random.

    Streams opened together (a shop's widgets after a deploy, a bench) then end, and
    reconnect, spread out rather than all at once.
    """
    return seconds * (1.0 - STREAM_JITTER * random.random())


async def event_stream(
    request: Request,
    subscriptions: Sequence[Subscription],
    backlog: Callable[[], Awaitable[list[LivePayload]]],
    *,
    after: int = 0,
    keep: Callable[[LivePayload], bool] = lambda payload: True,
    last: Callable[[LivePayload], bool] = lambda payload: False,
    seconds: float = 120.0,
    keepalive: float = 15.0,
    follow: Follow | None = None,
) -> AsyncIterator[str]:
    """Server-sent events: the backlog after ``after``, then live payloads.

    Args:
        request: The streaming request (its disconnect ends the stream).
        subscriptions: Live-channel subscriptions, entered here (before the backlog is
            read, so nothing published meanwhile is missed).
        backlog: The stored payloads the stream starts with (those above ``after``).
        after: The id the listener saw last.
        keep: Which payloads this listener may see.
        last: A payload after which the stream ends (the chat is over).
        seconds: How long the stream stays open at most (:func:`stream_length`); at
            the end it sends a ``reconnect`` event, and the widget and the desk open a
            new stream at once, after the last id they saw.
        keepalive: Seconds of silence before a keep-alive comment.
        follow: Chats followed from the start, and those to pick up (or leave) as
            payloads say so.
    """
    deadline = time.monotonic() + stream_length(seconds)
    seen: set[int] = set()
    newest = after

    def fresh(payload: LivePayload) -> bool:
        nonlocal newest
        ident = payload.get("id")
        if not isinstance(ident, int) or ident in seen or not keep(payload):
            return False
        if len(seen) >= _SEEN_LIMIT:
            seen.clear()
        seen.add(ident)
        newest = max(newest, ident)
        return True

    listening = _Listening()
    try:
        for index, subscription in enumerate(subscriptions):
            await listening.add(f"#{index}", subscription)
        if follow is not None:
            for handover_id in follow.chats:
                await listening.add(handover_id, follow.subscribe(handover_id))
        yield f"retry: {RETRY_MS}\n\n"
        for payload in await backlog():
            if payload["id"] > after and fresh(payload):
                yield sse(payload)
                if last(payload):
                    return
            elif isinstance(payload.get("id"), int):
                seen.add(payload["id"])
        while (remaining := deadline - time.monotonic()) > 0:
            if await request.is_disconnected():
                return
            try:
                payload = await asyncio.wait_for(listening.queue.get(), min(keepalive, remaining))
            except TimeoutError:
                if deadline - time.monotonic() > 0:
                    yield ": keep-alive\n\n"
                continue
            batch = [payload] if fresh(payload) else []
            if follow is not None:
                if (gone := follow.stop(payload)) is not None and gone in listening:
                    await listening.remove(gone)
                if (new := follow.start(payload)) is not None and new not in listening:
                    await listening.add(new, follow.subscribe(new))
                    batch += [p for p in await follow.backlog(new, payload["id"]) if fresh(p)]
            for item in batch:
                yield sse(item)
                if last(item):
                    return
        yield f"event: reconnect\ndata: {newest}\n\n"
    finally:
        await listening.close()


def live_message(payload: LivePayload) -> dict[str, Any]:
    """A live payload as one entry of the widget's history."""
    if payload["type"] == "staff_message":
        text, staff = payload["text"], payload["staff"]
        return {"from": "staff", "text": text, "staff": staff, "live": payload}
    if payload["type"] == "shopper_message":
        return {"from": "shopper", "text": payload["text"], "live": payload}
    return {"from": "live", "live": payload}


def _timestamp(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return 0.0


def merge_history(
    tracker: Mapping[str, Any], payloads: Sequence[LivePayload]
) -> list[dict[str, Any]]:
    """Rasa's transcript and the live chat's payloads in the order they happened.

    Rasa's events carry a Unix ``timestamp``, a payload its ``at``; each payload goes
    after the transcript messages of the events before it.
    """
    raw = tracker.get("events")
    events = [e for e in raw if isinstance(e, Mapping)] if isinstance(raw, list) else []
    messages = history_from_tracker({"events": events})
    if not payloads:
        return messages
    # Rasa's timestamps only grow; made monotonic anyway for bisect.
    stamps = list(itertools.accumulate((_timestamp(e.get("timestamp")) for e in events), max))
    shown_before: dict[int, int] = {}

    def position(at: str) -> int:
        try:
            moment = datetime.fromisoformat(at).timestamp()
        except ValueError:
            return len(messages)
        cut = bisect.bisect_right(stamps, moment)
        if cut not in shown_before:
            shown_before[cut] = len(history_from_tracker({"events": events[:cut]}))
        return min(shown_before[cut], len(messages))

    merged: list[dict[str, Any]] = []
    taken = 0
    for payload in payloads:
        place = position(payload["at"])
        if place > taken:
            merged.extend(messages[taken:place])
            taken = place
        merged.append(live_message(payload))
    merged.extend(messages[taken:])
    return merged


def last_offers(tracker: Mapping[str, Any]) -> OffersMessage | None:
    """The last offers payload the bot showed in this conversation, if any."""
    for message in reversed(history_from_tracker(tracker)):
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "offers":
            offers: OffersMessage = custom  # type: ignore[assignment]
            return offers
    return None


def shopper_view(record: HandoverRecord | None, payloads: Sequence[LivePayload]) -> dict[str, Any]:
    """What the widget needs to know of its latest hand-over after a reload."""
    if record is None:
        return {}
    status = RequestStatus(record.status)
    may_leave = status == RequestStatus.TIMED_OUT or (
        status == RequestStatus.CLOSED and record.outcome == "outside_hours"
    )
    return {
        "handover": record.id,
        "status": status.value,
        "streaming": status in LIVE_STATUSES,
        "may_leave_message": may_leave,
        "last_id": max((p["id"] for p in payloads), default=0),
    }
