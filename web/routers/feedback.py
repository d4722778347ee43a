"""What the shopper's widget reports beside the conversation: offer clicks and ratings.

* ``POST /api/chat/click``: the shopper opened an offer (rank and product); recorded in
  the event log, so the funnel counts the click.
* ``POST /api/chat/rating``: the touchpoint rating after the offers (``target: bot``) or
  after a live chat (``target: staff``), 1 "excellent" to 5 "frustrated", with an
  optional comment; changeable for a few minutes (:mod:`advisor.ratings`), then 409.

Both are the cookie's conversation only (:mod:`web.conversation`): a client cannot
rate or click for another. Without a conversation cookie there is nothing to rate (404).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from advisor.events import Event, EventKind, EventLog
from advisor.ratings import MAX_COMMENT, RatingClosedError, RatingStore
from advisor.render import render
from web.conversation import ExistingConversationDep
from web.services import app_event_log, record_beside

__all__ = ["event_log", "rating_store", "router"]

router = APIRouter(prefix="/api/chat", tags=["shop"])
log = logging.getLogger("web")


def event_log(request: Request) -> EventLog | None:
    """The app's event log (``None`` when analytics events are off)."""
    return app_event_log(request)


def rating_store(request: Request) -> RatingStore:
    """The app's rating store, reporting to its event log."""
    state = request.app.state
    store: RatingStore | None = getattr(state, "ratings", None)
    if store is None:
        store = state.ratings = RatingStore(state.db.engine, events=event_log(request))
    return store


EventLogDep = Annotated[EventLog | None, Depends(event_log)]
RatingStoreDep = Annotated[RatingStore, Depends(rating_store)]


class ClickRequest(BaseModel):
    """An offer the shopper opened."""

    model_config = ConfigDict(extra="ignore")

    rank: int = Field(ge=1, le=10)
    sku: str = Field(min_length=1, max_length=64)


class RatingRequest(BaseModel):
    """A rating from the widget."""

    model_config = ConfigDict(extra="ignore")

    target: Literal["bot", "staff"] = "bot"
    step: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=MAX_COMMENT)


def _no_conversation() -> JSONResponse:
    return JSONResponse(status_code=404, content={"ok": False, "error": "no_conversation"})


@router.post("/click")
def click(request: Request, body: ClickRequest, sender: ExistingConversationDep) -> JSONResponse:
    """Record that the shopper opened an offer."""
    if sender is None:
        return _no_conversation()
    offer = Event(EventKind.OFFER_CLICKED, value=body.rank, data={"sku": body.sku})
    record_beside(request, sender, offer)
    return JSONResponse({"ok": True})


def _until(store: RatingStore, created_at: datetime) -> str:
    return (created_at + store.change_window).isoformat()


@router.post("/rating")
def rate(
    body: RatingRequest, store: RatingStoreDep, sender: ExistingConversationDep
) -> JSONResponse:
    """Give or change the rating of the bot's advice or of the staff member's."""
    if sender is None:
        return _no_conversation()
    try:
        rating = store.rate(sender, body.target, body.step, body.comment)
    except RatingClosedError:
        return JSONResponse(
            status_code=409,
            content={"ok": False, "error": "rating_closed", "message": render("rating_closed")},
        )
    except SQLAlchemyError:
        log.exception("rating of conversation %s not stored", sender)
        return JSONResponse(
            status_code=503,
            content={"ok": False, "error": "unavailable", "message": render("failure")},
        )
    return JSONResponse(
        {
            "ok": True,
            "step": rating.step,
            "changeable_until": _until(store, rating.created_at),
            "message": render("rating_thanks", changeable=True),
        }
    )
