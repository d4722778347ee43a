"""The web app factory: ``uvicorn web.app:create_app --factory``.

All failures that reach a browser are turned into JSON here, in one place:

* ``RasaUnavailableError`` → 503 ``assistant_unavailable`` plus an operator log line;
* ``RequestValidationError`` → 422 ``invalid_request`` with a readable message;
* ``LoginRequiredError`` → a browser is sent to ``/login?next=…`` (303), an API call
  gets 401 ``login_required``;
* ``RoleForbiddenError`` → 403 ``forbidden``, ``CsrfError`` → 403 ``csrf_failed``: a page
  for a browser, JSON for an API call.

Staff areas are protected where they are included (:data:`PROTECTED_AREAS`), so a route
added to one of their routers cannot be left open; ``tests/web/test_routes_protected.py``
walks every route to prove it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from advisor.accounts import Role
from advisor.db import AdvisorDatabase, make_engine
from advisor.settings import Settings, get_settings
from web import privacy_view
from web.auth import (
    CsrfError,
    LoginRequiredError,
    RoleForbiddenError,
    SessionCookieMiddleware,
    login_url,
    wants_html,
)
from web.deps import WEB_DIR, require_role, templates
from web.i18n import N_, LanguageCookieMiddleware, staff_language, translations
from web.rasa import RasaClient, RasaUnavailableError
from web.routers import admin, analytics, auth, console, feedback, health, live, share, shop
from web.security import SecurityHeadersMiddleware

__all__ = ["create_app"]

logger = logging.getLogger("web")

UNAVAILABLE_MESSAGE = N_("Our advisor is not reachable right now. Please try again in a moment.")
INVALID_REQUEST_MESSAGE = N_(
    "We could not read that message. Please reload the page and try again."
)
LOGIN_REQUIRED_MESSAGE = N_("Please sign in first.")
FORBIDDEN_MESSAGE = N_("Your account's role does not include this page.")
CSRF_MESSAGE = N_("This request lacks a valid CSRF token. Reload the page and try again.")

#: Every staff area and the lowest role that may open it; protected at inclusion.
PROTECTED_AREAS: tuple[tuple[APIRouter, Role], ...] = (
    (console.router, Role.STAFF),
    (live.router, Role.STAFF),
    (admin.router, Role.MERCHANDISER),
    (analytics.router, Role.MERCHANDISER),
    (privacy_view.router, Role.ADMIN),
)


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the web app.

    Args:
        settings: Settings to use; read from the environment when omitted.
        transport: HTTP transport for calls to Rasa; tests pass ``httpx.MockTransport``.

    Returns:
        The configured FastAPI application.
    """
    settings = settings or get_settings()
    _ensure_log_handler()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One pooled client for the app's lifetime: connection reuse to Rasa matters
        # more than anything else on the chat path. trust_env=False keeps a shell's
        # HTTP(S)_PROXY from routing this internal call through a proxy.
        async with httpx.AsyncClient(
            base_url=settings.rasa_url,
            timeout=settings.request_timeout_s,
            transport=transport,
            trust_env=False,
        ) as http:
            app.state.rasa = RasaClient(http, token=settings.rasa_token)
            # Accept timeouts and closing time: the queue is routed every few seconds.
            routing = asyncio.create_task(live.route_periodically(app), name="handover-routing")
            try:
                yield
            finally:
                routing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await routing
                await live.close(app)
                events = getattr(app.state, "events", None)
                if events is not None:
                    await asyncio.to_thread(events.close)  # queued events are written out
                app.state.db.dispose()

    # The API description is a map of every route: handy in development, not in public.
    docs = not settings.production
    app = FastAPI(
        title="Guided-selling web app",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    # No connection is made here; the advisor tables are created on the first session.
    app.state.db = AdvisorDatabase(make_engine(settings.database_url))
    app.add_middleware(
        SessionCookieMiddleware,
        secret_key=settings.secret_key,
        always_secure=settings.cookie_secure,
    )
    app.add_middleware(LanguageCookieMiddleware, always_secure=settings.cookie_secure)
    app.add_middleware(SecurityHeadersMiddleware, https=settings.cookie_secure)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(shop.router)
    app.include_router(feedback.router)
    app.include_router(live.shopper_router)
    app.include_router(privacy_view.shopper_router)
    app.include_router(auth.router)
    for router, role in PROTECTED_AREAS:
        app.include_router(router, dependencies=[Depends(require_role(role))])
    app.include_router(share.router)
    app.include_router(health.router)
    _install_error_handlers(app)
    return app


def _ensure_log_handler() -> None:
    # uvicorn configures only its own loggers; without a handler, operator lines would
    # reach stderr through Python's last-resort handler, bare, without time or level.
    # Skipped when logging is already set up (root handlers, pytest, --log-config).
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _said(request: Request, message: str) -> str:
    """An API message in the caller's language (``?lang=``, cookie, Accept-Language)."""
    return translations(staff_language(request)).gettext(message)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RasaUnavailableError)
    async def rasa_unavailable(request: Request, exc: RasaUnavailableError) -> JSONResponse:
        # The sender id is one the web app issued ([A-Za-z0-9_-]), so it is safe in a log line.
        logger.error("Rasa unavailable for sender %s: %s", exc.sender, exc.cause)
        return JSONResponse(
            status_code=503,
            content={
                "error": "assistant_unavailable",
                "message": _said(request, UNAVAILABLE_MESSAGE),
            },
        )

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        target = login_url(exc.next_path)
        if wants_html(request):
            return RedirectResponse(target, status_code=303)
        return JSONResponse(
            status_code=401,
            content={
                "error": "login_required",
                "message": _said(request, LOGIN_REQUIRED_MESSAGE),
                "login": target,
            },
        )

    @app.exception_handler(RoleForbiddenError)
    async def forbidden(request: Request, exc: RoleForbiddenError) -> Response:
        if wants_html(request):
            return templates.TemplateResponse(
                request,
                "auth/forbidden.html",
                {"required_role": exc.required},
                status_code=403,
            )
        return JSONResponse(
            status_code=403,
            content={
                "error": "forbidden",
                "message": _said(request, FORBIDDEN_MESSAGE),
                "required": exc.required,
            },
        )

    @app.exception_handler(CsrfError)
    async def csrf_failed(request: Request, exc: CsrfError) -> Response:
        if wants_html(request):
            return templates.TemplateResponse(request, "auth/csrf_failed.html", status_code=403)
        return JSONResponse(
            status_code=403,
            content={"error": "csrf_failed", "message": _said(request, CSRF_MESSAGE)},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo where and what, never the input itself: it may be large or hostile.
        details = [
            {"field": ".".join(str(part) for part in err["loc"][1:]), "problem": err["msg"]}
            for err in exc.errors()
        ]
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid_request",
                "message": _said(request, INVALID_REQUEST_MESSAGE),
                "details": details,
            },
        )
