"""The live hand-over as the web layer shows it: event streams and merged histories.

* :func:`event_stream`: a server-sent event stream over live-channel subscriptions:
  first what the listener missed (from the stored history, after the id it last saw),
  then payloads as they are published; each once (by id), a keep-alive comment every
  few seconds, bounded in time (the browser's ``EventSource`` reconnects with
  ``Last-Event-ID``) and ended when the client goes away.
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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
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
    "SSE_HEADERS",
    "event_stream",
    "last_event_id",
    "last_offers",
    "live_message",
    "merge_history",
    "shopper_view",
    "sse",
]

#: Response headers of an event stream: never cached, never buffered by a proxy.
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
#: A hand-over still waiting for a person, or in a live chat with one.
LIVE_STATUSES = frozenset({*OPEN_STATUSES, RequestStatus.ACCEPTED})
#: How many payload ids one stream remembers to drop duplicates.
_SEEN_LIMIT = 5000


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


async def event_stream(
    request: Request,
    subscriptions: Sequence[Subscription],
    backlog: Callable[[], Awaitable[list[LivePayload]]],
    *,
    after: int = 0,
    keep: Callable[[LivePayload], bool] = lambda payload: True,
    last: Callable[[LivePayload], bool] = lambda payload: False,
    seconds: float = 30.0,
    keepalive: float = 15.0,
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
        seconds: How long the stream stays open at most.
        keepalive: Seconds of silence before a keep-alive comment.
    """
    deadline = time.monotonic() + seconds
    queue: asyncio.Queue[LivePayload] = asyncio.Queue(maxsize=1000)
    seen: set[int] = set()

    def fresh(payload: LivePayload) -> bool:
        ident = payload.get("id")
        if not isinstance(ident, int) or ident in seen or not keep(payload):
            return False
        if len(seen) >= _SEEN_LIMIT:
            seen.clear()
        seen.add(ident)
        return True

    async with contextlib.AsyncExitStack() as stack:
        for subscription in subscriptions:
            await stack.enter_async_context(subscription)
        pumps = [asyncio.create_task(_pump(s, queue)) for s in subscriptions]
        try:
            yield "retry: 2000\n\n"
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
                    payload = await asyncio.wait_for(queue.get(), min(keepalive, remaining))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if fresh(payload):
                    yield sse(payload)
                    if last(payload):
                        return
        finally:
            for pump in pumps:
                pump.cancel()
            for pump in pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump


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
