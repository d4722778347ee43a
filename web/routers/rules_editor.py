"""The rule editor of the workbench: drafts, checks and publishing of one rule set.

Included into :data:`web.routers.admin.router` (role ``merchandiser``, CSRF on every
POST). Pages and form posts (work without JavaScript):

* ``GET /admin/rules/{id}``: the editor: the everyday-edits form, the source of every
  file with line numbers and the findings at their lines, the persona tests, the
  outcome diff, the preview chat, publishing, the history and what shoppers typed that
  the advisor did not understand;
* ``POST …/publish`` (``based_on``, ``note``) and ``POST …/rollback`` (``version``,
  ``note``): admins, or merchandisers when ``RULES_MERCHANDISERS_PUBLISH`` is set;
* ``POST …/discard`` (``based_on``): throw the draft away;
* ``POST …/synonym`` (``based_on``, ``question``, ``option``, ``phrase``): add a phrase
  shoppers typed as a synonym of an option, in the draft.

JSON, called by ``rules.js`` (``X-CSRF-Token`` header): ``…/check`` (findings of the
files as typed), ``…/draft`` (save; ``409 stale`` with who changed what since),
``…/edit`` (the form's edits applied to the files). The tries (persona tests, diff,
preview chat) are :mod:`web.routers.rules_tryout`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from advisor import analytics
from advisor.accounts import Role, StaffUserPublic
from advisor.settings import Settings
from product_rules.drafts import (
    Draft,
    StaleDraftError,
    UnknownDraftError,
    check_files,
    discard_draft,
    get_draft,
    publish_draft,
    save_draft,
)
from product_rules.errors import RuleProblem, RuleSetError, UnknownRuleSetError
from product_rules.localize import LANGUAGES
from product_rules.publishing import (
    UnknownVersionError,
    active_versions,
    history,
    read_files,
    rollback,
)
from product_rules.registry import ServedRuleSet
from product_rules.rule_edits import PREFER, Edit, EditError, apply_edits, outline
from product_rules.vocabulary import export as vocabulary_export
from web.auth import RoleForbiddenError, staff_session
from web.deps import CurrentUser, SettingsDep, staff_page, templates
from web.i18n import staff_language

__all__ = [
    "FilesIn",
    "can_publish",
    "engine_of",
    "finding_of",
    "render_fragment",
    "router",
    "served_of",
]

log = logging.getLogger("web")

router = APIRouter()

Files = dict[str, str]
FormText = Annotated[str, Form(max_length=500)]


# -- who may publish ---------------------------------------------------------------------


def can_publish(user: StaffUserPublic, settings: Settings) -> bool:
    """Admins publish; merchandisers too when the settings let them."""
    return user.has_role(Role.ADMIN) or (
        settings.merchandisers_publish and user.has_role(Role.MERCHANDISER)
    )


def publisher(user: CurrentUser, settings: SettingsDep) -> StaffUserPublic:
    """The signed-in user, if they may publish.

    Raises:
        RoleForbiddenError: a merchandiser while only admins publish (403).
    """
    if not can_publish(user, settings):
        raise RoleForbiddenError(user, Role.ADMIN.value)
    return user


Publisher = Annotated[StaffUserPublic, Depends(publisher)]


# -- what a page is built from -----------------------------------------------------------


def engine_of(request: Request) -> Engine:
    """The app's database: catalogue, drafts and publications."""
    engine: Engine = request.app.state.db.engine
    return engine


def served_of(request: Request, settings: Settings, ruleset_id: str) -> ServedRuleSet:
    """The rule set in service now (a publish a moment ago included).

    Raises:
        UnknownRuleSetError: no such rule set is in service.
    """
    from web.routers.admin import served_registry

    registry = served_registry(request, settings)
    registry.refresh(force=True)  # cheap when nothing changed; never a page behind a publish
    return registry.get(ruleset_id)


