"""Everything stored of one conversation, as one JSON document (a shopper's right of access).

The same document for the shopper's download from the widget and for staff answering a
request (console, ``advisor privacy export``). Read from the stores themselves, never
from a cache: Rasa's tracker rows (messages, buttons, offers, the advisor's state slot)
and our tables (ratings, the live chat with staff, messages left, codes). Keys::

    conversation, exported_at,
    messages        [{from: shopper|bot, at, text, buttons, custom}]   Rasa's tracker
    answers         {question: value}  (the advisor's latest state)
    offers          [offers payloads, as the widget got them]
    ratings         [{target, step, comment, at}]
    hand_overs      [{code, status, outcome, staff, created_at, ended_at}]
    staff_messages  [{type, author, at, text, ...}]  (the live chat, both sides)
    messages_left   [{text, email, phone, at}]
    codes           [{code, kind, expires_at}]
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, inspect, select

from advisor.conversation_store import ConversationRecord
from advisor.handover import HandoverRecord
from advisor.inbox import InboxMessage
from advisor.live_log import LiveMessage
from advisor.privacy import Stores, rasa_events
from advisor.ratings import Rating
from advisor.sharing import SharedConfiguration
from advisor.state import STATE_SLOT

__all__ = ["EXPORT_VERSION", "export", "tracker_messages"]

#: Bumped when a key changes meaning, so a reader can tell.
EXPORT_VERSION = 1


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def tracker_messages(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages and the latest advisor state in Rasa's event rows (oldest first).

    Each row's ``data`` is the event as Rasa serialises it (JSON text).
    """
    messages: list[dict[str, Any]] = []
    state: dict[str, Any] = {}
    for row in rows:
        try:
            event = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
        except (TypeError, ValueError):
            continue
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        at = _iso(event.get("timestamp") or row.get("timestamp"))
        if kind == "user" and isinstance(event.get("text"), str):
            messages.append({"from": "shopper", "at": at, "text": event["text"]})
        elif kind == "bot":
            raw = event.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            text = event.get("text") if isinstance(event.get("text"), str) else ""
            buttons = data.get("buttons") if isinstance(data.get("buttons"), list) else []
            custom = data.get("custom") if isinstance(data.get("custom"), dict) else None
            if text or buttons or custom:
                messages.append(
                    {"from": "bot", "at": at, "text": text, "buttons": buttons, "custom": custom}
                )
        elif kind == "slot" and event.get("name") == STATE_SLOT:
            value = event.get("value")
            state = dict(value) if isinstance(value, dict) else {}
    return messages, state


def _tracker_rows(stores: Stores, conversation: str) -> list[dict[str, Any]]:
    if stores.tracker is None:
        return []
    events = rasa_events(stores.tracker)
    if events is None:
        return []
    with stores.tracker.connect() as connection:
        result = connection.execute(
            select(events.c.data, events.c.timestamp)
            .where(events.c.sender_id == conversation)
            .order_by(events.c.id)
        )
        return [dict(row) for row in result.mappings()]


def _rows(connection: Connection, model: Any, where: Any, order: Any) -> list[dict[str, Any]]:
    table = _table(model)
    if not inspect(connection).has_table(table.name):
        return []
    return [
        dict(r) for r in connection.execute(select(table).where(where).order_by(order)).mappings()
    ]


def _ours(connection: Connection, conversation: str) -> dict[str, Any]:
    rating, handover, stored = _table(Rating), _table(HandoverRecord), _table(ConversationRecord)
    states = _rows(
        connection, ConversationRecord, stored.c.conversation == conversation, stored.c.seq
    )
    shared, inbox, live = _table(SharedConfiguration), _table(InboxMessage), _table(LiveMessage)
    ratings = _rows(connection, Rating, rating.c.conversation == conversation, rating.c.id)
    handovers = _rows(
        connection, HandoverRecord, handover.c.conversation == conversation, handover.c.created_at
    )
    ids = [h["id"] for h in handovers]
    staff_messages = (
        _rows(connection, LiveMessage, live.c.handover_id.in_(ids), live.c.id) if ids else []
    )
    where_inbox = inbox.c.conversation == conversation
    if ids:
        where_inbox = where_inbox | inbox.c.handover_id.in_(ids)
    left = _rows(connection, InboxMessage, where_inbox, inbox.c.id)
    codes = _rows(
        connection, SharedConfiguration, shared.c.conversation == conversation, shared.c.created_at
    )
    return {
        "state": dict(states[-1]["state"]) if states else None,
        "ratings": [
            {
                "target": r["target"],
                "step": r["step"],
                "comment": r["comment"],
                "at": _iso(r["updated_at"]),
            }
            for r in ratings
        ],
        "hand_overs": [
            {
                "code": h["code"],
                "status": h["status"],
                "outcome": h["outcome"],
                "staff": h["staff"],
                "note": h["note"],
                "created_at": _iso(h["created_at"]),
                "ended_at": _iso(h["ended_at"]),
            }
            for h in handovers
        ],
        "staff_messages": [
            {
                **dict(m["payload"] or {}),
                "type": m["type"],
                "author": m["author"],
                "at": _iso(m["at"]),
            }
            for m in staff_messages
        ],
        "messages_left": [
            {
                "text": m["text"],
                "email": m["email"],
                "phone": m["phone"],
                "at": _iso(m["created_at"]),
            }
            for m in left
        ],
        "codes": [
            {"code": c["code"], "kind": c["kind"], "expires_at": _iso(c["expires_at"])}
            for c in codes
        ],
    }


def export(stores: Stores, conversation: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored of ``conversation``: the document described above.

    A conversation of which nothing is stored gives the document with empty lists
    (the shopper's download of a conversation not yet begun says just that).
    """
    messages, state = tracker_messages(_tracker_rows(stores, conversation))
    with stores.engine.connect() as connection:
        ours = _ours(connection, conversation)
    # Our copy of the state is written before each reply, Rasa's slot after it: the
    # newer one (its seq) holds the answers.
    ours_state = ours.pop("state")
    if isinstance(ours_state, dict) and int(ours_state.get("seq") or 0) >= int(
        state.get("seq") or 0
    ):
        state = ours_state
    answers = state.get("answers") if isinstance(state.get("answers"), dict) else {}
    offers = [
        m["custom"]
        for m in messages
        if m["from"] == "bot"
        and isinstance(m.get("custom"), dict)
        and m["custom"].get("type") == "offers"
    ]
    return {
        "version": EXPORT_VERSION,
        "conversation": conversation,
        "exported_at": (now or datetime.now(UTC)).isoformat(),
        "messages": messages,
        "answers": dict(answers or {}),
        "offers": offers,
        **ours,
    }
