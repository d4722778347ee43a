"""A small client for Rasa's HTTP API, as used by the web app.

Exceptions:
    RasaUnavailableError: Rasa could not be reached, timed out, or answered with
        something other than a successful JSON reply. The web layer turns it into
        one friendly HTTP 503 (see ``web.app``); ``cause`` is for the operator log.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["REST_WEBHOOK_PATH", "RasaClient", "RasaUnavailableError"]

REST_WEBHOOK_PATH = "/webhooks/rest/webhook"


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
    """Calls Rasa over a shared ``httpx.AsyncClient`` whose base URL is Rasa's."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

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

    async def version_banner(self, *, timeout_s: float) -> str:
        """Return Rasa's root banner (e.g. ``Hello from Rasa: 3.6.21``) as a liveness check.

        Args:
            timeout_s: Seconds to wait; kept short because health checks run often.

        Raises:
            RasaUnavailableError: Rasa is unreachable, too slow, or answered badly.
        """
        reply = await self._call("GET", "/", timeout=timeout_s)
        return reply.text.strip()

    async def _call(
        self, method: str, path: str, *, sender: str | None = None, **kwargs: Any
    ) -> httpx.Response:
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
            raise RasaUnavailableError(
                f"{_where(reply)} answered HTTP {reply.status_code}", sender=sender
            )
        return reply


def _where(reply: httpx.Response) -> str:
    return f"{reply.request.method} {reply.request.url}"
