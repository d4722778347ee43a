"""A small client for Rasa's HTTP API, as used by the web app.

Two parts of Rasa are used. The REST channel (``/webhooks/rest/webhook``) takes the
shopper's messages and needs no token; it listens on loopback only. The HTTP API
(``rasa run --enable-api --auth-token TOKEN``; ``/conversations/{id}/…``) reads and
changes a conversation's tracker: every call carries the token as ``?token=``, which
is what Rasa 3.6 checks (no token or a wrong one: 401). The token never appears in an
error message or a log line.

Exceptions:
    RasaUnavailableError: Rasa could not be reached, timed out, or answered with
        something other than a successful JSON reply. The web layer turns it into
        one friendly HTTP 503 (see ``web.app``); ``cause`` is for the operator log.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "PAUSE_EVENT",
    "REST_WEBHOOK_PATH",
    "RESUME_EVENT",
    "RasaClient",
    "RasaUnavailableError",
]

REST_WEBHOOK_PATH = "/webhooks/rest/webhook"
#: Rasa's ``ConversationPaused`` / ``ConversationResumed`` events as the HTTP API takes them.
PAUSE_EVENT: dict[str, Any] = {"event": "pause"}
RESUME_EVENT: dict[str, Any] = {"event": "resume"}
# Conversation ids the web app issues (web.conversation) and the README's curl examples use.
_SENDER = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class RasaUnavailableError(Exception):
    """Rasa did not give a usable answer.

    Attributes:
        cause: What went wrong, for the operator (never shown to a shopper).
        sender: The conversation the call was made for, if any.
    """

    def __init__(self, cause: str, *, sender: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.sender = sender


class RasaClient:
    """Calls Rasa over a shared ``httpx.AsyncClient`` whose base URL is Rasa's.

    Args:
        http: The pooled client; its base URL is Rasa's.
        token: The HTTP API's token (``--auth-token``); empty sends none.
    """

    def __init__(self, http: httpx.AsyncClient, *, token: str = "") -> None:
        self._http = http
        self._token = token

    async def send_message(
        self, *, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send one shopper message to the REST channel and return Rasa's replies.

        Args:
            sender: Conversation id; Rasa keys its tracker on it.
            message: The shopper's text or a button payload such as ``/restart``.
            metadata: Passed through to Rasa unchanged when given.

        Returns:
            The messages exactly as Rasa sent them.

        Raises:
            RasaUnavailableError: Rasa is unreachable, too slow, or answered badly.
        """
        body: dict[str, Any] = {"sender": sender, "message": message}
        if metadata is not None:
            body["metadata"] = metadata
        reply = await self._call("POST", REST_WEBHOOK_PATH, sender=sender, json=body)
        try:
            messages = reply.json()
        except ValueError:
            raise RasaUnavailableError(
                f"{_where(reply)} answered with a body that is not JSON", sender=sender
            ) from None
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise RasaUnavailableError(
                f"{_where(reply)} answered JSON that is not a list of messages", sender=sender
            )
        return messages

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker: ``GET /conversations/{id}/tracker`` with the token.

        Events since the last restart (Rasa's default ``AFTER_RESTART``). An id Rasa has
        not seen yet gives a fresh tracker, not an error.

        Raises:
            ValueError: ``sender`` is not a conversation id (letters, digits, ``-``, ``_``).
            RasaUnavailableError: Rasa is unreachable, refused the token, or answered badly.
        """
        reply = await self._call(
            "GET", self._conversation_path(sender, "tracker"), sender=sender, api=True
        )
        return _json_object(reply, sender)

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        """Append events to the conversation: ``POST /conversations/{id}/tracker/events``.

        Args:
            sender: The conversation id.
            events: Events as Rasa's HTTP API takes them, e.g. :data:`PAUSE_EVENT`.

        Returns:
            The tracker after the events were applied.

        Raises:
            ValueError: ``sender`` is not a conversation id, or ``events`` is empty.
            RasaUnavailableError: Rasa is unreachable, refused the token or the events,
                or answered badly.
        """
        if not events:
            raise ValueError("append_events needs at least one event")
        reply = await self._call(
            "POST",
            self._conversation_path(sender, "tracker/events"),
            sender=sender,
            api=True,
            json=events,
        )
        return _json_object(reply, sender)

    async def pause(self, sender: str) -> dict[str, Any]:
        """Pause the bot for this conversation (``ConversationPaused``).

        While paused, Rasa keeps logging the shopper's messages but predicts nothing:
        the REST channel answers ``[]``. Returns the tracker.
        """
        return await self.append_events(sender, [PAUSE_EVENT])

    async def resume(self, sender: str) -> dict[str, Any]:
        """Let the bot answer this conversation again (``ConversationResumed``)."""
        return await self.append_events(sender, [RESUME_EVENT])

    async def version_banner(self, *, timeout_s: float) -> str:
        """Return Rasa's root banner (e.g. ``Hello from Rasa: 3.6.21``) as a liveness check.

        Args:
            timeout_s: Seconds to wait; kept short because health checks run often.

        Raises:
            RasaUnavailableError: Rasa is unreachable, too slow, or answered badly.
        """
        reply = await self._call("GET", "/", timeout=timeout_s)
        return reply.text.strip()

    @staticmethod
    def _conversation_path(sender: str, tail: str) -> str:
        if not _SENDER.match(sender):
            raise ValueError("a conversation id is 1 to 128 letters, digits, '-' or '_'")
        return f"/conversations/{quote(sender, safe='')}/{tail}"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        sender: str | None = None,
        api: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        if api and self._token:
            kwargs["params"] = {**kwargs.get("params", {}), "token": self._token}
        try:
            reply = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            # Covers refused connections, DNS failures, timeouts and dropped connections.
            url = self._http.base_url.join(path)
            raise RasaUnavailableError(
                f"{method} {url}: {type(exc).__name__}: {exc}", sender=sender
            ) from exc
        if reply.is_error:
            # 4xx counts too: the shopper cannot fix a request we built, so it is ours/Rasa's.
            hint = ""
            if api and reply.status_code in (401, 403):
                hint = " (is RASA_TOKEN the token Rasa was started with?)"
            raise RasaUnavailableError(
                f"{_where(reply)} answered HTTP {reply.status_code}{hint}", sender=sender
            )
        return reply


def _json_object(reply: httpx.Response, sender: str) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError:
        raise RasaUnavailableError(
            f"{_where(reply)} answered with a body that is not JSON", sender=sender
        ) from None
    if not isinstance(data, dict):
        raise RasaUnavailableError(
            f"{_where(reply)} answered JSON that is not an object", sender=sender
        )
    return data


def _where(reply: httpx.Response) -> str:
    # Without the query: it carries the token, which must not reach a log.
    return f"{reply.request.method} {reply.request.url.copy_with(query=None)}"
