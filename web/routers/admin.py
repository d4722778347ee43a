"""The workbench for merchandisers: ``/admin/rules`` (analytics: ``web.routers.analytics``).

Protected where it is included (``web.app``: role ``merchandiser``, which admins have
too). The rules page is read-only for now: the rule sets in service with where each
comes from (the rule files or a published version) and the rule files refused by the
checks, read from the same :class:`~product_rules.registry.RuleRegistry` the advisor
uses, so what it shows is what shoppers get.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from product_rules.registry import RuleRegistry
from product_rules.schema import RuleSet
from web.deps import CurrentUser, SettingsDep, templates

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"])

_registry_lock = threading.Lock()


def _no_parser(ruleset: RuleSet) -> None:
    """Listing rule sets needs no answer parser (spaCy takes seconds to load)."""
    return None


def _registry(request: Request, settings: SettingsDep) -> RuleRegistry:
    state = request.app.state
    with _registry_lock:
        if getattr(state, "admin_rule_registry", None) is None:
            state.admin_rule_registry = RuleRegistry(
                settings.rules_dir, state.db.engine, parser_factory=_no_parser
            )
    registry: RuleRegistry = state.admin_rule_registry
    return registry


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, user: CurrentUser, settings: SettingsDep) -> HTMLResponse:
    """The rule sets in service, their source, and the rule files that were refused."""
    registry = _registry(request, settings)
    served = registry.all()
    return templates.TemplateResponse(
        request,
        "admin/rules.html",
        {"served": served, "problems": registry.problems, "rules_dir": settings.rules_dir},
    )
