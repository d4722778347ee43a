"""The staff console: assisted sessions for customers in the store or on the phone.

Pages (HTML):

* ``GET /console``: start a session, recent sessions, pick up a shopper's hand-over code;
* ``POST /console/sessions``: start one (form), then ``303`` to its page;
* ``POST /console/presence``: the staff member's status (available, busy, away) and
  how many chats they take at once; the start page shows it with the queue of shoppers
  waiting for a person and the inbox's unread messages;
* ``POST /console/pickup``: open a session from a hand-over code, using the code up
  (404 unknown, 410 expired, 409 used already, 429 too many wrong codes; as a page);
* ``GET /console/sessions/{id}``: every question at once, the offers, the expert view,
  the locks, the share panel and the audit log.

Changes are POSTs to ``/console/api/sessions/{id}/<operation>`` (``answer``, ``clear``,
``pin``, ``unpin``, ``exclude``, ``include``, ``lock``, ``unlock``, ``confirm``,
``share``). Called by ``console.js`` with ``Accept: application/json`` they answer the
re-rendered panels as HTML fragments; sent by a plain form they redirect back to the
page (or show it with the problem), so the console works without JavaScript too.
``GET …/components`` lists what may replace a required item and ``GET
…/share/{code}.svg`` is a share link's QR code.

Languages: the page's words follow the staff member's language (``?lang=``, the ``lang``
cookie, Accept-Language); what the advisor says for the customer (questions, answers,
offers, reasons) follows the session's language, chosen when it starts (default: the
page's) or carried over from the shopper's chat.

The whole router needs the role ``staff`` (and a CSRF token on every POST): the
dependency is declared on the router itself, so no route here can be left open.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from advisor.accounts import Role
from advisor.assisted import AssistError, Change, Evaluation
from advisor.handover import HandoverStore
from advisor.presence import InvalidPresenceError
from advisor.reply import Reply
from advisor.routing import Staff
from advisor.service import Turn
from advisor.sessions import AssistedSession, UnknownSessionError
from advisor.sharing import (
    ClaimThrottledError,
    CodeError,
    ExpiredCodeError,
    UsedCodeError,
    normalise_code,
)
from advisor.state import ConversationState
from product_rules.errors import ProductRulesError
from product_rules.text import speaking
from web.auth import staff_session
from web.console_view import ConsoleView, install_filters, session_view
from web.deps import CurrentUser, SettingsDep, require_role, staff_page, templates, wants_json
from web.i18n import normalize, staff_language
from web.services import Services, ServicesDep

__all__ = ["PANELS", "router"]

log = logging.getLogger("web")

router = APIRouter(
    prefix="/console", tags=["console"], dependencies=[Depends(require_role(Role.STAFF))]
)
install_filters(templates.env)

#: How long a share link lasts when the settings do not say.
DEFAULT_SHARE_DAYS = 14

#: The panels of the session page, each a template ``console/_<name>.html``.
PANELS = ("questions", "components", "offers", "share", "expert", "locks", "audit")

Operation = Callable[[ConversationState], tuple[ConversationState, Change]]
_handover_lock = threading.Lock()
FormText = Annotated[str, Form(max_length=2000)]
OptionalText = Annotated[str | None, Form(max_length=2000)]


# -- helpers -----------------------------------------------------------------------


def _fragment(request: Request, name: str, **context: Any) -> str:
    # Fragments are rendered outside a TemplateResponse: give them what the context
    # processor gives a page (the CSRF token for their forms' no-script fallback).
    context.setdefault("csrf_token", lambda: staff_session(request).csrf_token())
    context.setdefault("request", request)
    context.setdefault("lang", staff_language(request))
    return templates.get_template(name).render(context)


def _record(services: Services, session_id: str) -> AssistedSession:
    return services.sessions.get(session_id)


def _view(
    services: Services, record: AssistedSession, *, before: ConversationState | None = None
) -> ConsoleView:
    state = record.conversation_state()
    with speaking(state.language):  # the customer's language: questions, answers, offers
        evaluation = services.assisted.evaluate(state)
        if before is not None:
            _record_events(services, record.id, before, state, evaluation)
        return session_view(record, state, evaluation, services.sessions.audit(record.id))


def _record_events(
    services: Services,
    session_id: str,
    before: ConversationState,
    after: ConversationState,
    evaluation: Evaluation | None = None,
) -> None:
    """What a change did, for the analytics (channel console), with the offers it shows."""
    reply = Reply()
    recommendation = evaluation.recommendation if evaluation is not None else None
    if recommendation is not None and recommendation.offers and evaluation is not None:
        if evaluation.complete:
            reply.payloads.append(dict(recommendation.payload()))
    services.advisor.record(f"console-{session_id}", before, after, reply, Turn())


def _panels(request: Request, view: ConsoleView, **extra: Any) -> dict[str, str]:
    return {
        name: _fragment(request, f"console/_{name}.html", v=view, sid=view.session.id, **extra)
        for name in PANELS
    }


def _missing_session(request: Request, session_id: str) -> Response:
    if wants_json(request):
        return JSONResponse(status_code=404, content={"ok": False, "error": "unknown_session"})
    return staff_page(request, "console/missing.html", {"session_id": session_id}, status_code=404)


def _sessionstaff_page(
    request: Request,
    services: Services,
    record: AssistedSession,
    *,
    problem: str | None = None,
    status_code: int = 200,
    components: dict[str, Any] | None = None,
) -> Response:
    try:
        view = _view(services, record)
    except AssistError as exc:
        return staff_page(
            request,
            "console/missing.html",
            {"session_id": record.id, "problem": str(exc)},
            status_code=409,
        )
    return staff_page(
        request,
        "console/session.html",
        {"v": view, "sid": record.id, "problem": problem, "components": components},
        status_code=status_code,
    )


def _change(
    request: Request,
    services: Services,
    user: CurrentUser,
    session_id: str,
    operation: Operation,
    *,
    anchor: str = "",
) -> Response:
    """Apply one operation, save it with its audit entry and answer the new panels."""
    try:
        record = _record(services, session_id)
        state = record.conversation_state()
        try:
            with speaking(state.language):  # free text is read in the customer's language
                new, change = operation(state)
        except (AssistError, ProductRulesError) as exc:
            problem = str(exc)
            if wants_json(request):
                content: dict[str, Any] = {"ok": False, "error": "refused", "message": problem}
                content["panels"] = _panels_if_possible(request, services, record)
                return JSONResponse(status_code=422, content=content)
            return _sessionstaff_page(request, services, record, problem=problem, status_code=422)
        record = services.sessions.save(session_id, new, actor=user.name, change=change)
    except UnknownSessionError:
        return _missing_session(request, session_id)
    except SQLAlchemyError:
        log.exception("console change %s failed for session %s", request.url.path, session_id)
        return _unavailable(request)
    if not wants_json(request):
        with speaking(new.language):
            _record_events(services, session_id, state, new)
        return RedirectResponse(f"/console/sessions/{session_id}{anchor}", status_code=303)
    panels = _panels_if_possible(request, services, record, before=state)
    return JSONResponse({"ok": True, "panels": panels})


def _panels_if_possible(
    request: Request,
    services: Services,
    record: AssistedSession,
    *,
    before: ConversationState | None = None,
) -> dict[str, str]:
    # A session whose rule set left service cannot be shown; the reload shows why.
    try:
        return _panels(request, _view(services, record, before=before))
    except AssistError:
        return {}


def _unavailable(request: Request) -> Response:
    if wants_json(request):
        return JSONResponse(
            status_code=503,
            content={
                "ok": False,
                "error": "unavailable",
                "message": _fragment(request, "console/_unavailable.txt").strip(),
            },
        )
    return staff_page(request, "console/unavailable.html", {}, status_code=503)


# -- start page, new sessions, hand-over codes ---------------------------------------


def handover_store(request: Request, services: Services) -> HandoverStore:
    """The app's hand-over store, on the advisor's database, made on first use."""
    store = getattr(request.app.state, "handover", None)
    if not isinstance(store, HandoverStore):
        with _handover_lock:
            store = getattr(request.app.state, "handover", None)
            if not isinstance(store, HandoverStore):
                store = HandoverStore(services.codes.engine)
                request.app.state.handover = store
    return store


def _live_context(request: Request, services: Services) -> dict[str, Any]:
    """The staff member's presence, the queue and the inbox, for the start page."""
    user = getattr(request.state, "staff_user", None)
    try:
        desk = handover_store(request, services)
        staff = {s.name: s for s in desk.staff()}
        waiting = desk.queue()
        unread = len(desk.inbox(unread_only=True))
    except SQLAlchemyError:
        log.exception("cannot read the hand-over queue")
        return {"live_unavailable": True}
    name = user.name if user is not None else ""
    return {"me": staff.get(name) or Staff(name), "waiting": waiting, "unread": unread}


