r"""What of a shopper's message reaches Rasa: clean text, and button payloads kept simple.

The widget sends free text and its buttons' payloads (``/inform{"choice":"beginner"}``,
``/resume_shared{"code":"…"}``, ``/restart``). Rasa reads any message that starts with
``/`` as an intent with JSON entities, so a typed ``/inform{…}`` nested a thousand levels
deep makes Rasa fail (RecursionError) and ``/restart{}`` or ``/session_start`` restart it
silently. Found by the fuzz bench (bench/fuzz.py):

- lone surrogates (``"\ud800"``, possible in JSON) cannot be encoded for Rasa: they
  become U+FFFD;
- a payload is passed on only in the widget's shape: an intent name and at most a flat
  JSON object of a few short scalar values; only the exact ``/restart`` restarts; Rasa's
  other built-in intents, ``/restart`` with anything after it and anything else that
  starts with ``/`` is sent as text, without its leading slashes (read like any message);
- metadata: only the page's language goes on (see ``web.routers.shop.with_language``).
"""

from __future__ import annotations

import json
import math
import re

__all__ = ["RASA_RESTART", "clean_text", "guard_payload"]

RASA_RESTART = "/restart"
#: Rasa's own intents a message must not trigger ("back" undoes turns, "session_start"
#: restarts the session silently); ``restart`` is the widget's "start over".
_BUILT_IN = frozenset({"back", "session_start", "nlu_fallback", "restart"})
_PAYLOAD = re.compile(r"/(?P<intent>[A-Za-z_][A-Za-z0-9_-]{0,63})(?P<rest>.*)", re.DOTALL)
_MAX_ENTITIES = 10
_MAX_PAYLOAD_CHARS = 500
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (not encodable as UTF-8) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def guard_payload(text: str) -> str:
    """The message as Rasa may see it (see the module docstring)."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    match = _PAYLOAD.fullmatch(stripped)
    if match is None:
        return stripped.lstrip("/")
    intent, rest = match["intent"], match["rest"]
    if intent == RASA_RESTART[1:]:
        # Only the widget's exact "/restart" restarts silently (the widget greets again);
        # "/restart{}" typed by hand is read as text, and answered ("let's start over").
        return RASA_RESTART if rest == "" else stripped.lstrip("/")
    if intent not in _BUILT_IN and (rest == "" or _simple_entities(rest)):
        return stripped
    return stripped.lstrip("/")


def _simple_entities(rest: str) -> bool:
    if len(rest) > _MAX_PAYLOAD_CHARS or not rest.startswith("{"):
        return False
    try:
        value = json.loads(rest)
    except (ValueError, RecursionError):
        return False
    if not isinstance(value, dict) or len(value) > _MAX_ENTITIES:
        return False
    return all(
        isinstance(v, str | bool | int) or (isinstance(v, float) and math.isfinite(v))
        for v in value.values()
    )
