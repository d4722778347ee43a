"""FastAPI dependencies and the shared template environment.

Role protection, for a new staff area::

    router = APIRouter(prefix="/console")            # in web/routers/console.py
    app.include_router(router, dependencies=[Depends(require_role(Role.STAFF))])

``web.app`` includes the console and admin routers that way, so no route of theirs can
be left open; a route that needs more than its area adds ``Depends(require_role(…))``.
``require_role`` also checks the CSRF token of every POST, PUT, PATCH and DELETE. An
endpoint that wants the user declares ``user: CurrentUser`` (resolved once per request).

Every template gets ``staff_user`` (the signed-in user or ``None``, once a dependency
has resolved it) and ``csrf_token()`` (this browser's CSRF token) from the context
processor below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request, WebSocketException, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.requests import HTTPConnection

from advisor.accounts import (
    Role,
    StaffUserPublic,
    parse_role,
    resolve_login_session,
)
from advisor.db import AdvisorDatabase
from advisor.settings import Settings
from web.auth import (
    LoginRequiredError,
    RoleForbiddenError,
    StaffSession,
    check_csrf,
    same_origin,
    staff_session,
)
from web.i18n import install as install_i18n
from web.i18n import staff_language
from web.rasa import RasaClient

__all__ = [
    "WEB_DIR",
    "CurrentUser",
    "DbSession",
    "OptionalUser",
    "RasaDep",
    "SettingsDep",
    "StaffSessionDep",
    "current_user",
    "get_db",
    "get_rasa",
    "get_web_settings",
    "optional_user",
    "require_role",
    "templates",
    "staff_page",
    "verify_csrf",
    "wants_json",
]

WEB_DIR = Path(__file__).resolve().parent


def _staff_context(request: Request) -> dict[str, Any]:
    # A shop page sets its language (its path says it); any other page follows the
    # staff member's choice (?lang=, the lang cookie, Accept-Language).
    lang = getattr(request.state, "lang", None) or staff_language(request)
    return {
        "staff_user": getattr(request.state, "staff_user", None),
        "csrf_token": lambda: staff_session(request).csrf_token(),
        "lang": lang,
    }


# One environment for every area (shop, console, rules) so they share base.html.
templates = Jinja2Templates(directory=WEB_DIR / "templates", context_processors=[_staff_context])
install_i18n(templates.env)


def get_web_settings(connection: HTTPConnection) -> Settings:
    """Return the settings the running app was created with."""
    settings: Settings = connection.app.state.settings
    return settings


def get_rasa(request: Request) -> RasaClient:
    """Return the Rasa client opened in the app's lifespan."""
    rasa: RasaClient = request.app.state.rasa
    return rasa


def get_db(connection: HTTPConnection) -> Iterator[Session]:
    """A database session for this request (advisor tables created on first use)."""
    database: AdvisorDatabase = connection.app.state.db
    with database.session() as session:
        yield session


def get_staff_session(connection: HTTPConnection) -> StaffSession:
    """This browser's staff session cookie."""
    return staff_session(connection)


SettingsDep = Annotated[Settings, Depends(get_web_settings)]
RasaDep = Annotated[RasaClient, Depends(get_rasa)]
DbSession = Annotated[Session, Depends(get_db)]
StaffSessionDep = Annotated[StaffSession, Depends(get_staff_session)]


def optional_user(connection: HTTPConnection, session: StaffSessionDep) -> StaffUserPublic | None:
    """The signed-in, enabled user, or ``None``; also handed to the templates.

    The user is read in a session of its own, closed at once: a request-long session
    would hold a pooled connection through a live chat's whole request, and 15 staff
    messages at a time then emptied the pool (bench/live.py).
    """
    user: StaffUserPublic | None = None
    token = session.login_token
    if token is not None:
        database: AdvisorDatabase = connection.app.state.db
        with database.session() as db:
            found = resolve_login_session(db, token=token)
            if found is not None:
                user = StaffUserPublic.model_validate(found, from_attributes=True)
        if user is None:
            session.forget_login()
    connection.state.staff_user = user
    return user


OptionalUser = Annotated[StaffUserPublic | None, Depends(optional_user)]


def current_user(connection: HTTPConnection, user: OptionalUser) -> StaffUserPublic:
    """The signed-in user.

    Raises:
        LoginRequiredError: Nobody is signed in (a page or a 401, see ``web.app``).
        WebSocketException: The same, for a WebSocket (closed with 1008).
    """
    if user is None:
        if connection.scope["type"] == "websocket":
            raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason="login_required")
        query = connection.url.query
        raise LoginRequiredError(connection.url.path + (f"?{query}" if query else ""))
    return user


CurrentUser = Annotated[StaffUserPublic, Depends(current_user)]


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request without this session's CSRF token (403)."""
    await check_csrf(request)


@cache
def require_role(role: str) -> Callable[..., Awaitable[StaffUserPublic]]:
    """A dependency that admits users whose role includes ``role`` and checks CSRF.

    Works for HTTP routes and WebSockets (refused with close code 1008; a WebSocket
    must come from this site's own origin instead of carrying a CSRF token).

    The same role gives the same dependency, so FastAPI runs it once per request even
    when a router and a route both declare it.

    Raises:
        InvalidRoleError: ``role`` names no role (found when the module is imported).
    """
    required: Role = parse_role(role)

    async def dependency(connection: HTTPConnection, user: CurrentUser) -> StaffUserPublic:
        websocket = connection.scope["type"] == "websocket"
        if not user.has_role(required):
            if websocket:
                raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason="forbidden")
            raise RoleForbiddenError(user, required.value)
        if websocket:
            # A browser sends the cookie with a cross-site WebSocket too: check the origin.
            if not same_origin(connection):
                raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason="origin")
        elif isinstance(connection, Request):
            await check_csrf(connection)
        return user

    dependency.__name__ = f"require_{required.value}"
    return dependency


def wants_json(request: Request) -> bool:
    """Whether the caller asked for JSON (console and live-desk scripts) rather than a page."""
    return "application/json" in request.headers.get("accept", "")


def staff_page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A staff page: no inline script may run (the CSP), and no cache may keep it."""
    from web.routers.shop import SHOP_CSP  # the shop's policy; imported late: shop uses deps

    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Content-Security-Policy"] = SHOP_CSP
    response.headers["Cache-Control"] = "no-store"
    return response
