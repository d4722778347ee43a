"""The rule editor's routes: roles on every one, CSRF, drafts, stale saves, tries, publishing.

A module-wide app over a file SQLite database with the demo catalogue and one user per
role; the rule sets are a copy of the shipped ones. Every publication a test makes is
taken back (rolled back to the files' version or never made), so tests do not lean on
each other's rules.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlmodel import Session, select

from advisor import accounts
from advisor.accounts import ROLES, Role
from advisor.events import AdvisorEvent, Event, EventKind, EventLog, Scope
from advisor.settings import Settings
from catalog.demo import build_demo_catalog
from product_rules.drafts import get_draft
from product_rules.publishing import active_versions, read_files
from product_rules.rule_edits import Edit, apply_edits
from tests.conftest import RULES
from tests.tables import create_schema
from web.app import create_app

PASSWORD = "correct horse battery"
USERS = {role: f"user-{role.value}" for role in ROLES}
HTML = {"accept": "text/html,application/xhtml+xml"}
JSON = {"accept": "application/json"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
NEW_TEXT = "What kind of riding is the bike for?"

#: Every route of the editor: (method, path).
ROUTES = [
    ("GET", "/admin/rules"),
    ("GET", "/admin/rules/road_bike"),
    ("POST", "/admin/rules/road_bike/check"),
    ("POST", "/admin/rules/road_bike/draft"),
    ("POST", "/admin/rules/road_bike/edit"),
    ("POST", "/admin/rules/road_bike/personas"),
    ("POST", "/admin/rules/road_bike/diff"),
    ("POST", "/admin/rules/road_bike/preview"),
    ("POST", "/admin/rules/road_bike/publish"),
    ("POST", "/admin/rules/road_bike/rollback"),
    ("POST", "/admin/rules/road_bike/discard"),
    ("POST", "/admin/rules/road_bike/synonym"),
]
PUBLISHING = {"/admin/rules/road_bike/publish", "/admin/rules/road_bike/rollback"}


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(RULES, target)
    return target


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, rules_dir: Path) -> Settings:
    database = tmp_path_factory.mktemp("editor") / "web.db"
    return Settings(
        rasa_url="http://rasa.test:5005", database_url=f"sqlite:///{database}", rules_dir=rules_dir
    )


def _app(settings: Settings) -> FastAPI:
    return create_app(
        settings, transport=httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[FastAPI]:
    hasher = accounts.PASSWORD_HASHER
    accounts.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app = _app(settings)
    engine = app.state.db.engine
    create_schema(engine)
    with app.state.db.session() as session:
        for role, name in USERS.items():
            accounts.create_user(session, name=name, role=role, password=PASSWORD)
    with Session(engine) as session:
        build_demo_catalog(session)
        session.commit()
    try:
        yield app
    finally:
        accounts.PASSWORD_HASHER = hasher
        app.state.db.dispose()


@pytest.fixture(autouse=True)
def no_draft_left(app: FastAPI) -> Iterator[None]:
    """Each test starts from the files in service: drafts thrown away, publications undone."""
    yield
    from sqlmodel import delete

    from product_rules.drafts import DraftRevision, RuleDraft
    from product_rules.publishing import Publication, RuleVersion

    with Session(app.state.db.engine) as session:
        for table in (DraftRevision, RuleDraft, Publication, RuleVersion):
            session.exec(delete(table))  # type: ignore[call-overload]
        session.commit()
    registry = getattr(app.state, "admin_rule_registry", None)
    if registry is not None:
        registry.refresh(force=True)


@asynccontextmanager
async def client_for(app: FastAPI, role: Role | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        if role is not None:
            page = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            signed_in = await client.post(
                "/login",
                data={"name": USERS[role], "password": PASSWORD, "csrf_token": token.group(1)},
            )
            assert signed_in.status_code == 303, signed_in.text
            page = await client.get("/admin/rules", headers=HTML)
            meta = CSRF_META.search(page.text)
            assert meta, "the staff pages carry the CSRF token"
            client.headers["X-CSRF-Token"] = meta.group(1)
        yield client


def files() -> dict[str, str]:
    return read_files(RULES / "road_bike")


def broken() -> dict[str, str]:
    edited = files()
    edited["filters.yml"] = edited["filters.yml"].replace(
        "attribute: frame_size_cm", "attribute: frame_sise"
    )
    return edited


def retexted() -> dict[str, str]:
    return apply_edits(files(), [Edit("question_text", NEW_TEXT, question="usage")])


# -- roles and CSRF ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_anonymous_is_sent_to_login(app: FastAPI, method: str, path: str) -> None:
    async with client_for(app) as client:
        page = await client.request(method, path, headers=HTML)
        api = await client.request(method, path, headers=JSON)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")
    assert api.status_code == 401


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_staff_is_refused(app: FastAPI, method: str, path: str) -> None:
    async with client_for(app, Role.STAFF) as client:
        response = await client.request(method, path, headers=JSON)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in ROUTES if r[0] == "POST"],
    ids=[p for m, p in ROUTES if m == "POST"],
)
async def test_every_post_needs_the_csrf_token(app: FastAPI, method: str, path: str) -> None:
    async with client_for(app, Role.ADMIN) as client:
        del client.headers["X-CSRF-Token"]
        response = await client.request(method, path, headers=JSON, json={"files": files()})
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


async def test_merchandiser_opens_the_editor(app: FastAPI) -> None:
    async with client_for(app, Role.MERCHANDISER) as client:
        listing = await client.get("/admin/rules", headers=HTML)
        page = await client.get("/admin/rules/road_bike", headers=HTML)
        missing = await client.get("/admin/rules/road_bik", headers=HTML)
    assert 'href="/admin/rules/road_bike"' in listing.text
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'data-testid="source-questions.yml"' in page.text
    assert 'data-testid="text-usage"' in page.text, "the form lists the questions"
    assert "An admin publishes this draft" not in page.text, "no draft yet"
    assert missing.status_code == 404 and "road_bike" in missing.text


async def test_merchandiser_reads_the_workbench_in_german(app: FastAPI) -> None:
    async with client_for(app, Role.MERCHANDISER) as client:
        listing = await client.get("/admin/rules?lang=de", headers=HTML)
        page = await client.get("/admin/rules/road_bike", headers=HTML)  # the lang cookie
        missing = await client.get("/admin/rules/road_bik", headers=HTML)
        personas = await client.post("/admin/rules/road_bike/personas", json={"files": files()})
    assert '<html lang="de">' in listing.text and '<html lang="de">' in page.text
    assert "Regelwerke in Betrieb" in listing.text and "Abgelehnte Regeldateien" in listing.text
    assert "Regeldateien" in listing.text and "Regeln ändern" in listing.text
    assert 'data-testid="in-service">die Regeldateien</strong>' in page.text
    assert "Kein Entwurf: Ihr erstes Speichern legt einen an" in page.text
    for label in ("Alltägliche Änderungen", "Fragetext", "Entwurf speichern", "Veröffentlichen"):
        assert label in page.text, label
    assert 'data-testid="save">Entwurf speichern</button>' in page.text
    assert '<option value="de" selected>Deutsch</option>' in page.text, "the form in German"
    assert '<h1 id="rules-title" class="staff-card__title">Rennrad <code>' in page.text
    assert 'value="Wofür willst du das Rad hauptsächlich nutzen?"' in page.text
    assert "Nie veröffentlicht: Die Kundschaft bekommt die Regeldateien." in page.text
    assert "Kein Regelwerk „road_bik“ ist in Betrieb" in missing.text
    body = personas.json()
    assert f"{body['passed']} von {body['total']} Persona-Tests bestanden." in body["html"]
    assert ">bestanden</span>" in body["html"]


# -- checks, drafts and stale saves ----------------------------------------------------------


async def test_check_returns_findings_at_their_line(app: FastAPI) -> None:
    edited = broken()
    line = edited["filters.yml"].splitlines().index("    attribute: frame_sise") + 1
    async with client_for(app, Role.MERCHANDISER) as client:
        clean = await client.post("/admin/rules/road_bike/check", json={"files": files()})
        found = await client.post("/admin/rules/road_bike/check", json={"files": edited})
    assert clean.json() == {"findings": [], "revision": 0}
    [finding] = found.json()["findings"]
    assert finding["file"] == "filters.yml" and finding["line"] == line
    assert finding["suggestion"] == "frame_size_cm"
    assert "unknown attribute 'frame_sise'" in finding["message"]


async def test_german_staff_read_findings_edit_errors_and_labels_in_german(
    app: FastAPI,
) -> None:
    """The sentence around the names is German; file, line, ids and values stay as written."""
    edited = broken()
    line = edited["filters.yml"].splitlines().index("    attribute: frame_sise") + 1
    wrong = [{"kind": "question_text", "question": "usag", "value": "x"}]
    async with client_for(app, Role.MERCHANDISER) as client:
        await client.get("/admin/rules?lang=de", headers=HTML)  # the lang cookie from now on
        found = await client.post("/admin/rules/road_bike/check", json={"files": edited})
        refused = await client.post(
            "/admin/rules/road_bike/edit", json={"files": files(), "edits": wrong}
        )
        page = await client.get("/admin/rules/road_bike", headers=HTML)
        english = await client.post("/admin/rules/road_bike/check?lang=en", json={"files": edited})
    [finding] = found.json()["findings"]
    assert (finding["file"], finding["line"]) == ("filters.yml", line)
    assert finding["message"] == "unbekanntes Attribut 'frame_sise'"
    assert finding["suggestion"] == "frame_size_cm"
    assert refused.status_code == 422
    assert refused.json()["message"] == "unbekannte Frage 'usag', meinten Sie 'usage'?"
    assert '<span title="frame_size_cm">Rahmengröße</span>' in page.text, "attribute labels"
    [finding] = english.json()["findings"]
    assert finding["message"] == "unknown attribute 'frame_sise'"


async def test_persona_failures_and_a_draft_that_cannot_run_in_german(app: FastAPI) -> None:
    edited = files()
    edited["personas.yml"] = edited["personas.yml"].replace(
        "offers: {min: 3, max: 3}", "offers: {min: 4, max: 5}", 1
    )
    async with client_for(app, Role.MERCHANDISER) as client:
        await client.get("/admin/rules?lang=de", headers=HTML)
        personas = await client.post("/admin/rules/road_bike/personas", json={"files": edited})
        cannot = await client.post("/admin/rules/road_bike/personas", json={"files": broken()})
    assert "<li>3 Angebote erhalten, erwartet 4 bis 5</li>" in personas.json()["html"]
    assert cannot.status_code == 422
    assert "</a> unbekanntes Attribut &#39;frame_sise&#39; <span" in cannot.json()["html"]
    [finding] = cannot.json()["findings"]
    assert finding["message"] == "unbekanntes Attribut 'frame_sise'"


async def test_publish_refused_lists_the_problems_in_german(app: FastAPI) -> None:
    async with client_for(app, Role.ADMIN) as client:
        await client.get("/admin/rules?lang=de", headers=HTML)
        saved = await client.post(
            "/admin/rules/road_bike/draft", json={"files": broken(), "based_on": 0}
        )
        assert saved.status_code == 200, saved.text
        [finding] = saved.json()["findings"]
        assert finding["message"] == "unbekanntes Attribut 'frame_sise'"
        refused = await client.post(
            "/admin/rules/road_bike/publish",
            data={"based_on": str(saved.json()["revision"])},
            headers=HTML,
        )
    assert refused.status_code == 422
    assert "</code> unbekanntes Attribut &#39;frame_sise&#39; (meinten Sie" in refused.text


async def test_save_draft_and_a_stale_save_names_the_other(app: FastAPI) -> None:
    path = "/admin/rules/road_bike/draft"
    async with client_for(app, Role.MERCHANDISER) as mia, client_for(app, Role.ADMIN) as ada:
        first = await mia.post(path, json={"files": files(), "based_on": 0})
        assert first.status_code == 200, first.text
        assert first.json()["revision"] == 1
        second = await ada.post(path, json={"files": retexted(), "based_on": 1})
        assert second.json()["revision"] == 2
        stale = await mia.post(path, json={"files": broken(), "based_on": 1})
        page = await mia.get("/admin/rules/road_bike", headers=HTML)
    assert stale.status_code == 409
    body = stale.json()
    assert body["error"] == "stale" and body["authors"] == [USERS[Role.ADMIN]]
    assert f"changed by {USERS[Role.ADMIN]} since you opened it" in body["html"]
    assert f"+      en: {NEW_TEXT}" in body["html"], "the other's change is shown"
    draft = get_draft(app.state.db.engine, "road_bike")
    assert draft is not None and draft.revision == 2 and NEW_TEXT in draft.files["questions.yml"]
    assert active_versions(app.state.db.engine) == {}, "a draft is never live"
    assert 'data-based-on="2"' in page.text and NEW_TEXT in page.text


async def test_edit_in_german_keeps_the_english_and_shows_the_german_form(app: FastAPI) -> None:
    edits = [{"kind": "question_text", "question": "usage", "value": "Wofür fährst du?"}]
    async with client_for(app, Role.MERCHANDISER) as client:
        done = await client.post(
            "/admin/rules/road_bike/edit",
            json={"files": files(), "edits": edits, "language": "de"},
        )
    assert done.status_code == 200, done.text
    questions = done.json()["files"]["questions.yml"]
    assert "      de: Wofür fährst du?" in questions
    assert "      en: What will you mostly use the bike for?" in questions
    form = done.json()["form_html"]
    assert 'value="Wofür fährst du?"' in form and "Ich bin neu dabei" in form


async def test_edit_applies_the_form_to_the_files(app: FastAPI) -> None:
    edits = [
        {"kind": "question_text", "question": "usage", "value": NEW_TEXT},
        {
            "kind": "option_synonyms",
            "question": "experience",
            "option": "beginner",
            "value": "beginner, newbie, fresh on a bike",
        },
    ]
    async with client_for(app, Role.MERCHANDISER) as client:
        done = await client.post(
            "/admin/rules/road_bike/edit", json={"files": files(), "edits": edits}
        )
        wrong = await client.post(
            "/admin/rules/road_bike/edit",
            json={"files": files(), "edits": [{"kind": "question_text", "question": "usag"}]},
        )
    questions = done.json()["files"]["questions.yml"]
    assert f"      en: {NEW_TEXT}" in questions
    assert "          en: [beginner, newbie, fresh on a bike]" in questions
    assert f'value="{NEW_TEXT}"' in done.json()["form_html"]
    assert wrong.status_code == 422 and "did you mean 'usage'" in wrong.json()["message"]


# -- try before publishing ---------------------------------------------------------------------


async def test_personas_and_diff_run_on_the_files_as_typed(app: FastAPI) -> None:
    async with client_for(app, Role.MERCHANDISER) as client:
        personas = await client.post("/admin/rules/road_bike/personas", json={"files": files()})
        same = await client.post("/admin/rules/road_bike/diff", json={"files": files()})
        bad = await client.post("/admin/rules/road_bike/personas", json={"files": broken()})
    body = personas.json()
    assert body["passed"] == body["total"] > 0
    assert body["html"].count('data-passed="true"') == body["total"]
    assert same.json()["changed"] == 0 and same.json()["total"] > 0
    assert bad.status_code == 422 and bad.json()["findings"][0]["file"] == "filters.yml"


async def test_diff_shows_answers_that_get_other_offers(app: FastAPI) -> None:
    dearer = apply_edits(files(), [Edit("ranking_weight", "9", key="margin")])
    async with client_for(app, Role.MERCHANDISER) as client:
        diff = await client.post("/admin/rules/road_bike/diff", json={"files": dearer})
    body = diff.json()
    assert body["changed"] > 0
    assert 'data-testid="diff-change"' in body["html"]


async def test_preview_talks_to_the_draft(app: FastAPI) -> None:
    draft = retexted()
    async with client_for(app, Role.MERCHANDISER) as client:
        start = await client.post("/admin/rules/road_bike/preview", json={"files": draft})
        state = start.json()["state"]
        answer = await client.post(
            "/admin/rules/road_bike/preview",
            json={"files": draft, "state": state, "text": "long rides"},
        )
    assert start.status_code == 200, start.text
    assert NEW_TEXT in start.json()["text"]
    assert state["channel"] == "preview" and state["question"] == "usage"
    after = answer.json()["state"]
    assert after["answers"]["usage"] == "endurance" and after["question"] == "experience"
    with Session(app.state.db.engine) as session:
        seen = session.exec(select(AdvisorEvent).where(AdvisorEvent.channel == "preview")).all()
    assert seen == [], "the preview is invisible: nothing in the event log"


# -- publishing ---------------------------------------------------------------------------------


async def test_merchandiser_cannot_publish_an_admin_can(app: FastAPI) -> None:
    engine = app.state.db.engine
    async with client_for(app, Role.MERCHANDISER) as mia, client_for(app, Role.ADMIN) as ada:
        await mia.post("/admin/rules/road_bike/draft", json={"files": retexted(), "based_on": 0})
        refused = await mia.post(
            "/admin/rules/road_bike/publish", data={"based_on": "1", "note": "mine"}, headers=HTML
        )
        page = await mia.get("/admin/rules/road_bike", headers=HTML)
        published = await ada.post(
            "/admin/rules/road_bike/publish", data={"based_on": "1", "note": "friendlier"}
        )
        after = await ada.get(published.headers["location"], headers=HTML)
    assert refused.status_code == 403 and "needs the role" in refused.text
    assert "An admin publishes this draft" in page.text
    assert published.status_code == 303
    assert published.headers["location"] == "/admin/rules/road_bike?done=published-1"
    assert NEW_TEXT in active_versions(engine)["road_bike"].files["questions.yml"]
    assert "Published as version 1" in after.text and "friendlier" in after.text
    assert 'data-testid="in-service">published version 1' in after.text
    assert f"en: {NEW_TEXT}" in after.text, "the editor opens the version just published"


async def test_merchandiser_publishes_when_the_setting_allows(settings: Settings) -> None:
    app = _app(replace(settings, merchandisers_publish=True))
    try:
        async with client_for(app, Role.MERCHANDISER) as mia:
            await mia.post(
                "/admin/rules/road_bike/draft", json={"files": retexted(), "based_on": 0}
            )
            published = await mia.post("/admin/rules/road_bike/publish", data={"based_on": "1"})
            rolled = await mia.post("/admin/rules/road_bike/rollback", data={"version": "1"})
        assert published.status_code == 303 and rolled.status_code == 303
    finally:
        from sqlmodel import delete

        from product_rules.drafts import DraftRevision, RuleDraft
        from product_rules.publishing import Publication, RuleVersion

        with Session(app.state.db.engine) as session:
            for table in (DraftRevision, RuleDraft, Publication, RuleVersion):
                session.exec(delete(table))  # type: ignore[call-overload]
            session.commit()
        app.state.db.dispose()


async def test_publish_refuses_a_broken_draft_and_rollback_restores(app: FastAPI) -> None:
    engine = app.state.db.engine
    async with client_for(app, Role.ADMIN) as ada:
        await ada.post("/admin/rules/road_bike/draft", json={"files": files(), "based_on": 0})
        first = await ada.post("/admin/rules/road_bike/publish", data={"based_on": "1"})
        await ada.post("/admin/rules/road_bike/draft", json={"files": broken(), "based_on": 2})
        refused = await ada.post("/admin/rules/road_bike/publish", data={"based_on": "3"})
        await ada.post("/admin/rules/road_bike/draft", json={"files": retexted(), "based_on": 3})
        second = await ada.post("/admin/rules/road_bike/publish", data={"based_on": "4"})
        assert NEW_TEXT in active_versions(engine)["road_bike"].files["questions.yml"]
        back = await ada.post(
            "/admin/rules/road_bike/rollback", data={"version": "1", "note": "oops"}
        )
        page = await ada.get("/admin/rules/road_bike", headers=HTML)
    assert first.status_code == 303 and second.status_code == 303
    assert refused.status_code == 422 and "did you mean <code>frame_size_cm</code>" in refused.text
    assert back.headers["location"].endswith("done=rolledback-1")
    assert NEW_TEXT not in active_versions(engine)["road_bike"].files["questions.yml"]
    assert "rolled back to version 1" in page.text and "oops" in page.text
    assert NEW_TEXT not in page.text, "the editor opens the version rolled back to"


async def test_not_understood_phrase_becomes_a_synonym_in_the_draft(app: FastAPI) -> None:
    engine = app.state.db.engine
    events = EventLog(engine, background=False)
    try:
        for n in range(3):
            scope = Scope(f"c{n}", "road_bike", None, "chat", "en")
            events.record(scope, [Event(EventKind.NOT_UNDERSTOOD, "experience", "Fresh on wheels")])
        events.flush()
    finally:
        events.close()
    async with client_for(app, Role.MERCHANDISER) as mia:
        page = await mia.get("/admin/rules/road_bike", headers=HTML)
        added = await mia.post(
            "/admin/rules/road_bike/synonym",
            data={"based_on": "0", "option": "experience:beginner", "phrase": "fresh on wheels"},
        )
    assert 'data-testid="nu-row"' in page.text and "fresh on wheels" in page.text
    assert added.status_code == 303 and added.headers["location"].endswith("done=synonym")
    draft = get_draft(engine, "road_bike")
    assert draft is not None and draft.revision == 1
    assert "first time, fresh on wheels]" in draft.files["questions.yml"]


async def test_discard_throws_the_draft_away(app: FastAPI) -> None:
    async with client_for(app, Role.MERCHANDISER) as mia:
        await mia.post("/admin/rules/road_bike/draft", json={"files": retexted(), "based_on": 0})
        stale = await mia.post("/admin/rules/road_bike/discard", data={"based_on": "0"})
        done = await mia.post("/admin/rules/road_bike/discard", data={"based_on": "1"})
        again = await mia.post("/admin/rules/road_bike/discard", data={"based_on": "2"})
        page = await mia.get("/admin/rules/road_bike", headers=HTML)
    assert stale.status_code == 409 and "changed by user-merchandiser" in stale.text
    assert done.headers["location"].endswith("done=discarded")
    assert again.headers["location"].endswith("done=nothing")
    draft = get_draft(app.state.db.engine, "road_bike")
    assert draft is not None and draft.state == "discarded"
    assert NEW_TEXT not in page.text and 'data-based-on="2"' in page.text
