"""Privacy in the web app: the shopper's download and deletion, the staff's requests.

Shopper (``shopper_router``, no login; the conversation is the one of the browser's
HttpOnly cookie, :mod:`web.conversation`, so nobody can name another's):

* ``GET /api/chat/privacy/export``: everything stored of this conversation as a JSON
  file (:mod:`advisor.privacy_export`); without a cookie the file says nothing is stored.
* ``POST /api/chat/privacy/erase`` with the JSON body ``{"confirm": true}``: erase it
  from every store (:func:`advisor.privacy.erase`) and end the cookie. CSRF-safe as
  ``/api/chat`` is: the cookie is ``SameSite=Lax`` (no cross-site POST carries it), the
  body must be JSON (a cross-site form cannot send that without a preflight, which we
  never allow), and an ``Origin`` header naming another site is refused.
* ``GET /de/datenschutz``, ``GET /en/privacy``: what the advisor stores, for how long,
  and the shopper's rights; the widget's notice links here unless the shop configured
  its own page (``PRIVACY_URL_DE``/``_EN``).

Staff (``router``, role ``admin``: a privacy request is the data-protection officer's or
the shop owner's, not every sales person's; each POST with the CSRF token):

* ``GET /console/privacy``: the form (a conversation id or a hand-over/share code) and
  the newest audit entries;
* ``POST /console/privacy/export``: the JSON file of that conversation;
* ``POST /console/privacy/erase``: erase it (the form asks to confirm).

Every export and erasure leaves an audit entry (:class:`advisor.privacy.PrivacyAudit`).
The action server writes its analytics events every half second: an erasure that
follows a message at once is swept again a little later (:data:`LATE_SWEEP_SECONDS`)
and once more after :data:`LAST_SWEEP_SECONDS`, so an event written meanwhile does not
outlive it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import pass_context
from jinja2.runtime import Context
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError

from advisor import privacy
from advisor.accounts import Role
from advisor.privacy_export import export
from advisor.routing import HandoverError, RequestStatus
from advisor.settings import Settings
from web.auth import same_origin
from web.conversation import COOKIE_NAME, ExistingConversationDep
from web.deps import CurrentUser, require_role, staff_page, templates
from web.services import LiveDep, app_event_log

__all__ = [
    "LAST_SWEEP_SECONDS",
    "LATE_SWEEP_SECONDS",
    "PRIVACY_PAGES",
    "privacy_notice",
    "router",
    "shopper_router",
    "stores_of",
]

log = logging.getLogger("web")

#: How long after a shopper's erasure it is swept once more (the action server's event
#: log writes every 0.5 s; a message answered just before may land after the erasure).
LATE_SWEEP_SECONDS = 2.0
#: A last sweep for events held up longer (a busy database delays the writer's flush).
LAST_SWEEP_SECONDS = 30.0
#: The advisor's own privacy page per language (the notice's default link).
PRIVACY_PAGES = {"de": "/de/datenschutz", "en": "/en/privacy"}

shopper_router = APIRouter(tags=["shop"])
router = APIRouter(
    prefix="/console/privacy",
    tags=["console"],
    dependencies=[Depends(require_role(Role.ADMIN))],
)


def stores_of(request: Request) -> privacy.Stores:
    """The app's stores of a conversation: its database and Rasa's tracker store.

    A SQLite tracker file Rasa has not made yet is looked for again on the next request
    (Rasa makes it on its first conversation, possibly after the web app started).
    """
    state = request.app.state
    settings: Settings = state.settings
    stores: privacy.Stores | None = getattr(state, "privacy_stores", None)
    if stores is None or stores.tracker is None:
        url = settings.tracker_store_url
        tracker = None if privacy.tracker_missing(url) else privacy.tracker_engine(url)
        stores = privacy.Stores(state.db.engine, tracker)
        state.privacy_stores = stores
    return stores


StoresDep = Annotated[privacy.Stores, Depends(stores_of)]


@pass_context
def privacy_notice(context: Context) -> dict[str, Any]:
    """What the widget's notice shows in the page's language: link, own text, days.

    A Jinja global: ``{% set notice = privacy_notice() %}``.
    """
    request = context.get("request")
    language = str(context.get("lang") or "en")
    language = language if language in PRIVACY_PAGES else "en"
    app = getattr(request, "app", None)
    settings = getattr(getattr(app, "state", None), "settings", None)
    if not isinstance(settings, Settings):
        settings = Settings()
    return {
        "url": getattr(settings, f"privacy_url_{language}") or PRIVACY_PAGES[language],
        "text": getattr(settings, f"privacy_notice_{language}"),
        "days": settings.retention_days,
        "cookie_days": settings.conversation_days,
    }


templates.env.globals["privacy_notice"] = privacy_notice


def _download(document: dict[str, Any]) -> Response:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="conversation-{day}.json"',
            "Cache-Control": "no-store",
        },
    )


def _unavailable() -> JSONResponse:
    return JSONResponse(status_code=503, content={"ok": False, "error": "unavailable"})


# -- the shopper -------------------------------------------------------------------


@shopper_router.get("/api/chat/privacy/export")
async def shopper_export(
    request: Request, stores: StoresDep, sender: ExistingConversationDep
) -> Response:
    """This browser's conversation as a JSON file (empty lists without a conversation)."""
    if sender is None:
        return _download(export(privacy.Stores(stores.engine), "", now=datetime.now(UTC)))
    try:
        await _flush_events(request)
        document = await asyncio.to_thread(export, stores, sender)
        await asyncio.to_thread(
            privacy.audited,
            stores,
            actor="shopper",
            action="export",
            conversation=sender,
            via="cookie",
        )
    except SQLAlchemyError:
        log.exception("privacy: export of conversation %s failed", privacy.digest(sender)[:12])
        return _unavailable()
    return _download(document)


