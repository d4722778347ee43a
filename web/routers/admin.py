"""The workbench for merchandisers: ``/admin/rules`` (analytics: ``web.routers.analytics``).

Protected where it is included (``web.app``: role ``merchandiser``, which admins have
too). ``/admin/rules`` lists the rule sets in service with where each comes from (the
rule files or a published version), its draft, and the rule files refused by the
checks, read from the same :class:`~product_rules.registry.RuleRegistry` the advisor
uses, so what it shows is what shoppers get. The editor of one rule set (drafts,
publishing) is :mod:`web.routers.rules_editor`, its tries :mod:`web.routers.rules_tryout`,
both included here.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from advisor.settings import Settings
from product_rules.drafts import get_draft
from product_rules.publishing import active_versions
from product_rules.registry import RuleRegistry
from product_rules.schema import RuleSet
from web.deps import CurrentUser, SettingsDep, staff_page
from web.i18n import staff_language
from web.routers import rules_editor, rules_tryout

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"])

_registry_lock = threading.Lock()


def _no_parser(ruleset: RuleSet) -> None:
    """Listing rule sets needs no answer parser (spaCy takes seconds to load)."""
    return None


def served_registry(request: Request, settings: Settings) -> RuleRegistry:
    """The rule sets in service as the workbench sees them (no answer parser)."""
    state = request.app.state
    with _registry_lock:
        if getattr(state, "admin_rule_registry", None) is None:
            state.admin_rule_registry = RuleRegistry(
                settings.rules_dir, state.db.engine, parser_factory=_no_parser
            )
    registry: RuleRegistry = state.admin_rule_registry
    return registry


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, user: CurrentUser, settings: SettingsDep) -> Response:
    """The rule sets in service, their source and draft, and the rule files refused."""
    registry = served_registry(request, settings)
    served = registry.all(language=staff_language(request))
    db = request.app.state.db.engine
    versions = active_versions(db)
    return staff_page(
        request,
        "admin/rules.html",
        {
            "served": served,
            "published": {k: v.version for k, v in versions.items()},
            "drafts": {s.ruleset.id: get_draft(db, s.ruleset.id) for s in served},
            "problems": registry.problems,
            "rules_dir": settings.rules_dir,
        },
    )


router.include_router(rules_editor.router)
router.include_router(rules_tryout.router)