def _published_version(db: Engine, ruleset_id: str) -> int | None:
    version = active_versions(db).get(ruleset_id)
    return version.version if version is not None else None


def _working(db: Engine, served: ServedRuleSet) -> tuple[Files, int, Draft | None]:
    """The files the editor opens, the revision a save is based on, and the draft."""
    draft = get_draft(db, served.ruleset.id)
    if draft is not None and draft.open:
        return draft.files, draft.revision, draft
    # The version in service as stored, not as the registry last loaded it.
    version = active_versions(db).get(served.ruleset.id)
    files = dict(version.files) if version is not None else read_files(served.loaded.directory)
    return files, draft.revision if draft else 0, draft


def finding_of(problem: RuleProblem, language: str | None = None) -> dict[str, Any]:
    """A rule problem as JSON for the page, its message in ``language``.

    The staff member's language (:func:`~web.i18n.staff_language`). None keeps the
    message as made: English in JSON, while ``admin/_rules_finding.html`` still shows a
    lazy message in the page's language. File, line, column, the suggestion and the names
    quoted in the message stay as written.
    """
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "message": problem.message if language is None else problem.message_in(language),
        "suggestion": problem.suggestion,
    }


def render_fragment(request: Request, name: str, **context: Any) -> str:
    """A template rendered outside a page response, with what the page context gives."""
    context.setdefault("csrf_token", lambda: staff_session(request).csrf_token())
    context.setdefault("request", request)
    context.setdefault("lang", staff_language(request))
    return templates.get_template(name).render(context)


def _form_html(request: Request, files: Files, language: str = "en") -> str:
    vocabulary = vocabulary_export()
    return render_fragment(
        request,
        "admin/_rules_form.html",
        outline=outline(files, language),
        answer_types={t["name"]: t for t in vocabulary["answer_types"]},
        operators={o["name"]: o for o in vocabulary["operators"]},
        attributes={a["name"]: a for a in vocabulary["attributes"]},
        prefer=PREFER,
    )


def _not_understood(db: Engine, ruleset_id: str) -> list[analytics.NotUnderstood]:
    try:
        return analytics.not_understood(db, analytics.Period(ruleset=ruleset_id))
    except SQLAlchemyError:
        return []  # no event log yet: nothing was typed


def _page(
    request: Request,
    user: StaffUserPublic,
    settings: Settings,
    ruleset_id: str,
    *,
    done: str | None = None,
    problems: list[RuleProblem] | None = None,
    stale: StaleDraftError | None = None,
    status_code: int = 200,
) -> Response:
    db = engine_of(request)
    try:
        served = served_of(request, settings, ruleset_id)
    except UnknownRuleSetError as exc:
        return staff_page(
            request,
            "admin/rules_missing.html",
            {"ruleset_id": ruleset_id, "known": exc.known},
            status_code=404,
        )
    files, based_on, draft = _working(db, served)
    from web.routers.admin import served_registry

    # The title as the page speaks; the files and the form stay the rule set's own.
    title = served_registry(request, settings).get(ruleset_id, language=staff_language(request))
    return staff_page(
        request,
        "admin/rules_set.html",
        {
            "served": served,
            "title": title.ruleset.title,
            "files": files,
            "based_on": based_on,
            "draft": draft,
            "published": _published_version(db, ruleset_id),
            "findings": [finding_of(p, staff_language(request)) for p in check_files(files)],
            # The form starts in the page's language (its switch shows the other one).
            "form_html": _form_html(request, files, staff_language(request)),
            "history": history(db, ruleset_id),
            "not_understood": _not_understood(db, ruleset_id),
            "questions": outline(files)["questions"],
            "can_publish": can_publish(user, settings),
            "done": done,
            "problems": problems or [],
            "stale": stale,
        },
        status_code=status_code,
    )


# -- pages and form posts ------------------------------------------------------------------


