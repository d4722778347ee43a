"""The workbench's analytics: ``/admin/analytics`` and a CSV of each of its tables.

Protected where it is included (``web.app``: role ``merchandiser``, which admins have
too). Everything is a GET with the filter in the query string, so a view can be
bookmarked and a CSV link carries the page's filter: ``/admin/analytics/funnel.csv?…``
has the numbers of the funnel table above it. The reports read the advisor's event log
in the app's database (``app.state.db``), where the advisor writes it; the rule sets
give the questions' order and words and their catalogue category.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from product_rules.registry import RuleRegistry
from product_rules.schema import RuleSet
from product_rules.text import speaking
from web.analytics_csv import TABLES, render
from web.analytics_view import Report, build_report, read_filters
from web.deps import CurrentUser, SettingsDep, staff_page
from web.i18n import staff_language

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["analytics"])

_lock = threading.Lock()


def _no_parser(ruleset: RuleSet) -> None:
    """Reports need no answer parser (spaCy takes seconds to load)."""
    return None


def _database(request: Request, settings: SettingsDep) -> tuple[Engine, list[RuleSet]]:
    """The advisor's database and the rule sets in service."""
    state = request.app.state
    engine: Engine = state.db.engine
    with _lock:
        if getattr(state, "analytics_rule_registry", None) is None:
            state.analytics_rule_registry = RuleRegistry(
                settings.rules_dir, engine, parser_factory=_no_parser
            )
    registry: RuleRegistry = state.analytics_rule_registry
    # Titles, questions and option labels in the page's language.
    return engine, [served.ruleset for served in registry.all(language=staff_language(request))]


def _report(request: Request, settings: SettingsDep) -> Report:
    engine, served = _database(request, settings)
    today = datetime.now(UTC).date()
    filters = read_filters(request.query_params, today=today)
    with speaking(staff_language(request)):  # answers in words (prices) as the page writes them
        return build_report(engine, filters, served)


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(request: Request, user: CurrentUser, settings: SettingsDep) -> HTMLResponse:
    """Where shoppers drop out, what they answer and want, and how they rate the advice."""
    report = _report(request, settings)
    return staff_page(request, "admin/analytics.html", {"report": report, "tables": TABLES})


@router.get("/analytics/{table}.csv")
def analytics_csv(
    table: str, request: Request, user: CurrentUser, settings: SettingsDep
) -> Response:
    """One table of the page as CSV, for the same filter (the query string)."""
    if table not in TABLES:  # before the reports run
        raise HTTPException(status_code=404)
    report = _report(request, settings)
    text = render(report, table)
    if text is None:
        raise HTTPException(status_code=404)
    name = f"analytics-{table}-{report.filters.slug()}.csv"
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
