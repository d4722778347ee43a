"""The shop area: the landing page with the chat widget and the chat proxy to Rasa.

The conversation is the one in the browser's ``conversation`` cookie
(:mod:`web.conversation`); a client cannot name another. ``/api/chat`` sends a message
and issues the cookie on first use; ``/api/chat/history`` gives back what was said so
far, so a reload shows the conversation.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from advisor.render import render
from web.conversation import ConversationDep, ExistingConversationDep, history_from_tracker
from web.deps import RasaDep, templates

__all__ = ["ChatRequest", "ChatResponse", "HistoryResponse", "router"]

router = APIRouter(tags=["shop"])

logger = logging.getLogger("web")

RASA_RESTART = "/restart"

# Longer messages are cut before they reach Rasa: this protects Rasa's NLU pipeline
# (tokenising and featurising cost grows with length) from pasted essays or abuse.
# No real answer to a shopping question comes anywhere near this.
MAX_MESSAGE_CHARS = 5000

# The shop page loads nothing from elsewhere and runs no inline script; saying so to
# the browser turns any HTML that slips into the page into inert text.
SHOP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class ChatRequest(BaseModel):
    """One shopper message sent by the chat widget.

    The conversation comes from the cookie, never from the body: a ``sender`` key (sent
    by widgets from before the cookie) is ignored like any other unknown key.
    """

    model_config = ConfigDict(extra="ignore")

    message: str
    metadata: dict[str, Any] | None = None


class ChatResponse(BaseModel):
    """Rasa's replies, passed through as Rasa sent them."""

    messages: list[dict[str, Any]]


class HistoryResponse(BaseModel):
    """The conversation of the cookie's holder, oldest message first.

    Each message is ``{"from": "shopper" | "bot", "text", "buttons", "custom"}`` (see
    :func:`web.conversation.history_from_tracker`).
    """

    messages: list[dict[str, Any]]


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def shop_page(request: Request) -> HTMLResponse:
    """Render the shop landing page with the advisor chat open."""
    response = templates.TemplateResponse(request, "shop/index.html")
    response.headers["Content-Security-Policy"] = SHOP_CSP
    return response


@router.post("/api/chat")
async def chat(body: ChatRequest, rasa: RasaDep, sender: ConversationDep) -> ChatResponse:
    """Forward one message to Rasa's REST channel and return its replies.

    Failures raise ``RasaUnavailableError``, which ``web.app`` turns into a 503. An
    empty reply means Rasa could not run the action (the action server is down or
    failed): the shopper gets a polite sentence instead of silence; the conversation
    in Rasa is unchanged, so the next message goes on from where it was.
    """
    messages = await rasa.send_message(
        sender=sender,
        message=body.message[:MAX_MESSAGE_CHARS],
        metadata=body.metadata,
    )
    # Rasa's built-in /restart resets the tracker and says nothing by design (the widget
    # shows its own greeting again); any other empty reply is a failed action call.
    if not messages and body.message.strip() != RASA_RESTART:
        logger.error("Rasa sent no reply for sender %s; the action call likely failed", sender)
        messages = [{"recipient_id": sender, "text": render("failure")}]
    return ChatResponse(messages=messages)


@router.get("/api/chat/history")
async def chat_history(
    rasa: RasaDep, response: Response, sender: ExistingConversationDep
) -> HistoryResponse:
    """The messages of this browser's conversation so far, read from Rasa's tracker.

    Without a valid conversation cookie there is no conversation: an empty list, and
    Rasa is not asked. Failures are a 503 like ``/api/chat``'s.
    """
    # A conversation is private to its holder: no shared cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    if sender is None:
        return HistoryResponse(messages=[])
    return HistoryResponse(messages=history_from_tracker(await rasa.tracker(sender)))