@router.get("/rules/{ruleset_id}", response_class=HTMLResponse)
def editor_page(
    request: Request, ruleset_id: str, user: CurrentUser, settings: SettingsDep, done: str = ""
) -> Response:
    """The editor of one rule set."""
    return _page(request, user, settings, ruleset_id, done=done[:40] or None)


def _back(ruleset_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/rules/{ruleset_id}?done={done}", status_code=303)


@router.post("/rules/{ruleset_id}/publish")
def publish_page(
    request: Request,
    ruleset_id: str,
    user: Publisher,
    settings: SettingsDep,
    based_on: Annotated[int, Form()],
    note: FormText = "",
) -> Response:
    """Publish the draft at revision ``based_on`` with a note; in service within a second."""
    try:
        result = publish_draft(
            engine_of(request), ruleset_id, based_on=based_on, author=user.name, note=note.strip()
        )
    except StaleDraftError as exc:
        return _page(request, user, settings, ruleset_id, stale=exc, status_code=409)
    except UnknownDraftError:
        return _page(request, user, settings, ruleset_id, done="nothing", status_code=409)
    except RuleSetError as exc:
        return _page(request, user, settings, ruleset_id, problems=exc.problems, status_code=422)
    log.info("%s published %s v%s", user.name, ruleset_id, result.version)
    return _back(ruleset_id, f"published-{result.version}")


@router.post("/rules/{ruleset_id}/rollback")
def rollback_page(
    request: Request,
    ruleset_id: str,
    user: Publisher,
    version: Annotated[int, Form()],
    note: FormText = "",
) -> Response:
    """Put an earlier version back in service."""
    try:
        rollback(engine_of(request), ruleset_id, version, author=user.name, note=note.strip())
    except UnknownVersionError:
        return _back(ruleset_id, "unknown-version")
    log.info("%s rolled %s back to v%s", user.name, ruleset_id, version)
    return _back(ruleset_id, f"rolledback-{version}")


@router.post("/rules/{ruleset_id}/discard")
def discard_page(
    request: Request,
    ruleset_id: str,
    user: CurrentUser,
    settings: SettingsDep,
    based_on: Annotated[int, Form()],
) -> Response:
    """Throw the draft away."""
    try:
        discard_draft(engine_of(request), ruleset_id, based_on=based_on, author=user.name)
    except StaleDraftError as exc:
        return _page(request, user, settings, ruleset_id, stale=exc, status_code=409)
    except UnknownDraftError:
        return _back(ruleset_id, "nothing")
    return _back(ruleset_id, "discarded")


@router.post("/rules/{ruleset_id}/synonym")
def synonym_page(
    request: Request,
    ruleset_id: str,
    user: CurrentUser,
    settings: SettingsDep,
    based_on: Annotated[int, Form()],
    option: FormText,
    phrase: FormText,
    question: FormText = "",
) -> Response:
    """Add what shoppers typed as a synonym of an option, in the draft.

    ``option`` is ``question:option`` when ``question`` is not given (the page's select).
    """
    db = engine_of(request)
    if not question and ":" in option:
        question, option = option.split(":", 1)
    try:
        served = served_of(request, settings, ruleset_id)
    except UnknownRuleSetError:
        return _page(request, user, settings, ruleset_id)
    files, _, _ = _working(db, served)
    try:
        edited = apply_edits(files, [Edit("add_synonym", phrase, question=question, option=option)])
        save_draft(
            db,
            ruleset_id,
            edited,
            based_on=based_on,
            author=user.name,
            base_version=_published_version(db, ruleset_id),
        )
    except StaleDraftError as exc:
        return _page(request, user, settings, ruleset_id, stale=exc, status_code=409)
    except EditError as exc:
        problem = RuleProblem("questions", 1, 1, exc.message)  # shown in the page's language
        return _page(request, user, settings, ruleset_id, problems=[problem], status_code=422)
    return _back(ruleset_id, "synonym")


# -- JSON for rules.js ---------------------------------------------------------------------


class FilesIn(BaseModel):
    """The editor's files as typed."""

    files: dict[str, Annotated[str, Field(max_length=200_000)]] = Field(max_length=40)


class SaveIn(FilesIn):
    """A save: the files, the revision the editor opened and the form's language."""

    based_on: int = Field(ge=0)
    language: Literal["en", "de"] = "en"


class EditIn(FilesIn):
    """The form's edits, applied to the files as typed."""

    edits: list[dict[str, Any]] = Field(max_length=500)
    language: Literal["en", "de"] = "en"


def _stale_json(request: Request, exc: StaleDraftError) -> JSONResponse:
    return JSONResponse(
        status_code=409,
        content={
            "ok": False,
            "error": "stale",
            "revision": exc.current.revision,
            "authors": exc.authors,
            "html": render_fragment(request, "admin/_rules_stale.html", stale=exc),
        },
    )


@router.post("/rules/{ruleset_id}/check")
def check_json(request: Request, ruleset_id: str, body: FilesIn) -> dict[str, Any]:
    """The findings of the files as typed, each at its file, line and column.

    Also the draft's revision now, so the page tells at once that someone else saved.
    """
    draft = get_draft(engine_of(request), ruleset_id)
    language = staff_language(request)
    return {
        "findings": [finding_of(p, language) for p in check_files(body.files)],
        "revision": draft.revision if draft is not None else 0,
    }


@router.post("/rules/{ruleset_id}/draft")
def save_json(
    request: Request, ruleset_id: str, body: SaveIn, user: CurrentUser, settings: SettingsDep
) -> Response:
    """Save the files as the next revision of the draft (never live)."""
    db = engine_of(request)
    try:
        served_of(request, settings, ruleset_id)
        draft = save_draft(
            db,
            ruleset_id,
            body.files,
            based_on=body.based_on,
            author=user.name,
            base_version=_published_version(db, ruleset_id),
        )
    except UnknownRuleSetError:
        return JSONResponse(status_code=404, content={"ok": False, "error": "unknown_ruleset"})
    except StaleDraftError as exc:
        return _stale_json(request, exc)
    except (UnknownDraftError, ValueError):
        return JSONResponse(status_code=422, content={"ok": False, "error": "invalid_draft"})
    return JSONResponse(
        {
            "ok": True,
            "revision": draft.revision,
            "author": draft.author,
            "findings": [finding_of(p, staff_language(request)) for p in check_files(draft.files)],
            "status_html": render_fragment(
                request,
                "admin/_rules_status.html",
                draft=draft,
                published=_published_version(db, ruleset_id),
            ),
            "form_html": _form_html(request, draft.files, body.language),
            "publish_html": render_fragment(
                request,
                "admin/_rules_publish.html",
                draft=draft,
                can_publish=can_publish(user, settings),
            ),
        }
    )


@router.post("/rules/{ruleset_id}/edit")
def edit_json(request: Request, ruleset_id: str, body: EditIn) -> Response:
    """The files with the form's edits made (not saved: the page saves them next)."""
    try:
        edits = [
            Edit(
                kind=str(e.get("kind", "")),
                value=str(e.get("value", "")),
                question=str(e.get("question", "")),
                option=str(e.get("option", "")),
                key=str(e.get("key", "")),
                index=int(e.get("index", -1)),
                language=body.language if e.get("language") not in LANGUAGES else e["language"],
            )
            for e in body.edits
        ]
        files = apply_edits(body.files, edits)
    except EditError as exc:
        message = exc.message_in(staff_language(request))
        return JSONResponse(
            status_code=422, content={"ok": False, "error": "edit", "message": message}
        )
    except (ValueError, TypeError) as exc:  # a malformed edit from a script, not the form
        return JSONResponse(
            status_code=422, content={"ok": False, "error": "edit", "message": str(exc)}
        )
    return JSONResponse(
        {"ok": True, "files": files, "form_html": _form_html(request, files, body.language)}
    )
