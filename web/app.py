"""The web app factory: ``uvicorn web.app:create_app --factory``.

All failures that reach a browser are turned into JSON here, in one place:

* ``RasaUnavailableError`` → 503 ``assistant_unavailable`` plus an operator log line;
* ``RequestValidationError`` → 422 ``invalid_request`` with a readable message.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from web.deps import WEB_DIR
from web.rasa import RasaClient, RasaUnavailableError
from web.routers import auth, console, health, share, shop
from web.settings import WebSettings, get_settings

__all__ = ["create_app"]

logger = logging.getLogger("web")

UNAVAILABLE_MESSAGE = "Our advisor is not reachable right now. Please try again in a moment."
INVALID_REQUEST_MESSAGE = "We could not read that message. Please reload the page and try again."


def create_app(
    settings: WebSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
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
            app.state.rasa = RasaClient(http)
            yield

    app = FastAPI(title="Guided-selling web app", lifespan=lifespan)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(shop.router)
    app.include_router(auth.router)
    app.include_router(console.router)
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


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RasaUnavailableError)
    async def rasa_unavailable(request: Request, exc: RasaUnavailableError) -> JSONResponse:
        # The sender id is validated against [A-Za-z0-9_-], so it is safe in a log line.
        logger.error("Rasa unavailable for sender %s: %s", exc.sender, exc.cause)
        return JSONResponse(
            status_code=503,
            content={"error": "assistant_unavailable", "message": UNAVAILABLE_MESSAGE},
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
                "message": INVALID_REQUEST_MESSAGE,
                "details": details,
            },
        )