class EraseRequest(BaseModel):
    """The shopper confirmed the deletion in the widget."""

    model_config = ConfigDict(extra="ignore")

    confirm: Literal[True]


async def _flush_events(request: Request) -> None:
    # Events of the web app's own log still queued would be written after the erasure.
    events = app_event_log(request)
    if events is not None:
        await asyncio.to_thread(events.flush)


async def _end_live_chat(live: LiveDep, sender: str) -> None:
    """End a live chat a staff member is in, so their console is told before it goes."""
    try:
        record = await asyncio.to_thread(live.store.latest_for, sender)
        if record is not None and record.status == RequestStatus.ACCEPTED:
            await live.desk.end(record.id, by="shopper", hand_back=False)
    except (HandoverError, SQLAlchemyError):
        # The erasure goes on: the staff member's next action on the chat is refused.
        log.warning(
            "privacy: the live chat of %s could not be ended first", privacy.digest(sender)[:12]
        )


async def _sweep_later(stores: privacy.Stores, sender: str) -> None:
    await asyncio.sleep(LATE_SWEEP_SECONDS)
    await _sweep(stores, sender)
    await asyncio.sleep(LAST_SWEEP_SECONDS - LATE_SWEEP_SECONDS)
    await _sweep(stores, sender)


async def _sweep(stores: privacy.Stores, sender: str) -> None:
    """Erase what arrived for ``sender`` since the erasure, if anything did."""
    try:
        await asyncio.to_thread(privacy.resolve, stores, sender)
    except privacy.PrivacyError:
        return  # nothing came late
    except SQLAlchemyError:
        log.exception("privacy: late sweep of %s failed", privacy.digest(sender)[:12])
        return
    try:
        await asyncio.to_thread(privacy.erase, stores, sender, actor="shopper", via="cookie")
    except SQLAlchemyError:
        log.exception("privacy: late sweep of %s failed", privacy.digest(sender)[:12])


_sweeps: set[asyncio.Task[None]] = set()


