"""Trying a draft before it is published: persona tests, the outcome diff, a preview chat.

Included into :data:`web.routers.admin.router` beside :mod:`web.routers.rules_editor`
(role ``merchandiser``, CSRF on every POST). Each runs on the files as they are in the
editor, saved or not, and answers JSON for ``rules.js``:

* ``POST /admin/rules/{id}/personas``: every persona test, pass or failure;
* ``POST …/diff``: which sample answers get other offers than with the version in
  service (added, dropped, reordered, other required items, accessories);
* ``POST …/preview``: one turn with the draft through the same advisor service as the
  shop's chat, on the channel ``preview``: no shopper sees it and nothing is logged.

A file that does not pass its checks answers ``422`` with the findings.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from sqlalchemy import Engine

from advisor.service import Advisor, Turn
from advisor.state import ConversationState
from product_rules.diff import DiffReport, diff_rulesets, sample_answers
from product_rules.drafts import load_files, write_files
from product_rules.engine import AdviceEngine
from product_rules.errors import RuleProblem, RuleSetError, UnknownRuleSetError
from product_rules.loader import LoadedRuleSet
from product_rules.personas import PersonaResult, load_personas, run_personas
from product_rules.publishing import files_fingerprint
from product_rules.registry import RuleRegistry
from web.deps import SettingsDep
from web.i18n import staff_language
from web.routers.rules_editor import FilesIn, engine_of, finding_of, render_fragment, served_of

__all__ = ["DIFF_SAMPLES", "PREVIEWS_KEPT", "router"]

router = APIRouter()

#: Answer sets the outcome diff tries (about 15 ms each on the demo catalogue).
DIFF_SAMPLES = 100
#: Rule-set previews kept warm (each holds an answer parser).
PREVIEWS_KEPT = 4

_preview_lock = threading.Lock()
Files = dict[str, str]


class PreviewIn(FilesIn):
    """One turn of the preview chat."""

    state: dict[str, Any] | None = None
    text: str = Field(default="", max_length=500)
    intent: str | None = Field(default=None, max_length=40)
    entities: dict[str, Annotated[str, Field(max_length=60)]] = Field(
        default_factory=dict, max_length=5
    )


def _tryout(files: Files, db: Engine, work: Path) -> tuple[LoadedRuleSet, AdviceEngine]:
    loaded = load_files(files, work / "draft")
    return loaded, AdviceEngine(loaded.ruleset, db)


def _problems_json(request: Request, problems: list[RuleProblem]) -> JSONResponse:
    findings = [finding_of(p, staff_language(request)) for p in problems]
    html = render_fragment(request, "admin/_rules_findings_note.html", findings=findings)
    return JSONResponse(status_code=422, content={"ok": False, "findings": findings, "html": html})


@router.post("/rules/{ruleset_id}/personas")
def personas_json(request: Request, ruleset_id: str, body: FilesIn) -> Response:
    """Run the persona tests of the files as typed; each pass or failure."""
    db = engine_of(request)
    with tempfile.TemporaryDirectory(prefix="rule-personas-") as tmp:
        try:
            loaded, engine = _tryout(body.files, db, Path(tmp))
            personas = load_personas(
                loaded.directory, root=loaded.directory, ruleset=loaded.ruleset
            )
        except RuleSetError as exc:
            return _problems_json(request, exc.problems)
        results: list[PersonaResult] = run_personas(loaded, engine, personas)
    html = render_fragment(request, "admin/_rules_personas.html", results=results)
    return JSONResponse(
        {"ok": True, "passed": sum(r.passed for r in results), "total": len(results), "html": html}
    )


@router.post("/rules/{ruleset_id}/diff")
def diff_json(request: Request, ruleset_id: str, body: FilesIn, settings: SettingsDep) -> Response:
    """Which answers get other offers with the files as typed than with the version in service."""
    db = engine_of(request)
    try:
        served = served_of(request, settings, ruleset_id)
    except UnknownRuleSetError:
        return JSONResponse(status_code=404, content={"ok": False, "error": "unknown_ruleset"})
    with tempfile.TemporaryDirectory(prefix="rule-diff-") as tmp:
        try:
            loaded, engine = _tryout(body.files, db, Path(tmp))
        except RuleSetError as exc:
            return _problems_json(request, exc.problems)
        samples = sample_answers(loaded.ruleset, limit=DIFF_SAMPLES)
        report: DiffReport = diff_rulesets(served.engine, engine, samples)
    changes = sorted(report.changes, key=lambda c: -c.size)
    html = render_fragment(
        request, "admin/_rules_diff.html", report=report, changes=changes, served=served
    )
    return JSONResponse({"ok": True, "total": report.total, "changed": len(changes), "html": html})


def _preview_advisor(request: Request, ruleset_id: str, files: Files) -> Advisor:
    """An advisor over the draft alone, kept while its files stay the same."""
    state = request.app.state
    key = f"{ruleset_id}:{files_fingerprint(files)}"
    with _preview_lock:
        previews: dict[str, tuple[Advisor, Path]] = getattr(state, "rule_previews", None) or {}
        state.rule_previews = previews
        if key in previews:
            previews[key] = previews.pop(key)  # most recently used last
            return previews[key][0]
        folder = Path(tempfile.mkdtemp(prefix="rule-preview-"))
        write_files(files, folder / "draft")
        registry = RuleRegistry(folder, engine_of(request), publications=False, check_interval=3600)
        if registry.problems or not registry.all():
            shutil.rmtree(folder, ignore_errors=True)
            raise RuleSetError(registry.problems)
        previews[key] = (Advisor(registry), folder)
        while len(previews) > PREVIEWS_KEPT:
            _, old = previews.pop(next(iter(previews)))
            shutil.rmtree(old, ignore_errors=True)
        return previews[key][0]


@router.post("/rules/{ruleset_id}/preview")
def preview_json(request: Request, ruleset_id: str, body: PreviewIn) -> Response:
    """One turn of the preview chat with the draft as typed (channel ``preview``)."""
    with tempfile.TemporaryDirectory(prefix="rule-check-") as tmp:
        try:
            load_files(body.files, Path(tmp) / "draft")
        except RuleSetError as exc:
            return _problems_json(request, exc.problems)
    try:
        advisor = _preview_advisor(request, ruleset_id, body.files)
    except RuleSetError as exc:
        return _problems_json(request, exc.problems)
    state = ConversationState.from_dict(body.state or {})
    state.channel = "preview"
    language = staff_language(request)  # the preview speaks the workbench page's language
    if body.state is None:
        first = next(s.ruleset.id for s in advisor.registry.all())
        turn = Turn("", "request_advice", {"ruleset": first}, language=language)
    else:
        turn = Turn(body.text, body.intent, dict(body.entities), language=language)
    after, reply = advisor.step(state, turn)
    offers = next((p for p in reply.payloads if p.get("type") == "offers"), None)
    html = render_fragment(request, "admin/_rules_preview.html", reply=reply, offers=offers)
    return JSONResponse({"ok": True, "state": after.to_dict(), "html": html, "text": reply.text})
