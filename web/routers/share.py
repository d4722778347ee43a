"""The share page: ``/s/{code}``, a configuration staff handed to a customer.

Public: knowing the code is what opens it (6 random characters from an alphabet without
look-alikes, expiring; see :mod:`advisor.sharing`). The page shows exactly the offers
staff shared, from the stored offers payload, not a new recommendation: prices and
stock may move, but the customer sees what they were shown. The chat widget on the
page continues from that configuration: it sends ``/resume_shared{"code": …}`` as its
first message. Codes are read case-insensitively and with spaces or dashes
(``ab3-k7q``). An unknown code answers 404, an expired one 410, each with a page.

The page speaks the shared conversation's language (``?lang=`` overrides it); a page
without a conversation (unknown, expired) follows ``?lang=``, the ``lang`` cookie and
``Accept-Language``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError

from advisor.sharing import ExpiredCodeError, UnknownCodeError, normalise_code
from product_rules.text import speaking
from web.console_view import install_filters
from web.deps import templates
from web.i18n import normalize, staff_language
from web.routers.shop import SHOP_CSP
from web.services import ServicesDep

__all__ = ["router"]

log = logging.getLogger("web")

router = APIRouter(tags=["share"])
install_filters(templates.env)


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Content-Security-Policy"] = SHOP_CSP
    # A shared configuration is for its customer: no shared cache, no search engine.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.api_route("/s/{code}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def share_page(request: Request, services: ServicesDep, code: str) -> HTMLResponse:
    """The shared offers and the chat widget that continues from them."""
    wanted = normalise_code(code)
    try:
        record = services.codes.get(wanted, kind="share")
    except ExpiredCodeError as exc:
        return _page(
            request,
            "share/expired.html",
            {"code": wanted, "expired_at": exc.expired_at},
            status_code=410,
        )
    except UnknownCodeError:
        return _page(request, "share/unknown.html", {"code": wanted}, status_code=404)
    except SQLAlchemyError:
        log.exception("cannot read shared configuration %s", wanted)
        return _page(request, "share/unavailable.html", {}, status_code=503)
    offers = record.offers or {}
    state = record.conversation_state()
    language = normalize(request.query_params.get("lang")) or normalize(state.language)
    request.state.lang = language or staff_language(request)
    with speaking(request.state.lang):
        served = services.advisor.served(state.ruleset)
    return _page(
        request,
        "share/page.html",
        {
            "code": record.code,
            "resume_code": record.code,
            "offers": list(offers.get("offers") or []),
            "cross_sell": list(offers.get("cross_sell") or []),
            "title": served.ruleset.title if served is not None else None,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
        },
    )
