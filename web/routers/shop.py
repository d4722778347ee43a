"""The shop area: the landing page with the chat widget and the chat proxy to Rasa.

The conversation is the one in the browser's ``conversation`` cookie
(:mod:`web.conversation`); a client cannot name another. ``/api/chat`` sends a message
and issues the cookie on first use; ``/api/chat/history`` gives back what was said so
far, so a reload shows the conversation.

The live hand-over (:mod:`web.routers.live`) joins in here: when Rasa's reply carries
``{"type": "handoff", "code": …}`` the shopper's request for a person is queued and
routed; while a staff member is in the chat, the shopper's messages go to the live chat
(stored and published) and not to Rasa, which is paused; the history merges the live
chat's messages into Rasa's transcript.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from advisor.handover import HandoverRecord
from advisor.render import render
from advisor.routing import HandoverError, RequestStatus
from advisor.sharing import CodeError, ShareStore
from advisor.state import ConversationState
from web.chat_input import RASA_RESTART, clean_text, guard_payload
from web.conversation import ConversationDep, ExistingConversationDep
from web.deps import RasaDep, templates
from web.i18n import LANGUAGES, negotiate, normalize, widget_strings
from web.live_view import merge_history, shopper_view
from web.security import CONTENT_SECURITY_POLICY
from web.services import Live, LiveDep

__all__ = ["ChatRequest", "ChatResponse", "HistoryResponse", "router"]

router = APIRouter(tags=["shop"])

logger = logging.getLogger("web")

# Longer messages are cut before they reach Rasa: this protects Rasa's NLU pipeline
# (tokenising and featurising cost grows with length) from pasted essays or abuse.
# No real answer to a shopping question comes anywhere near this.
MAX_MESSAGE_CHARS = 5000

# The shop page loads nothing from elsewhere and runs no inline script; saying so to
# the browser turns any HTML that slips into the page into inert text. One policy for
# every response (web.security adds it where a route did not).
SHOP_CSP = CONTENT_SECURITY_POLICY


class ChatRequest(BaseModel):
    """One shopper message sent by the chat widget.

    The conversation comes from the cookie, never from the body: a ``sender`` key (sent
    by widgets from before the cookie) is ignored like any other unknown key.
    """

    model_config = ConfigDict(extra="ignore")

    message: str
    metadata: dict[str, Any] | None = None


class ChatResponse(BaseModel):
    """Rasa's replies, passed through as Rasa sent them.

    ``live`` describes the conversation's hand-over when it has one (see
    :func:`web.live_view.shopper_view`); while a staff member is in the chat the
    message went to them and ``messages`` is empty.
    """

    messages: list[dict[str, Any]]
    live: dict[str, Any] | None = None


class HistoryResponse(BaseModel):
    """The conversation of the cookie's holder, oldest message first.

    Each message is ``{"from": "shopper" | "bot", "text", "buttons", "custom"}`` (see
    :func:`web.conversation.history_from_tracker`), or from the live chat ``{"from":
    "staff", "text", "staff", "live"}`` and ``{"from": "live", "live": payload}``;
    ``live`` describes the latest hand-over (left out when there was none).
    """

    messages: list[dict[str, Any]]
    live: dict[str, Any] | None = None


@router.api_route("/", methods=["GET", "HEAD"], response_class=RedirectResponse)
async def shop_root(request: Request) -> RedirectResponse:
    """Send the browser to ``/de/`` or ``/en/`` as its Accept-Language prefers (default German)."""
    language = negotiate(request.headers.get("accept-language"))
    response = RedirectResponse(f"/{language}/", status_code=307)
    response.headers["Vary"] = "Accept-Language"
    return response


#: The shop page's category tiles and the catalogue category each one's "from" price is of.
TILE_CATEGORIES = {
    "road": "road_bike",
    "gravel": "gravel_bike",
    "city": "city_bike",
    "mountain": "e_bike",
}


def _prices_from(engine: Any) -> dict[str, float]:
    """The lowest price of each tile's category; empty when the catalogue cannot be read."""
    query = text(
        "SELECT category, MIN(price) FROM product WHERE category IN "
        "(:road, :gravel, :city, :mountain) GROUP BY category"
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(query, TILE_CATEGORIES).all()
    except SQLAlchemyError:
        return {}
    lowest = {str(category): float(price) for category, price in rows if price is not None}
    return {slug: lowest[c] for slug, c in TILE_CATEGORIES.items() if c in lowest}


async def _shop_page(request: Request, language: str) -> HTMLResponse:
    request.state.lang = language
    prices = await asyncio.to_thread(_prices_from, request.app.state.db.engine)
    response = templates.TemplateResponse(
        request,
        "shop/index.html",
        {"lang": language, "shop_page": True, "prices_from": prices},
    )
    response.headers["Content-Security-Policy"] = SHOP_CSP
    response.headers["Content-Language"] = language
    return response


@router.api_route("/de/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def shop_page_de(request: Request) -> HTMLResponse:
    """The shop landing page in German, with the advisor chat open."""
    return await _shop_page(request, "de")


@router.api_route("/en/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def shop_page_en(request: Request) -> HTMLResponse:
    """The shop landing page in English, with the advisor chat open."""
    return await _shop_page(request, "en")


@router.get("/api/chat/strings")
async def chat_strings(request: Request, lang: str | None = None) -> JSONResponse:
    """The chat widget's own words in ``lang`` (else as Accept-Language prefers)."""
    language = normalize(lang) or negotiate(request.headers.get("accept-language"))
    response = JSONResponse(widget_strings(language))
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    return response


def page_language(request: Request) -> str | None:
    """The language of the page a chat request comes from, when anything says so.

    The page it was sent from (``Referer: …/de/``) first, then Accept-Language; a
    request naming neither (a script) gets ``None``: the advisor keeps its own.
    """
    referer = request.headers.get("referer", "")
    path = referer.split("://", 1)[-1].partition("/")[2]
    first = path.split("/", 1)[0].split("?", 1)[0]
    if first in LANGUAGES:
        return first
    header = request.headers.get("accept-language")
    if header and normalize_any(header):
        return negotiate(header)
    return None


def normalize_any(header: str) -> bool:
    """Whether an Accept-Language header names any of our languages."""
    return any(normalize(part.split(";", 1)[0]) for part in header.split(","))


def with_language(metadata: dict[str, Any] | None, language: str | None) -> dict[str, Any] | None:
    """The metadata Rasa gets: the language only (a valid one the widget sent wins).

    Nothing else of the body reaches Rasa: the actions read the language alone, and
    anything more (NaN, 1e309, nesting hundreds deep) only made Rasa or the JSON
    encoder fail.
    """
    sent = metadata.get("language") if isinstance(metadata, dict) else None
    chosen = (normalize(sent) if isinstance(sent, str) else None) or language
    return {"language": chosen} if chosen else None


async def _latest(live: Live, sender: str) -> HandoverRecord | None:
    try:
        return await asyncio.to_thread(live.store.latest_for, sender)
    except SQLAlchemyError:
        logger.exception("cannot read the hand-over of sender %s", sender)
        return None


def _handoff_code(messages: list[dict[str, Any]]) -> str | None:
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "handoff":
            code = custom.get("code")
            return code if isinstance(code, str) and code else None
    return None


def _state_of(request: Request, engine: Any, code: str, sender: str) -> ConversationState:
    """The state stored with the hand-over code (the answers and offers when they asked)."""
    services = getattr(request.app.state, "services", None)
    codes = getattr(services, "codes", None)
    if not isinstance(codes, ShareStore):
        codes = ShareStore(engine)
    try:
        shared = codes.get(code, kind="handoff")
    except CodeError:
        return ConversationState()
    if shared.conversation not in (None, sender):
        return ConversationState()  # never another conversation's state
    return shared.conversation_state()


async def _request_person(
    request: Request, live: Live, sender: str, code: str
) -> HandoverRecord | None:
    try:
        state = await asyncio.to_thread(_state_of, request, live.store.engine, code, sender)
        return await live.desk.request(conversation=sender, state=state, code=code)
    except (SQLAlchemyError, HandoverError):
        logger.exception("cannot queue the hand-over of sender %s", sender)
        return None


async def _live_view(live: Live, record: HandoverRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    try:
        payloads = await asyncio.to_thread(live.store.history, record.id, shopper=True)
    except SQLAlchemyError:
        payloads = []
    return shopper_view(record, payloads)


@router.post("/api/chat", response_model_exclude_none=True)
async def chat(
    request: Request, body: ChatRequest, rasa: RasaDep, live: LiveDep, sender: ConversationDep
) -> ChatResponse:
    """Forward one message to Rasa's REST channel and return its replies.

    Failures raise ``RasaUnavailableError``, which ``web.app`` turns into a 503. An
    empty reply means Rasa could not run the action (the action server is down or
    failed): the shopper gets a polite sentence instead of silence; the conversation
    in Rasa is unchanged, so the next message goes on from where it was.

    While a staff member is in the chat, the message goes to them (stored, published)
    and Rasa is not called; a reply of Rasa's that asks for a person queues the request.
    """
    text = guard_payload(clean_text(body.message[:MAX_MESSAGE_CHARS]))
    current = await _latest(live, sender)
    if current is not None and current.status == RequestStatus.ACCEPTED and text.strip():
        try:
            if text.strip() == RASA_RESTART:
                # Starting over ends the live chat: the bot takes the conversation again.
                await live.desk.end(current.id, by="shopper", hand_back=False)
                await rasa.resume(sender)
            else:
                await live.desk.say(current.id, text=text)
                return ChatResponse(messages=[], live=await _live_view(live, current))
        except HandoverError:
            pass  # it ended meanwhile: the bot answers
        current = await _latest(live, sender)
    metadata = with_language(body.metadata, page_language(request))
    messages = await rasa.send_message(sender=sender, message=text, metadata=metadata)
    code = _handoff_code(messages)
    if code is not None:
        current = await _request_person(request, live, sender, code) or current
    # Rasa's built-in /restart resets the tracker and says nothing by design (the widget
    # shows its own greeting again); a paused bot says nothing either (a staff member
    # is in the chat); any other empty reply is a failed action call.
    in_chat = current is not None and current.status == RequestStatus.ACCEPTED
    if not messages and text != RASA_RESTART and not in_chat:
        logger.error("Rasa sent no reply for sender %s; the action call likely failed", sender)
        language = (metadata or {}).get("language")
        messages = [{"recipient_id": sender, "text": render("failure", language=language)}]
    return ChatResponse(messages=messages, live=await _live_view(live, current))


@router.get("/api/chat/history", response_model_exclude_none=True)
async def chat_history(
    rasa: RasaDep, live: LiveDep, response: Response, sender: ExistingConversationDep
) -> HistoryResponse:
    """The messages of this browser's conversation so far: Rasa's tracker and live chats.

    Without a valid conversation cookie there is no conversation: an empty list, and
    Rasa is not asked. Failures are a 503 like ``/api/chat``'s.
    """
    # A conversation is private to its holder: no shared cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    if sender is None:
        return HistoryResponse(messages=[])
    tracker = await rasa.tracker(sender)
    try:
        payloads = await asyncio.to_thread(live.store.conversation_history, sender, shopper=True)
    except SQLAlchemyError:
        logger.exception("cannot read the live chats of sender %s", sender)
        payloads = []
    record = await _latest(live, sender) if payloads else None
    return HistoryResponse(
        messages=merge_history(tracker, payloads), live=await _live_view(live, record)
    )
