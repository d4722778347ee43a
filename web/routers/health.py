"""Liveness checks for the web app and for Rasa behind it."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from web.deps import RasaDep, SettingsDep
from web.rasa import RasaUnavailableError

__all__ = ["router"]

logger = logging.getLogger("web")

router = APIRouter(tags=["health"])

# Health checks run often (load balancers, `make run`): fail fast rather than hang.
HEALTH_TIMEOUT_SECONDS = 5.0


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> dict[str, str]:
    """Report that the web app itself is serving."""
    return {"status": "ok"}


@router.get("/healthz/rasa")
async def healthz_rasa(rasa: RasaDep, settings: SettingsDep) -> JSONResponse:
    """Report whether Rasa answers on its root URL; 200 when it does, 503 when not."""
    try:
        banner = await rasa.version_banner(
            timeout_s=min(HEALTH_TIMEOUT_SECONDS, settings.request_timeout_s)
        )
    except RasaUnavailableError as exc:
        # The cause names internal URLs, so it goes to the log, not the response.
        logger.warning("Rasa health check failed: %s", exc.cause)
        return JSONResponse(status_code=503, content={"status": "unavailable"})
    return JSONResponse(content={"status": "ok", "rasa": banner})
