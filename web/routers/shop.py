"""The shop area: the landing page with the chat widget and the chat proxy to Rasa."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from advisor.render import render
from web.deps import RasaDep, templates

__all__ = ["ChatRequest", "ChatResponse", "router"]

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
    """One shopper message sent by the chat widget."""

    sender: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
    message: str
    metadata: dict[str, Any] | None = None


class ChatResponse(BaseModel):
    """Rasa's replies, passed through as Rasa sent them."""

    messages: list[dict[str, Any]]


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def shop_page(request: Request) -> HTMLResponse:
    """Render the shop landing page with the advisor chat open."""
    response = templates.TemplateResponse(request, "shop/index.html")
    response.headers["Content-Security-Policy"] = SHOP_CSP
    return response


@router.post("/api/chat")
async def chat(body: ChatRequest, rasa: RasaDep) -> ChatResponse:
    """Forward one message to Rasa's REST channel and return its replies.

    Failures raise ``RasaUnavailableError``, which ``web.app`` turns into a 503. An
    empty reply means Rasa could not run the action (the action server is down or
    failed): the shopper gets a polite sentence instead of silence; the conversation
    in Rasa is unchanged, so the next message goes on from where it was.
    """
    messages = await rasa.send_message(
        sender=body.sender,
        message=body.message[:MAX_MESSAGE_CHARS],
        metadata=body.metadata,
    )
    # Rasa's built-in /restart resets the tracker and says nothing by design (the widget
    # shows its own greeting again); any other empty reply is a failed action call.
    if not messages and body.message.strip() != RASA_RESTART:
        logger.error("Rasa sent no reply for sender %s; the action call likely failed", body.sender)
        messages = [{"recipient_id": body.sender, "text": render("failure")}]
    return ChatResponse(messages=messages)
