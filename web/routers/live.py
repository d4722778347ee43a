"""The live hand-over: the staff's live desk and the shopper's side of the live chat.

Staff (``router``, role ``staff``, every POST with the CSRF token):

* ``GET /console/live``: the queue of shoppers waiting (Accept buttons) and the staff
  member's own chats; ``GET /console/live/queue`` is that panel alone, for ``live.js``;
* ``GET /console/live/{id}``: one chat: the whole conversation so far (Rasa's transcript
  and the live messages), the shopper's answers and offers when they asked, a message
  box, push the last offers as a card, hand back to the bot, close, transfer;
* ``POST /console/live/{id}/accept`` (first to accept wins; the bot pauses),
  ``…/say``, ``…/offers``, ``…/hand-back`` (the bot resumes), ``…/close``,
  ``…/transfer``: with ``Accept: application/json`` they answer JSON, from a plain form
  a redirect back to the chat;
* ``GET /console/live/events``: server-sent events: queue changes and the payloads of
  the staff member's chats (``?handover=`` adds that chat's backlog after ``?after=``).

Shopper (``shopper_router``, public, for the holder of the conversation cookie only):

* ``GET /api/chat/events``: server-sent events of the conversation's latest hand-over
  (queued, staff_joined, staff_message, offer_card, handed_back, closed,
  nobody_available); 204 when there is none, so ``EventSource`` stops;
* ``POST /api/chat/message-for-staff``: leave a message for the console's inbox when
  nobody was free.

Both event streams answer a client that does not ask for ``text/event-stream`` with the
backlog as JSON at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import StreamingResponse

from advisor.accounts import Role
from advisor.assisted import AssistError
from advisor.events import Event, EventKind
from advisor.handover import HandoverRecord, UnknownHandoverError
from advisor.live import Subscription
from advisor.live_payloads import LivePayload, for_shopper
from advisor.reply import Reply
from advisor.routing import (
    OPEN_STATUSES,
    HandoverError,
    NotYourChatError,
    RequestNotOpenError,
    RequestStatus,
    RequestTakenError,
    StaffStatus,
    StaffUnavailableError,
)
from advisor.sharing import CodeError
from advisor.state import STATE_SLOT, ConversationState
from product_rules.text import speaking
from web.conversation import ExistingConversationDep, history_from_tracker
from web.deps import (
    CurrentUser,
    DbSession,
    RasaDep,
    require_role,
    staff_page,
    templates,
    wants_json,
)
from web.i18n import N_, staff_language, translations
from web.live_view import (
    LIVE_STATUSES,
    SSE_HEADERS,
    Follow,
    event_stream,
    last_event_id,
    last_offers,
    live_message,
    merge_history,
)
from web.rasa import RasaClient, RasaUnavailableError
from web.services import Live, LiveDep, ServicesDep, record_beside

__all__ = ["close", "route_periodically", "router", "shopper_router"]

log = logging.getLogger("web")

router = APIRouter(
    prefix="/console/live", tags=["live"], dependencies=[Depends(require_role(Role.STAFF))]
)
shopper_router = APIRouter(tags=["live"])

#: Seconds between two routing rounds (accept timeouts, closing time).
ROUTE_EVERY_S = 2.0
#: Payload types after which a shopper's stream ends: the live chat is over.
SHOPPER_LAST = frozenset({"handed_back", "closed", "nobody_available"})
TextField = Annotated[str, Form(max_length=4000)]


# -- app lifetime --------------------------------------------------------------------


async def route_periodically(app: FastAPI, *, every: float = ROUTE_EVERY_S) -> None:
    """Route the hand-over queue every ``every`` seconds once the live desk exists."""
    while True:
        await asyncio.sleep(every)
        live = getattr(app.state, "live", None)
        if not isinstance(live, Live):
            continue
        try:
            await live.desk.route()
        except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
            log.exception("routing the hand-over queue failed; trying again")


async def close(app: FastAPI) -> None:
    """Release the live channel's connections and the chat pool's (app shutdown)."""
    live = getattr(app.state, "live", None)
    if isinstance(live, Live):
        try:
            await live.channel.aclose()
        except Exception:  # noqa: BLE001 - shutting down: log, go on
            log.exception("closing the live channel failed")
        live.desk.shutdown()
        if live.store.chat_engine is not live.store.engine:
            live.store.chat_engine.dispose()


# -- helpers -------------------------------------------------------------------------


def _wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


NO_PRODUCT_YET = N_("The shopper has not chosen a product yet.")

_PROBLEMS: dict[type[Exception], tuple[int, str]] = {
    UnknownHandoverError: (404, "unknown"),
    RequestTakenError: (409, "taken"),
    RequestNotOpenError: (409, "not_open"),
    StaffUnavailableError: (409, "unavailable"),
    NotYourChatError: (403, "not_yours"),
}


def _refused(request: Request, handover_id: str, exc: Exception) -> Response:
    status, problem = next(
        ((s, p) for kind, (s, p) in _PROBLEMS.items() if isinstance(exc, kind)), (422, "refused")
    )
    if wants_json(request):
        return JSONResponse(
            status_code=status, content={"ok": False, "error": problem, "message": str(exc)}
        )
    return staff_page(
        request,
        "console/live_problem.html",
        {"problem": problem, "message": str(exc), "handover_id": handover_id},
        status_code=status,
    )


def _unavailable(request: Request) -> Response:
    if wants_json(request):
        return JSONResponse(status_code=503, content={"ok": False, "error": "unavailable"})
    return staff_page(request, "console/unavailable.html", {}, status_code=503)


def _done(request: Request, handover_id: str, **content: Any) -> Response:
    target = f"/console/live/{handover_id}"
    if wants_json(request):
        return JSONResponse({"ok": True, "redirect": target, **content})
    return RedirectResponse(target, status_code=303)


async def _store(call: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(call, *args, **kwargs)


def _desk_context(live: Live, user: CurrentUser) -> dict[str, Any]:
    staff = {s.name: s for s in live.store.staff()}
    me = staff.get(user.name)
    return {
        "waiting": live.store.queue(),
        "mine": live.store.chats(user.name),
        "me": me,
        "available": me is not None and me.status == StaffStatus.AVAILABLE,
    }


async def _pause(rasa: RasaClient, conversation: str) -> None:
    try:
        await rasa.pause(conversation)
    except (RasaUnavailableError, ValueError) as exc:
        # The shopper's messages go to the live chat anyway; only a stray Rasa call
        # would still be answered by the bot.
        log.error("cannot pause the bot for conversation %s: %s", conversation, exc)


async def _resume(rasa: RasaClient, conversation: str) -> None:
    try:
        await rasa.resume(conversation)
    except (RasaUnavailableError, ValueError) as exc:
        log.error("cannot resume the bot for conversation %s: %s", conversation, exc)


# -- staff: pages --------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def desk(request: Request, live: LiveDep, user: CurrentUser) -> Response:
    """The queue and the staff member's chats."""
    try:
        context = await asyncio.to_thread(_desk_context, live, user)
    except SQLAlchemyError:
        log.exception("cannot read the hand-over queue")
        return _unavailable(request)
    return staff_page(request, "console/live.html", {**context, "record": None})