def _index(
    request: Request,
    services: Services,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("start_problem", None)
    context.setdefault("code_problem", None)
    context.setdefault("form", {})
    context.setdefault("presence_problem", None)
    for key, value in _live_context(request, services).items():
        context.setdefault(key, value)
    try:
        recent = services.sessions.recent(limit=20)
    except SQLAlchemyError:
        log.exception("cannot list recent assisted sessions")
        recent, context["recent_unavailable"] = [], True
    page_language = staff_language(request)  # the product names as the page speaks
    rulesets = [s.ruleset for s in services.advisor.registry.all(language=page_language)]
    return staff_page(
        request,
        "console/index.html",
        {
            "rulesets": rulesets,
            "titles": {r.id: r.title for r in rulesets},
            "recent": recent,
            **context,
        },
        status_code=status_code,
    )


@router.get("", response_class=HTMLResponse)
def console_home(request: Request, services: ServicesDep, user: CurrentUser) -> HTMLResponse:
    """The start page: a new session, the recent ones, a hand-over code."""
    return _index(request, services)


@router.post("/sessions")
def start_session(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    ruleset: FormText,
    customer_name: Annotated[str, Form(max_length=120)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Start an assisted session for one rule set in the customer's language; go to its page.

    ``language`` (``de`` or ``en``) is the customer's; without it, the page's.
    """
    customer_language = normalize(language) or staff_language(request)
    form = {
        "ruleset": ruleset,
        "customer_name": customer_name,
        "note": note,
        "language": customer_language,
    }
    try:
        with speaking(customer_language):
            state = services.assisted.start(ruleset, language=customer_language)
        record = services.sessions.create(
            staff=user.name, state=state, customer_name=customer_name, note=note
        )
    except AssistError as exc:
        return _index(request, services, start_problem=str(exc), form=form, status_code=422)
    except SQLAlchemyError:
        log.exception("cannot start an assisted session")
        return _unavailable(request)
    with speaking(state.language):
        _record_events(services, record.id, ConversationState(), state)
    return RedirectResponse(f"/console/sessions/{record.id}", status_code=303)


@router.post("/presence")
def set_presence(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    status: Annotated[str, Form(max_length=16)],
    capacity: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Set the staff member's status and capacity (422 with the problem when refused)."""
    try:
        chats = int(capacity) if capacity.strip() else None
    except ValueError:
        chats = 0  # refused below with the allowed range
    try:
        handover_store(request, services).set_presence(user.name, status=status, capacity=chats)
    except InvalidPresenceError as exc:
        return _index(request, services, presence_problem=str(exc), status_code=422)
    except SQLAlchemyError:
        log.exception("cannot store the presence of %s", user.name)
        return _unavailable(request)
    return RedirectResponse("/console#live", status_code=303)


@router.post("/pickup")
def pick_up(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    code: Annotated[str, Form(max_length=40)],
    customer_name: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    """Open a session from a shopper's hand-over code, which opens once.

    Answers the start page with the problem: 404 unknown, 410 expired, 409 used already,
    429 (with ``Retry-After``) after too many wrong codes of this staff member or overall.
    """
    wanted = normalise_code(code)
    form = {"code": wanted, "pickup_name": customer_name}
    try:
        shared = services.codes.claim(wanted, client=f"staff:{user.name}", claimed_by=user.name)
    except ExpiredCodeError as exc:
        return _index(
            request,
            services,
            code_problem="expired",
            code=wanted,
            expired_at=exc.expired_at,
            form=form,
            status_code=410,
        )
    except UsedCodeError as exc:
        return _index(
            request,
            services,
            code_problem="used",
            code=wanted,
            used_at=exc.used_at,
            used_by=exc.used_by,
            form=form,
            status_code=409,
        )
    except ClaimThrottledError as exc:
        response = _index(
            request,
            services,
            code_problem="throttled",
            code=wanted,
            retry_at=exc.retry_at,
            form=form,
            status_code=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after_seconds())
        return response
    except CodeError:
        return _index(
            request, services, code_problem="unknown", code=wanted, form=form, status_code=404
        )
    except SQLAlchemyError:
        log.exception("cannot claim hand-over code %s", wanted)
        return _unavailable(request)
    state = services.assisted.take_over(shared.conversation_state())
    with speaking(state.language):
        served = services.advisor.served(state.ruleset)
    if served is None:
        # The shopper asked for a person before naming a product: nothing to carry over.
        return _index(
            request, services, code_problem="no_product", code=wanted, form=form, status_code=422
        )
    try:
        record = services.sessions.create(
            staff=user.name, state=state, customer_name=customer_name, origin_code=wanted
        )
    except SQLAlchemyError:
        log.exception("cannot open a session from hand-over code %s", wanted)
        return _unavailable(request)
    with speaking(state.language):
        _record_events(services, record.id, ConversationState(), state)
    return RedirectResponse(f"/console/sessions/{record.id}", status_code=303)


# -- the session page ------------------------------------------------------------------


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def sessionstaff_page(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    session_id: str,
    main: Annotated[str | None, Query(max_length=80)] = None,
    requirement: Annotated[str | None, Query(max_length=80)] = None,
    current: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    """Everything of one session; ``main`` and ``requirement`` open a component list."""
    try:
        record = _record(services, session_id)
        components = (
            _components(services, record, main, requirement, current)
            if main and requirement
            else None
        )
        return _sessionstaff_page(request, services, record, components=components)
    except UnknownSessionError:
        return _missing_session(request, session_id)
    except SQLAlchemyError:
        log.exception("cannot show assisted session %s", session_id)
        return _unavailable(request)


def _components(
    services: Services,
    record: AssistedSession,
    main: str,
    requirement: str,
    current: str | None = None,
) -> dict[str, Any]:
    state = record.conversation_state()
    problem: str | None = None
    options: list[dict[str, Any]] = []
    try:
        with speaking(state.language):
            options = services.assisted.component_options(state, main, requirement)
    except (AssistError, ProductRulesError) as exc:
        problem = str(exc)
    chosen = (state.locks.get("components") or {}).get(main, {}).get(requirement)
    return {
        "main": main,
        "requirement": requirement,
        "options": options,
        "problem": problem,
        "chosen": chosen or current,
    }


@router.get("/api/sessions/{session_id}/components")
def component_options(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    session_id: str,
    main: Annotated[str, Query(max_length=80)],
    requirement: Annotated[str, Query(max_length=80)],
    current: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    """What may replace the item of ``requirement`` in the offer of ``main`` (now ``current``)."""
    try:
        record = _record(services, session_id)
        components = _components(services, record, main, requirement, current)
    except UnknownSessionError:
        return _missing_session(request, session_id)
    except SQLAlchemyError:
        log.exception("cannot list component options for session %s", session_id)
        return _unavailable(request)
    html = _fragment(request, "console/_components.html", c=components, sid=session_id)
    return JSONResponse(
        {
            "ok": components["problem"] is None,
            "options": components["options"],
            "panels": {"components": html},
        }
    )


# -- changes -----------------------------------------------------------------------------


@router.post("/api/sessions/{session_id}/answer")
def answer(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    session_id: str,
    question: FormText,
    value: OptionalText = None,
    text: OptionalText = None,
) -> Response:
    """Answer one question, from a button's value or in free text."""
    if not (text or "").strip() and value is None:
        value = ""  # an empty number field: refused below with the question's words
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.answer(s, question, value=value, text=text),
        anchor=f"#q-{question}",
    )


@router.post("/api/sessions/{session_id}/clear")
def clear(
    request: Request, services: ServicesDep, user: CurrentUser, session_id: str, question: FormText
) -> Response:
    """Forget one answer."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.clear(s, question),
        anchor=f"#q-{question}",
    )


Sku = Annotated[str, Form(min_length=1, max_length=80)]
RequirementId = Annotated[str, Form(min_length=1, max_length=80)]


@router.post("/api/sessions/{session_id}/pin")
def pin(
    request: Request, services: ServicesDep, user: CurrentUser, session_id: str, sku: Sku
) -> Response:
    """Offer this product first, whatever the wishes say."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.pin(s, sku),
        anchor="#expert",
    )


@router.post("/api/sessions/{session_id}/unpin")
def unpin(
    request: Request, services: ServicesDep, user: CurrentUser, session_id: str, sku: Sku
) -> Response:
    """Let the engine rank this product again (its component locks go too)."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.unpin(s, sku),
        anchor="#locks",
    )


@router.post("/api/sessions/{session_id}/exclude")
def exclude(
    request: Request, services: ServicesDep, user: CurrentUser, session_id: str, sku: Sku
) -> Response:
    """Never offer this product."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.exclude(s, sku),
        anchor="#expert",
    )


@router.post("/api/sessions/{session_id}/include")
def include(
    request: Request, services: ServicesDep, user: CurrentUser, session_id: str, sku: Sku
) -> Response:
    """Undo an exclusion."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.include(s, sku),
        anchor="#locks",
    )


@router.post("/api/sessions/{session_id}/lock")
def lock_component(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    session_id: str,
    main: Sku,
    requirement: RequirementId,
    sku: Sku,
) -> Response:
    """Keep ``main`` and use ``sku`` for its requirement ("change the pedals")."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.lock_component(s, main, requirement, sku),
        anchor="#offers",
    )


@router.post("/api/sessions/{session_id}/unlock")
def unlock_component(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    session_id: str,
    main: Sku,
    requirement: RequirementId,
) -> Response:
    """Let the engine pick the requirement's item again."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.unlock_component(s, main, requirement),
        anchor="#locks",
    )


@router.post("/api/sessions/{session_id}/confirm")
def confirm(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    session_id: str,
    key: Annotated[str, Form(min_length=1, max_length=300)],
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Accept a rule a lock breaks, with the reason given in ``note``."""
    return _change(
        request,
        services,
        user,
        session_id,
        lambda s: services.assisted.confirm(s, key, note),
        anchor="#violations",
    )


@router.post("/api/sessions/{session_id}/share")
def share(
    request: Request,
    services: ServicesDep,
    settings: SettingsDep,
    user: CurrentUser,
    session_id: str,
) -> Response:
    """Issue a share code for the configuration as it stands; answer the link and code."""
    return _share(request, services, user, session_id, days=settings.share_days)


# -- hand the configuration to the customer ------------------------------------------------


def _share(
    request: Request, services: Services, user: CurrentUser, session_id: str, *, days: int
) -> Response:
    try:
        record = _record(services, session_id)
        state = record.conversation_state()
        with speaking(state.language):
            evaluation = services.assisted.evaluate(state)
        if evaluation.recommendation is None:
            return _unavailable(request)
        shared = services.codes.issue(
            kind="share",
            state=state,
            offers=dict(evaluation.recommendation.payload()),
            created_by=user.name,
            ttl=timedelta(days=days or DEFAULT_SHARE_DAYS),
        )
        services.sessions.log(
            session_id,
            actor=user.name,
            change=Change(
                "share", {"code": shared.code, "expires_at": shared.expires_at.isoformat()}
            ),
        )
    except UnknownSessionError:
        return _missing_session(request, session_id)
    except AssistError as exc:
        return JSONResponse(status_code=409, content={"ok": False, "message": str(exc)})
    except SQLAlchemyError:
        log.exception("cannot share assisted session %s", session_id)
        return _unavailable(request)
    if not wants_json(request):
        return RedirectResponse(f"/console/sessions/{session_id}#share", status_code=303)
    with speaking(state.language):
        view = session_view(record, state, evaluation, services.sessions.audit(session_id))
    return JSONResponse(
        {
            "ok": True,
            "code": shared.code,
            "url": share_url(request, shared.code),
            "panels": _panels(request, view),
        }
    )


def share_url(request: Request, code: str) -> str:
    """The customer's link for a share code, on the host this request came to."""
    return str(request.url_for("share_page", code=code))


@router.get("/api/sessions/{session_id}/share/{code}.svg")
def share_qr(
    request: Request, services: ServicesDep, user: CurrentUser, session_id: str, code: str
) -> Response:
    """The QR code of a share link this session issued, as SVG."""
    wanted = normalise_code(code)
    try:
        audit = services.sessions.audit(session_id)
    except SQLAlchemyError:
        return _unavailable(request)
    if not any(e.action == "share" and e.detail.get("code") == wanted for e in audit):
        return Response(status_code=404)
    buffer = io.BytesIO()
    segno.make(share_url(request, wanted), error="m").save(
        buffer, kind="svg", scale=4, border=2, xmldecl=False, svgns=True
    )
    return Response(
        buffer.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=3600"},
    )