@shopper_router.post("/api/chat/privacy/erase")
async def shopper_erase(
    request: Request,
    body: EraseRequest,
    stores: StoresDep,
    live: LiveDep,
    sender: ExistingConversationDep,
) -> JSONResponse:
    """Erase this browser's conversation from every store and end its cookie.

    A live chat with a staff member is ended first (their console shows it closed).
    """
    if request.headers.get("origin") and not same_origin(request):
        return JSONResponse(status_code=403, content={"ok": False, "error": "cross_site"})
    if sender is None:
        return JSONResponse({"ok": True, "erased": False})
    await _end_live_chat(live, sender)
    try:
        await _flush_events(request)
        await asyncio.to_thread(privacy.erase, stores, sender, actor="shopper", via="cookie")
    except SQLAlchemyError:
        log.exception("privacy: erasure of conversation %s failed", privacy.digest(sender)[:12])
        return _unavailable()
    sweep = asyncio.create_task(_sweep_later(stores, sender))
    _sweeps.add(sweep)  # kept until done: a task nobody holds may be collected
    sweep.add_done_callback(_sweeps.discard)
    response = JSONResponse({"ok": True, "erased": True})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    response.headers["Cache-Control"] = "no-store"
    return response


async def _privacy_page(request: Request, language: str) -> HTMLResponse:
    request.state.lang = language
    response = templates.TemplateResponse(
        request, "shop/privacy.html", {"lang": language, "shop_page": True}
    )
    response.headers["Content-Language"] = language
    return response


@shopper_router.get("/de/datenschutz", response_class=HTMLResponse)
async def privacy_page_de(request: Request) -> HTMLResponse:
    """What the advisor stores and the shopper's rights, in German."""
    return await _privacy_page(request, "de")


@shopper_router.get("/en/privacy", response_class=HTMLResponse)
async def privacy_page_en(request: Request) -> HTMLResponse:
    """What the advisor stores and the shopper's rights, in English."""
    return await _privacy_page(request, "en")


# -- staff -------------------------------------------------------------------------

Reference = Annotated[str, Form(max_length=200)]


def _console_page(
    request: Request,
    stores: privacy.Stores,
    *,
    problem: str | None = None,
    reference: str = "",
    erased: dict[str, int] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        entries = privacy.entries(stores, limit=30)
    except SQLAlchemyError:
        log.exception("privacy: audit entries cannot be read")
        entries = []
    context = {
        "problem": problem,
        "reference": reference,
        "erased": erased,
        "entries": entries,
    }
    return staff_page(request, "console/privacy.html", context, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def privacy_console(request: Request, stores: StoresDep) -> HTMLResponse:
    """The form for a privacy request, and the audit of the newest ones."""
    return _console_page(request, stores)


def _found(stores: privacy.Stores, reference: str) -> privacy.Reference | str:
    """The conversation, or the key of the problem the page shows."""
    try:
        return privacy.resolve(stores, reference)
    except privacy.InvalidReferenceError:
        return "invalid"
    except privacy.UnknownConversationError:
        return "unknown"


@router.post("/export", response_model=None)
def privacy_console_export(
    request: Request, user: CurrentUser, stores: StoresDep, reference: Reference
) -> Response:
    """The JSON file of the conversation named by id or code."""
    try:
        found = _found(stores, reference)
        if isinstance(found, str):
            return _console_page(
                request, stores, problem=found, reference=reference, status_code=404
            )
        document = export(stores, found.conversation)
        privacy.audited(
            stores, actor=user.name, action="export", conversation=found.conversation, via=found.via
        )
    except SQLAlchemyError:
        log.exception("privacy: console export by %s failed", user.name)
        return _console_page(request, stores, problem="unavailable", status_code=503)
    return _download(document)


@router.post("/erase", response_class=HTMLResponse)
def privacy_console_erase(
    request: Request,
    user: CurrentUser,
    stores: StoresDep,
    reference: Reference,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    """Erase the conversation named by id or code (the form's box must be ticked)."""
    if confirm != "yes":
        return _console_page(
            request, stores, problem="confirm", reference=reference, status_code=422
        )
    try:
        found = _found(stores, reference)
        if isinstance(found, str):
            return _console_page(
                request, stores, problem=found, reference=reference, status_code=404
            )
        counts = privacy.erase(stores, found.conversation, actor=user.name, via=found.via)
    except SQLAlchemyError:
        log.exception("privacy: console erasure by %s failed", user.name)
        return _console_page(request, stores, problem="unavailable", status_code=503)
    return _console_page(request, stores, erased=counts)