@router.get("/queue", response_class=HTMLResponse)
async def queue_panel(request: Request, live: LiveDep, user: CurrentUser) -> Response:
    """The queue panel alone (``live.js`` replaces it when the queue changes)."""
    try:
        context = await asyncio.to_thread(_desk_context, live, user)
    except SQLAlchemyError:
        log.exception("cannot read the hand-over queue")
        return _unavailable(request)
    response = templates.TemplateResponse(
        request, "console/_live_queue.html", {**context, "record": None}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/events")
async def staff_events(
    request: Request,
    live: LiveDep,
    user: CurrentUser,
    db: DbSession,
    handover: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """Queue changes and the payloads of the staff member's chats, as server-sent events."""
    db.close()  # the login was checked: no database session held while streaming
    seen = last_event_id(request, after)
    try:
        mine = await _store(live.store.chats, user.name)
        record = await _store(live.store.get, handover) if handover else None
    except UnknownHandoverError:
        record = None
    except SQLAlchemyError:
        log.exception("cannot read the chats of %s", user.name)
        return _unavailable(request)
    chats = {r.id for r in mine}
    if record is not None and record.staff == user.name:
        chats.add(record.id)
    watched = record.id if record is not None and record.id in chats else None

    async def backlog() -> list[LivePayload]:
        if watched is None:
            return []
        return list(await _store(live.store.history, watched, after=seen))

    if not _wants_stream(request):
        return JSONResponse(
            {"events": [p for p in await backlog() if p["id"] > seen]},
            headers={"Cache-Control": "no-store"},
        )
    return StreamingResponse(
        event_stream(
            request,
            [live.desk.queue()],
            backlog,
            after=seen,
            seconds=live.stream_seconds,
            keepalive=live.keepalive_seconds,
            follow=_following(live, user.name, chats),
        ),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def _following(live: Live, me: str, chats: set[str]) -> Follow:
    """``me``'s chats, and those accepted by (or handed over to) ``me`` meanwhile."""

    def start(payload: LivePayload) -> str | None:
        fields: dict[str, Any] = dict(payload)
        kind = fields["type"]
        if (kind == "taken" and fields.get("staff") == me) or (
            kind == "transferred" and fields.get("to_staff") == me
        ):
            return str(fields["handover"])
        return None

    def stop(payload: LivePayload) -> str | None:
        fields: dict[str, Any] = dict(payload)
        if fields["type"] == "transferred" and fields.get("from_staff") == me:
            return str(fields["handover"])
        return None

    def subscribe(handover_id: str) -> Subscription:
        return live.desk.chat(handover_id)

    async def backlog(handover_id: str, after: int) -> list[LivePayload]:
        return list(await _store(live.store.history, handover_id, after=after))

    return Follow(chats=sorted(chats), start=start, stop=stop, subscribe=subscribe, backlog=backlog)


def _transcript(
    tracker: dict[str, Any] | None, payloads: list[LivePayload]
) -> list[dict[str, Any]]:
    if tracker is None:
        return [live_message(p) for p in payloads]
    return merge_history(tracker, payloads)


@router.get("/{handover_id}", response_class=HTMLResponse)
async def chatstaff_page(
    request: Request,
    handover_id: str,
    live: LiveDep,
    services: ServicesDep,
    user: CurrentUser,
    rasa: RasaDep,
) -> Response:
    """One chat: the conversation so far, the answers and offers, and what staff can do."""
    try:
        record: HandoverRecord = await _store(live.store.get, handover_id)
        payloads = await _store(live.store.history, handover_id)
        context = await asyncio.to_thread(_desk_context, live, user)
        colleagues = [
            s for s in await _store(live.store.staff) if s.name != user.name and s.free_slots > 0
        ]
    except UnknownHandoverError as exc:
        return _refused(request, handover_id, exc)
    except SQLAlchemyError:
        log.exception("cannot read hand-over %s", handover_id)
        return _unavailable(request)
    tracker: dict[str, Any] | None
    try:
        tracker = await rasa.tracker(record.conversation)
    except (RasaUnavailableError, ValueError) as exc:
        log.error("cannot read the transcript of hand-over %s: %s", handover_id, exc)
        tracker = None
    state = current_state(tracker, record)
    with speaking(state.language):  # the questions as the shopper reads them
        served = services.advisor.served(state.ruleset)
    offers = last_offers(tracker) if tracker is not None else None
    return staff_page(
        request,
        "console/live_chat.html",
        {
            **context,
            "record": record,
            "mine_now": record.status == RequestStatus.ACCEPTED and record.staff == user.name,
            "is_open": RequestStatus(record.status) in OPEN_STATUSES,
            "messages": _transcript(tracker, payloads),
            "transcript_unavailable": tracker is None,
            "state": state,
            "questions": served.ruleset.questions if served is not None else [],
            "offers": offers,
            "colleagues": colleagues,
            "last_id": max((p["id"] for p in payloads), default=0),
            "bot_messages": len(history_from_tracker(tracker)) if tracker else 0,
        },
    )


# -- staff: actions --------------------------------------------------------------------


@router.post("/{handover_id}/accept")
async def accept(
    request: Request, handover_id: str, live: LiveDep, user: CurrentUser, rasa: RasaDep
) -> Response:
    """Take the chat (the first to accept wins); the bot pauses for the conversation."""
    try:
        record = await live.desk.accept(handover_id, staff=user.name)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    except SQLAlchemyError:
        log.exception("cannot accept hand-over %s", handover_id)
        return _unavailable(request)
    await _pause(rasa, record.conversation)
    taken = Event(EventKind.HANDOVER_TAKEN, data={"staff": user.name})
    await asyncio.to_thread(record_beside, request, record.conversation, taken)
    return _done(request, handover_id)


@router.post("/{handover_id}/say")
async def say(
    request: Request, handover_id: str, live: LiveDep, user: CurrentUser, text: TextField
) -> Response:
    """A message to the shopper."""
    if not text.strip():
        return _done(request, handover_id, payloads=[])
    try:
        payloads = await live.desk.say(handover_id, text=text, staff=user.name)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    except SQLAlchemyError:
        log.exception("cannot store a message of hand-over %s", handover_id)
        return _unavailable(request)
    return _done(request, handover_id, payloads=payloads)


@router.post("/{handover_id}/offers")
async def push_offers(
    request: Request, handover_id: str, live: LiveDep, user: CurrentUser, rasa: RasaDep
) -> Response:
    """Push the last offers the bot showed this shopper into the chat, as a card."""
    try:
        record = await _store(live.store.get, handover_id)
        tracker = await rasa.tracker(record.conversation)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    except RasaUnavailableError:
        return _unavailable(request)
    offers = last_offers(tracker)
    if offers is None:
        return _refused(
            request, handover_id, ValueError("the bot has not shown this shopper any offers yet")
        )
    try:
        payloads = await live.desk.push_offers(handover_id, staff=user.name, offers=offers)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    return _done(request, handover_id, payloads=payloads)


@router.post("/{handover_id}/expert")
async def open_expert_view(
    request: Request,
    handover_id: str,
    live: LiveDep,
    services: ServicesDep,
    user: CurrentUser,
    rasa: RasaDep,
) -> Response:
    """Open the chat's conversation as an assisted session, with its answers as they are now.

    The hand-over code's snapshot is from when the shopper asked; staff may have changed
    answers in the chat since, so the session starts from the bot's state. The code is
    used up here, so nobody else opens the same conversation from it.
    """
    try:
        record = await _store(live.store.get, handover_id)
        if record.staff != user.name:
            raise NotYourChatError(handover_id, user.name)
        tracker = await rasa.tracker(record.conversation)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    except RasaUnavailableError:
        return _unavailable(request)
    state = services.assisted.take_over(current_state(tracker, record))
    with speaking(state.language):
        served = services.advisor.served(state.ruleset)
    if served is None:
        said = translations(staff_language(request)).gettext(NO_PRODUCT_YET)
        return _refused(request, handover_id, ValueError(said))
    try:
        if record.code:
            with contextlib.suppress(CodeError):  # used or expired: the chat is proof enough
                await asyncio.to_thread(
                    services.codes.claim,
                    record.code,
                    client=f"staff:{user.name}",
                    claimed_by=user.name,
                )
        session = await asyncio.to_thread(
            services.sessions.create, staff=user.name, state=state, origin_code=record.code
        )
    except SQLAlchemyError:
        log.exception("cannot open an assisted session from hand-over %s", handover_id)
        return _unavailable(request)
    return RedirectResponse(f"/console/sessions/{session.id}", status_code=303)


def current_state(tracker: dict[str, Any] | None, record: HandoverRecord) -> ConversationState:
    """The shopper's state now: the bot's slot, else the snapshot taken when they asked."""
    slot = ((tracker or {}).get("slots") or {}).get(STATE_SLOT)
    return ConversationState.from_dict(slot) if slot else record.conversation_state()


@router.post("/{handover_id}/answer")
async def change_answer(
    request: Request,
    handover_id: str,
    live: LiveDep,
    services: ServicesDep,
    user: CurrentUser,
    rasa: RasaDep,
    question: Annotated[str, Form(max_length=64)],
    text: TextField,
) -> Response:
    """Change one of the shopper's answers for them, in the bot's own state.

    The same parser reads the text as in the chat; once every question is answered the
    new offers go into the chat as a card. After the hand-back the bot goes on from the
    changed state.
    """
    try:
        record = await _store(live.store.get, handover_id)
        if record.status != RequestStatus.ACCEPTED or record.staff != user.name:
            raise NotYourChatError(handover_id, user.name)
        tracker = await rasa.tracker(record.conversation)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    except RasaUnavailableError:
        return _unavailable(request)
    state = current_state(tracker, record)
    with speaking(state.language):  # read and answered in the shopper's language
        try:
            new, _ = await asyncio.to_thread(services.assisted.answer, state, question, text=text)
        except AssistError as exc:
            return _refused(request, handover_id, exc)
        new.channel = "chat"  # still the shopper's conversation, not an assisted session
        served = services.advisor.served(new.ruleset)
        following = served.engine.next_question(new.answers) if served is not None else None
        new.question = following.id if following is not None else None
        reply = Reply()
        if served is not None and following is None:
            await asyncio.to_thread(services.advisor.present, new, served, reply)
    try:
        await rasa.append_events(
            record.conversation, [{"event": "slot", "name": STATE_SLOT, "value": new.to_dict()}]
        )
    except RasaUnavailableError:
        return _unavailable(request)
    payloads: list[LivePayload] = []
    offers = next((p for p in reply.payloads if p.get("type") == "offers"), None)
    if offers is not None:
        payloads = await live.desk.push_offers(
            handover_id,
            staff=user.name,
            offers=offers,  # type: ignore[arg-type]
        )
    return _done(request, handover_id, payloads=payloads)


async def _end(
    request: Request,
    handover_id: str,
    live: Live,
    user: CurrentUser,
    rasa: RasaClient,
    *,
    hand_back: bool,
) -> Response:
    try:
        record = await _store(live.store.get, handover_id)
        payloads = await live.desk.end(handover_id, by=user.name, hand_back=hand_back)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    except SQLAlchemyError:
        log.exception("cannot end hand-over %s", handover_id)
        return _unavailable(request)
    # Closed or handed back, the shopper talks to the bot again.
    await _resume(rasa, record.conversation)
    return _done(request, handover_id, payloads=payloads)


@router.post("/{handover_id}/hand-back")
async def hand_back(
    request: Request, handover_id: str, live: LiveDep, user: CurrentUser, rasa: RasaDep
) -> Response:
    """Hand the conversation back to the bot (it resumes)."""
    return await _end(request, handover_id, live, user, rasa, hand_back=True)


@router.post("/{handover_id}/close")
async def close_chat(
    request: Request, handover_id: str, live: LiveDep, user: CurrentUser, rasa: RasaDep
) -> Response:
    """Close the live chat (the bot answers the shopper's next message again)."""
    return await _end(request, handover_id, live, user, rasa, hand_back=False)


@router.post("/{handover_id}/transfer")
async def transfer(
    request: Request,
    handover_id: str,
    live: LiveDep,
    user: CurrentUser,
    to: Annotated[str, Form(max_length=80)],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Hand the chat to a colleague, with a note for them."""
    try:
        payloads = await live.desk.transfer(handover_id, by=user.name, to=to, note=note)
    except HandoverError as exc:
        return _refused(request, handover_id, exc)
    except SQLAlchemyError:
        log.exception("cannot transfer hand-over %s", handover_id)
        return _unavailable(request)
    if wants_json(request):
        return JSONResponse({"ok": True, "redirect": "/console/live", "payloads": payloads})
    return RedirectResponse("/console/live", status_code=303)


# -- the shopper ---------------------------------------------------------------------


@shopper_router.get("/api/chat/events")
async def shopper_events(
    request: Request,
    live: LiveDep,
    sender: ExistingConversationDep,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The live payloads of this conversation's latest hand-over, as server-sent events.

    204 (no stream: ``EventSource`` stops) without a conversation, without a hand-over,
    or when the hand-over is over and nothing is left to show.
    """
    no_store = {"Cache-Control": "no-store"}
    if sender is None:
        return Response(status_code=204, headers=no_store)
    seen = last_event_id(request, after)
    stream = _wants_stream(request)
    try:
        record = await _store(live.store.latest_for, sender)
        live_now = record is not None and RequestStatus(record.status) in LIVE_STATUSES
        # A live stream reads what was missed once subscribed (its backlog), not here.
        missed = (
            await _store(live.store.history, record.id, shopper=True, after=seen)
            if record is not None and not (stream and live_now)
            else []
        )
    except SQLAlchemyError:
        log.exception("cannot read the hand-over of conversation %s", sender)
        return JSONResponse(status_code=503, content={"error": "unavailable"}, headers=no_store)
    if record is None:
        return Response(status_code=204, headers=no_store)
    if not stream:
        return JSONResponse({"events": missed}, headers=no_store)
    if not live_now and not missed:
        return Response(status_code=204, headers=no_store)
    handover_id = record.id

    async def backlog() -> list[LivePayload]:
        return list(await _store(live.store.history, handover_id, shopper=True, after=seen))

    return StreamingResponse(
        event_stream(
            request,
            [live.desk.chat(handover_id)],
            backlog,
            after=seen,
            keep=for_shopper,
            last=lambda p: p["type"] in SHOPPER_LAST,
            seconds=live.stream_seconds,
            keepalive=live.keepalive_seconds,
        ),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


class MessageForStaff(BaseModel):
    """A message the shopper leaves when nobody was free."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(max_length=4000)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


@shopper_router.post("/api/chat/message-for-staff")
async def message_for_staff(
    body: MessageForStaff, live: LiveDep, sender: ExistingConversationDep
) -> JSONResponse:
    """Leave a message for the console's inbox (text, optional email or phone)."""
    if sender is None:
        return JSONResponse(status_code=404, content={"error": "no_conversation"})
    try:
        record = await _store(live.store.latest_for, sender)
        if record is None:
            return JSONResponse(status_code=404, content={"error": "no_request"})
        message = await live.desk.leave_message(
            record.id,
            text=body.text,
            email=(body.email or "").strip() or None,
            phone=(body.phone or "").strip() or None,
        )
    except RequestNotOpenError as exc:
        return JSONResponse(status_code=409, content={"error": "not_open", "message": str(exc)})
    except HandoverError as exc:  # an empty message, an unusable email or phone number
        return JSONResponse(status_code=422, content={"error": "invalid", "message": str(exc)})
    except SQLAlchemyError:
        log.exception("cannot store a message for staff of conversation %s", sender)
        return JSONResponse(status_code=503, content={"error": "unavailable"})
    return JSONResponse({"ok": True, "inbox": message.id})
