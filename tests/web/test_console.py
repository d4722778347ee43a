"""The staff console and the share page over HTTP: a signed-in staff member, the demo catalogue.

Accounts live in a temporary SQLite file (the app's own database); the advisor runs on
the in-memory demo catalogue, put on ``app.state.services`` before the first request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, delete
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from advisor import accounts
from advisor.settings import Settings
from advisor.sharing import ALPHABET, CODE_LENGTH, ClaimAttempt, ClaimLimits
from advisor.state import ConversationState
from tests.conftest import RULES
from tests.tables import create_schema, database_at
from web.app import create_app
from web.services import Services

PASSWORD = "correct horse battery"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
QUESTIONS = ["usage", "experience", "budget", "body_height_cm", "inseam_cm", "shoes_owned"]
BEGINNER = {"experience": "beginner", "body_height_cm": "182", "shoes_owned": "none"}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture()
def services(demo_db: Engine) -> Services:
    return Services.build(demo_db, RULES)


@pytest.fixture()
def app(tmp_path: Path, services: Services) -> Iterator[FastAPI]:
    settings = Settings(
        rasa_url="http://rasa.test:5005", database_url=database_at(tmp_path / "web.db")
    )
    app = create_app(
        settings, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[]))
    )
    with app.state.db.session() as session:
        accounts.create_user(session, name="anna", role="staff", password=PASSWORD)
    app.state.services = services
    yield app
    app.state.db.dispose()


class Console:
    """A signed-in staff member's browser, without JavaScript or with (``api``)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def login(self, name: str = "anna") -> None:
        page = self.client.get("/login", headers=HTML)
        token = CSRF_INPUT.search(page.text)
        assert token
        response = self.client.post(
            "/login",
            data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)},
            headers=HTML,
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        home = self.client.get("/console", headers=HTML)
        assert home.status_code == 200
        meta = CSRF_META.search(home.text)
        assert meta, "signed-in pages carry the CSRF token for console.js"
        self.csrf = meta.group(1)

    def start(self, ruleset: str = "road_bike", **form: str) -> str:
        response = self.client.post(
            "/console/sessions",
            data={"ruleset": ruleset, "csrf_token": self.csrf, **form},
            headers=HTML,
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith("/console/sessions/")
        return location.rsplit("/", 1)[1]

    def api(self, sid: str, operation: str, expect: int = 200, **data: Any) -> dict[str, Any]:
        response = self.client.post(
            f"/console/api/sessions/{sid}/{operation}",
            data={k: str(v) for k, v in data.items()},
            headers={"accept": "application/json", "x-csrf-token": self.csrf},
        )
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body

    def answer_all(self, sid: str, answers: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for question, value in answers.items():
            body = self.api(sid, "answer", question=question, value=value)
        return body


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture()
def console(client: TestClient) -> Console:
    console = Console(client)
    console.login()
    return console


class Rows(HTMLParser):
    """Candidates of the expert view: each row's score and the points of its parts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("data-testid") == "candidate":
            self.rows.append({"sku": found["data-sku"], "score": float(found["data-score"] or 0)})
            self.rows[-1]["parts"] = []
        elif found.get("data-testid") == "score-part" and self.rows:
            self.rows[-1]["parts"].append(float(found["data-points"] or 0))


VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Balance(HTMLParser):
    """Every element a fragment opens, it closes, in order (a broken panel breaks the page)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def assert_well_formed(html: str) -> None:
    checker = Balance()
    checker.feed(html)
    checker.close()
    assert not checker.problems and not checker.open, (checker.problems, checker.open)


def skus(html: str) -> list[str]:
    return re.findall(r'data-testid="offer-item" data-sku="([^"]+)"', html)


# -- access ------------------------------------------------------------------------


def test_get_console_without_login_goes_to_login(client: TestClient) -> None:
    page = client.get("/console", headers=HTML, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=/console")
    api = client.post("/console/api/sessions/x/answer", data={"question": "budget"})
    assert api.status_code == 401


def test_post_console_change_without_csrf_refused(console: Console) -> None:
    sid = console.start()
    response = console.client.post(
        f"/console/api/sessions/{sid}/answer",
        data={"question": "budget", "value": "1500"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


# -- the start page and sessions -------------------------------------------------------


def test_get_console_lists_rulesets_and_recent_sessions(console: Console) -> None:
    console.start(customer_name="Mr Weber", note="calls back at 4")
    page = console.client.get("/console", headers=HTML)
    assert page.status_code == 200
    assert 'value="road_bike"' in page.text and 'value="city_bike"' in page.text
    assert "Mr Weber" in page.text and 'data-testid="recent-session"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text.replace('href="http://testserver', "")


def test_start_unknown_ruleset_answers_the_form_again(console: Console) -> None:
    response = console.client.post(
        "/console/sessions",
        data={"ruleset": "road_bikes", "csrf_token": console.csrf},
        headers=HTML,
    )
    assert response.status_code == 422
    assert 'data-testid="start-problem"' in response.text and "road_bike" in response.text


def test_session_page_shows_every_question_at_once(console: Console) -> None:
    sid = console.start()
    page = console.client.get(f"/console/sessions/{sid}", headers=HTML)
    assert page.status_code == 200
    shown = re.findall(r'data-testid="question" data-question="([^"]+)"', page.text)
    assert shown == QUESTIONS
    for panel in ("questions", "offers", "expert", "locks", "share", "audit"):
        assert f'data-panel="{panel}"' in page.text
    assert 'src="/static/console.js"' in page.text
    assert "<script>" not in page.text
    main = page.text.split('<main id="main" class="site-main">')[1].split("</main>")[0]
    assert_well_formed(main)


def test_get_unknown_session_is_a_polite_404(console: Console) -> None:
    page = console.client.get("/console/sessions/nope", headers=HTML)
    assert page.status_code == 404
    assert "There is no assisted session" in page.text
    api = console.api("nope", "answer", expect=404, question="budget", value="1500")
    assert api["error"] == "unknown_session"


# -- answers in any order, offers that move --------------------------------------------------


def test_answer_in_any_order_updates_offers(console: Console, services: Services) -> None:
    sid = console.start()

    body = console.api(sid, "answer", question="budget", text="about 1.5k")

    assert body["ok"] is True
    assert "budget €1,500" in body["panels"]["questions"]
    assert services.sessions.get(sid).conversation_state().answers == {"budget": 1500.0}

    body = console.api(sid, "answer", question="usage", value="endurance")
    early = skus(body["panels"]["offers"])
    assert early, "offers appear before every question is answered"
    assert (
        'aria-pressed="true" data-testid="answer-button">Long rides'
        in (body["panels"]["questions"].replace("\n", ""))
        or "Long rides and fitness" in body["panels"]["questions"]
    )

    body = console.answer_all(sid, BEGINNER)
    assert 'data-testid="questions-complete"' in body["panels"]["questions"]
    state = services.sessions.get(sid).conversation_state()
    assert state.answers == {
        "budget": 1500.0,
        "usage": "endurance",
        "experience": "beginner",
        "body_height_cm": 182.0,
        "shoes_owned": "none",
    }
    assert state.sources == {q: "staff" for q in state.answers}
    final = skus(body["panels"]["offers"])
    assert final and len(body["panels"]["offers"].split('data-testid="offer-card"')) - 1 <= 3

    body = console.api(sid, "answer", question="budget", value="4000")
    assert skus(body["panels"]["offers"]) != final, "a new budget moves the offers"

    body = console.api(sid, "clear", question="budget")
    assert "budget" not in services.sessions.get(sid).conversation_state().answers


def test_answer_refused_keeps_the_answers(console: Console, services: Services) -> None:
    sid = console.start()
    console.api(sid, "answer", question="usage", value="racing")

    body = console.api(sid, "answer", expect=422, question="budget", text="blue please")

    assert body["ok"] is False and "does not answer" in body["message"]
    assert "questions" in body["panels"]
    assert services.sessions.get(sid).conversation_state().answers == {"usage": "racing"}


def test_answer_by_plain_form_redirects_back(console: Console) -> None:
    sid = console.start()
    response = console.client.post(
        f"/console/api/sessions/{sid}/answer",
        data={"question": "budget", "value": "1500", "csrf_token": console.csrf},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/sessions/{sid}#q-budget"
    refused = console.client.post(
        f"/console/api/sessions/{sid}/answer",
        data={"question": "budget", "value": "5", "csrf_token": console.csrf},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert 'data-testid="problem"' in refused.text and "outside" in refused.text


# -- the expert view and the overrides ---------------------------------------------------------


def test_expert_view_lists_candidates_whose_parts_add_up(console: Console) -> None:
    sid = console.start()
    body = console.answer_all(sid, {"usage": "endurance", "budget": "1500", **BEGINNER})

    rows = Rows()
    rows.feed(body["panels"]["expert"])

    assert len(rows.rows) > len(skus(body["panels"]["offers"])) // 2
    for row in rows.rows:
        assert row["parts"], row
        assert sum(row["parts"]) == pytest.approx(row["score"], abs=0.0015), row
    assert 'data-testid="trace-entry"' in body["panels"]["expert"]
    assert 'data-testid="candidate-stock"' in body["panels"]["expert"]
    assert 'data-testid="candidate-margin"' in body["panels"]["expert"]
    # Products left out are explained in words, from the structured reasons.
    excluded = body["panels"]["expert"]
    assert 'data-testid="excluded-product"' in excluded
    assert re.search(r"€[\d,.]+ over budget", excluded) or "does not fit 182 cm" in excluded


def test_overrides_shape_offers_and_land_in_the_audit(console: Console, services: Services) -> None:
    sid = console.start()
    body = console.answer_all(sid, {"usage": "endurance", "budget": "1500", **BEGINNER})
    offers = body["panels"]["offers"]
    bike = skus(offers)[0]
    rows = Rows()
    rows.feed(body["panels"]["expert"])
    other = next(r["sku"] for r in rows.rows if r["sku"] != bike)

    body = console.api(sid, "exclude", sku=other)
    assert f'data-testid="lock-excluded" data-sku="{other}"' in body["panels"]["locks"]
    body = console.api(sid, "pin", sku=bike)
    assert skus(body["panels"]["offers"])[0] == bike
    assert 'data-testid="pinned-tag"' in body["panels"]["offers"]

    options = console.client.get(
        f"/console/api/sessions/{sid}/components",
        params={"main": bike, "requirement": "pedals_for_bike_without"},
        headers={"accept": "application/json"},
    )
    assert options.status_code == 200, options.text
    listed = options.json()["options"]
    assert 'data-testid="component-option"' in options.json()["panels"]["components"]
    current = set(skus(body["panels"]["offers"]))
    misfit = next(o for o in listed if not o["fits"] and o["sku"] not in current)

    body = console.api(
        sid, "lock", main=bike, requirement="pedals_for_bike_without", sku=misfit["sku"]
    )
    first_offer = body["panels"]["offers"].split('data-testid="offer-card"')[1]
    assert misfit["sku"] in skus(first_offer)
    assert 'data-testid="component-locked"' in body["panels"]["offers"]
    assert 'data-testid="violation"' in body["panels"]["offers"]
    key = re.search(r'data-testid="violation" data-key="([^"]+)"', body["panels"]["offers"])
    assert key

    for html in body["panels"].values():
        assert_well_formed(html)

    refused = console.api(sid, "confirm", expect=422, key=key.group(1), note="  ")
    assert "note" in refused["message"]
    body = console.api(sid, "confirm", key=key.group(1), note="customer brings SPD-SL shoes")
    assert 'data-testid="violation-confirmed"' in body["panels"]["offers"]
    assert "customer brings SPD-SL shoes" in body["panels"]["locks"]

    body = console.api(sid, "unlock", main=bike, requirement="pedals_for_bike_without")
    body = console.api(sid, "unpin", sku=bike)
    body = console.api(sid, "include", sku=other)
    assert 'data-testid="no-locks"' not in body["panels"]["locks"]  # the confirmation note stays

    actions = [e.action for e in services.sessions.audit(sid)]
    for action in ("start", "answer", "exclude", "pin", "lock_component", "confirm"):
        assert action in actions
    assert actions[-3:] == ["unlock_component", "unpin", "include"]
    assert all(e.actor == "anna" for e in services.sessions.audit(sid))
    assert 'data-action="confirm"' in body["panels"]["audit"]
    assert "customer brings SPD-SL shoes" in body["panels"]["audit"]


def test_unknown_product_is_refused(console: Console) -> None:
    sid = console.start()
    body = console.api(sid, "pin", expect=422, sku="NO-SUCH-SKU")
    assert "NO-SUCH-SKU" in body["message"]


# -- sharing ----------------------------------------------------------------------------------


def shared_session(console: Console) -> tuple[str, dict[str, Any]]:
    sid = console.start()
    console.answer_all(sid, {"usage": "endurance", "budget": "1500", **BEGINNER})
    return sid, console.api(sid, "share")


def test_share_issues_a_code_and_the_page_shows_the_same_items(
    console: Console, services: Services
) -> None:
    sid, body = shared_session(console)
    code = body["code"]

    assert len(code) == CODE_LENGTH and all(c in ALPHABET for c in code)
    assert body["url"] == f"http://testserver/s/{code}"
    assert f'data-testid="share-code">{code}<' in body["panels"]["share"]
    assert services.sessions.audit(sid)[-1].action == "share"
    offered = skus(body["panels"]["offers"])

    qr = console.client.get(f"/console/api/sessions/{sid}/share/{code}.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in qr.text
    assert console.client.get(f"/console/api/sessions/{sid}/share/ABCDEF.svg").status_code == 404

    customer = TestClient(console.client.app)
    page = customer.get(f"/s/{code.lower()}")  # codes are read case-insensitively
    assert page.status_code == 200
    assert skus(page.text) == offered
    assert_well_formed(page.text.split('<main id="main" class="site-main">')[1].split("</main>")[0])
    assert f'data-resume-code="{code}"' in page.text
    assert 'src="/static/chat.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "Expert view" not in page.text and "staff_session" not in page.headers.get(
        "set-cookie", ""
    )


def test_share_page_unknown_code_is_a_polite_404(client: TestClient) -> None:
    page = client.get("/s/ZZZZZ9")
    assert page.status_code == 404
    assert "We can't find this configuration" in page.text
    assert 'href="/en/#advisor"' in page.text


def test_share_page_expired_code_is_a_polite_410(client: TestClient, services: Services) -> None:
    shared = services.codes.issue(
        kind="share",
        state=ConversationState(ruleset="road_bike"),
        offers={"offers": []},
        ttl=timedelta(seconds=-1),
    )
    page = client.get(f"/s/{shared.code}")
    assert page.status_code == 410
    assert "This configuration has expired" in page.text


def test_share_page_does_not_open_handoff_codes(client: TestClient, services: Services) -> None:
    code = services.codes.handoff_code(ConversationState(ruleset="road_bike"), "c-1")
    assert client.get(f"/s/{code}").status_code == 404


# -- picking up a shopper's chat -----------------------------------------------------------------


def test_pickup_handoff_code_loads_the_answers(console: Console, services: Services) -> None:
    shopper = ConversationState(
        ruleset="road_bike",
        answers={"usage": "racing", "budget": 2500.0},
        sources={"usage": "customer", "budget": "customer"},
    )
    code = services.codes.handoff_code(shopper, "conversation-7")

    response = console.client.post(
        "/console/pickup",
        data={"code": f"{code[:3].lower()}-{code[3:].lower()}", "csrf_token": console.csrf},
        headers=HTML,
    )

    assert response.status_code == 200
    assert "from the chat with the code" in response.text and code in response.text
    assert "budget €2,500" in response.text
    sid = str(response.url).rsplit("/", 1)[1]
    record = services.sessions.get(sid)
    assert record.origin_code == code
    state = record.conversation_state()
    assert state.channel == "console" and state.answers == shopper.answers
    assert services.sessions.audit(sid)[0].action == "take_over"


@pytest.mark.parametrize(
    ("expired", "status", "words"),
    [(False, 404, "There is no chat with the code"), (True, 410, "expired on")],
    ids=["unknown", "expired"],
)
def test_pickup_bad_code_is_answered_politely(
    console: Console, services: Services, expired: bool, status: int, words: str
) -> None:
    code = "ZZZZZ9"
    if expired:
        code = services.codes.issue(
            kind="handoff", state=ConversationState(ruleset="road_bike"), ttl=timedelta(seconds=-1)
        ).code
    response = console.client.post(
        "/console/pickup", data={"code": code, "csrf_token": console.csrf}, headers=HTML
    )
    assert response.status_code == status
    assert words in response.text and 'data-testid="pickup-form"' in response.text


def test_pickup_handoff_code_twice_is_refused(console: Console, services: Services) -> None:
    code = services.codes.handoff_code(ConversationState(ruleset="road_bike"), "conversation-8")
    first = console.client.post(
        "/console/pickup", data={"code": code, "csrf_token": console.csrf}, headers=HTML
    )
    assert first.status_code == 200
    again = console.client.post(
        "/console/pickup", data={"code": code, "csrf_token": console.csrf}, headers=HTML
    )
    assert again.status_code == 409
    assert "was already used by anna" in again.text and 'data-testid="pickup-form"' in again.text


def test_pickup_many_wrong_codes_is_throttled(
    console: Console, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(services.codes.engine) as session:  # the catalogue is shared by the run
        session.exec(delete(ClaimAttempt))
        session.commit()
    monkeypatch.setattr(services.codes, "limits", ClaimLimits(per_client=3))
    for letter in "ABC":
        wrong = console.client.post(
            "/console/pickup", data={"code": f"ZZZZZ{letter}", "csrf_token": console.csrf}
        )
        assert wrong.status_code == 404
    code = services.codes.handoff_code(ConversationState(ruleset="road_bike"), "conversation-9")
    response = console.client.post(
        "/console/pickup", data={"code": code, "csrf_token": console.csrf}, headers=HTML
    )
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 600
    assert "Too many wrong codes" in response.text
    assert services.codes.claimed(code) is None


# -- live chats: status and queue ---------------------------------------------------------------


def test_set_presence_shows_status_and_queue(console: Console, services: Services) -> None:
    response = console.client.post(
        "/console/presence",
        data={"status": "available", "capacity": "2", "csrf_token": console.csrf},
        headers=HTML,
    )
    assert response.status_code == 200 and str(response.url).endswith("/console#live")
    assert "You are <strong>available</strong>, in 0 of 2 chats." in response.text
    store = console.client.app.state.handover  # type: ignore[attr-defined]
    store.request(conversation="conv-live-1", state=ConversationState(ruleset="road_bike"))
    page = console.client.get("/console", headers=HTML)
    assert re.search(r"\d+ shoppers? waiting for a person", page.text)


@pytest.mark.parametrize(
    ("status", "capacity", "words"),
    [("asleep", "", "unknown status"), ("busy", "99", "choose 1 to 20"), ("away", "x", "1 to 20")],
    ids=["status", "capacity", "not-a-number"],
)
def test_set_presence_refused(console: Console, status: str, capacity: str, words: str) -> None:
    response = console.client.post(
        "/console/presence",
        data={"status": status, "capacity": capacity, "csrf_token": console.csrf},
        headers=HTML,
    )
    assert response.status_code == 422
    assert words in response.text and 'data-testid="presence-form"' in response.text


# -- a database that does not answer ----------------------------------------------------------


def broken(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("SELECT 1", {}, Exception("database is down"))


def test_share_page_database_down_says_try_again(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.codes, "get", broken)
    page = client.get("/s/ABCDE2")
    assert page.status_code == 503
    assert "Please try again in a moment" in page.text


def test_console_change_database_down_keeps_the_answers(
    console: Console, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = console.start()
    console.api(sid, "answer", question="usage", value="racing")
    monkeypatch.setattr(services.sessions, "save", broken)

    body = console.api(sid, "answer", expect=503, question="budget", value="1500")

    assert body["error"] == "unavailable" and "try again" in body["message"]
    monkeypatch.undo()
    assert services.sessions.get(sid).conversation_state().answers == {"usage": "racing"}


def test_console_session_is_counted_in_the_analytics_as_console(
    app: FastAPI, services: Services, console: Console, tmp_path: Path
) -> None:
    from advisor import analytics
    from advisor.analytics import Period
    from advisor.events import EventLog

    events = EventLog(
        create_schema(create_engine(database_at(tmp_path / "events.db"))), background=False
    )
    services.advisor.events = events
    sid = console.start()
    console.answer_all(
        sid,
        {"usage": "endurance", "experience": "beginner", "budget": "1500", "body_height_cm": "182"},
    )
    console.api(sid, "answer", question="shoes_owned", value="none")
    console.api(sid, "answer", question="budget", value="2000")  # changed after the offers
    events.flush()
    summary = analytics.summary(events.engine, Period(channel="console"))
    assert (summary.started, summary.offered) == (1, 1)
    assert analytics.summary(events.engine, Period(channel="chat")).started == 0
    answers = {(a.question, a.value) for a in analytics.answer_counts(events.engine, Period())}
    assert ("budget", 1500.0) in answers and ("usage", "endurance") in answers
    funnel = {s.step: s.conversations for s in analytics.funnel(events.engine, Period(), [])}
    assert funnel["offers"] == 1
