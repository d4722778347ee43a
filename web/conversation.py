"""The shopper's conversation id: issued by the server, kept in a signed cookie.

The id is Rasa's sender id. It is random (``secrets.token_urlsafe(24)``: 192 bits, 32
characters of ``[A-Za-z0-9_-]``), made by the web app and never chosen by a client:
``/api/chat`` ignores any ``sender`` in its body. The id travels in the cookie
``conversation``, signed with the app's secret key (itsdangerous, like the staff
session in :mod:`web.auth`, with its own salt so neither cookie passes for the other).
A cookie that is forged, signed with another key, holds something that is not an id
of ours, or is older than ``CONVERSATION_DAYS`` is ignored: the request gets a new
conversation, and the value it carried never reaches Rasa. The cookie is HttpOnly,
SameSite=Lax, and Secure on HTTPS or when ``WEB_COOKIE_SECURE`` says so.

The cookie is set by ``/api/chat`` only (a POST, never cached). Pages do not set it:
a shared cache that kept a page together with its ``Set-Cookie`` would hand one
conversation to every visitor. Each message re-signs a cookie older than a day, so a
conversation lives ``CONVERSATION_DAYS`` after its last message.

:func:`history_from_tracker` turns Rasa's tracker into what the widget shows after a
reload.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from advisor.settings import Settings
from web.deps import SettingsDep

__all__ = [
    "COOKIE_NAME",
    "ConversationDep",
    "ExistingConversationDep",
    "MAX_HISTORY_MESSAGES",
    "conversation_id",
    "decode_cookie",
    "existing_conversation_id",
    "history_from_tracker",
    "new_conversation_id",
    "read_conversation_id",
]

COOKIE_NAME = "conversation"
_SALT = "web.conversation"
#: What :func:`new_conversation_id` makes: 24 random bytes, URL-safe base64.
_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
_REFRESH_AFTER_S = 24 * 3600
#: The newest messages a reload shows; older ones stay in Rasa's tracker.
MAX_HISTORY_MESSAGES = 500
# An intent payload the widget sends for a button or by itself (/restart, /resume_shared…).
_PAYLOAD = re.compile(r"^/[A-Za-z_][A-Za-z0-9_]*")


def new_conversation_id() -> str:
    """A fresh conversation id: 192 random bits, 32 URL-safe characters."""
    return secrets.token_urlsafe(24)


@lru_cache(maxsize=8)
def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def _max_age_s(settings: Settings) -> int:
    return settings.conversation_days * 24 * 3600


def _load(request: Request, settings: Settings) -> tuple[str, float] | None:
    return decode_cookie(request.cookies.get(COOKIE_NAME), settings)


def decode_cookie(raw: str | None, settings: Settings) -> tuple[str, float] | None:
    """The conversation id in a cookie value and when it was signed (Unix time).

    ``None`` when the value is missing, forged, signed with another key, expired, or
    holds something that is not an id :func:`new_conversation_id` makes.
    """
    if not raw:
        return None
    try:
        value, signed_at = _serializer(settings.secret_key).loads(
            raw, max_age=_max_age_s(settings), return_timestamp=True
        )
    except BadSignature:  # forged, another key's, or expired
        return None
    if not isinstance(value, str) or not _ID.match(value):
        return None
    return value, signed_at.timestamp()


def read_conversation_id(request: Request, settings: Settings) -> str | None:
    """The id in this request's valid conversation cookie, or ``None``."""
    loaded = _load(request, settings)
    return loaded[0] if loaded else None


def _set_cookie(response: Response, request: Request, settings: Settings, value: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        _serializer(settings.secret_key).dumps(value),
        max_age=_max_age_s(settings),
        path="/",
        secure=settings.cookie_secure or request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def conversation_id(request: Request, response: Response, settings: SettingsDep) -> str:
    """This browser's conversation id; a new one (and its cookie) when it has none.

    A dependency: the ``Set-Cookie`` goes out with the endpoint's response.
    """
    loaded = _load(request, settings)
    if loaded is None:
        value = new_conversation_id()
        _set_cookie(response, request, settings, value)
        return value
    value, signed_at = loaded
    if time.time() - signed_at > _REFRESH_AFTER_S:
        _set_cookie(response, request, settings, value)
    return value


def existing_conversation_id(request: Request, settings: SettingsDep) -> str | None:
    """This browser's conversation id if it holds a valid cookie; never issues one."""
    return read_conversation_id(request, settings)


ConversationDep = Annotated[str, Depends(conversation_id)]
ExistingConversationDep = Annotated[str | None, Depends(existing_conversation_id)]


def history_from_tracker(tracker: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The messages a shopper saw, from Rasa's tracker (``GET …/tracker``), oldest first.

    Each is ``{"from": "shopper" | "bot", "text": str, "buttons": [...], "custom": {...}
    | None}``. A shopper's button click is stored by Rasa as its payload
    (``/inform{…}``): it is shown with the button's title, as the widget showed it.
    Payloads the widget sends on its own (``/resume_shared{…}``) are left out, and so
    are bot events with nothing to show. At most :data:`MAX_HISTORY_MESSAGES`, the
    newest.
    """
    messages: list[dict[str, Any]] = []
    titles: dict[str, str] = {}  # button payload -> title, latest offer wins
    events = tracker.get("events")
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, Mapping):
            continue
        kind = event.get("event")
        text = event.get("text")
        if kind == "user" and isinstance(text, str) and text.strip():
            shown = titles.get(text.strip()) if _PAYLOAD.match(text.strip()) else text
            if shown is not None:
                messages.append({"from": "shopper", "text": shown, "buttons": [], "custom": None})
        elif kind == "bot":
            data = event.get("data")
            data = data if isinstance(data, Mapping) else {}
            raw_buttons = data.get("buttons")
            buttons = [
                dict(b)
                for b in (raw_buttons if isinstance(raw_buttons, list) else [])
                if isinstance(b, Mapping) and isinstance(b.get("payload"), str)
            ]
            custom = data.get("custom")
            custom = dict(custom) if isinstance(custom, Mapping) else None
            text = text if isinstance(text, str) else ""
            if not text and not buttons and custom is None:
                continue
            for button in buttons:
                title = button.get("title")
                titles[button["payload"]] = (
                    title if isinstance(title, str) and title else button["payload"]
                )
            messages.append({"from": "bot", "text": text, "buttons": buttons, "custom": custom})
    return messages[-MAX_HISTORY_MESSAGES:]
