"""The analytics page and its CSV downloads over a scripted event log.

The events are written with the advisor's own :class:`advisor.events.EventLog` into the
app's database (where the advisor writes them), over the demo catalogue and the shipped
road-bike rules, and the page and the CSV must show exactly the expected counts.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from advisor import accounts
from advisor.events import Event, EventKind, EventLog, Scope, events_of
from advisor.reply import Reply
from advisor.settings import Settings
from advisor.state import ConversationState
from catalog.demo import build_demo_catalog
from tests.conftest import RULES
from tests.tables import create_schema, database_at
from web import charts
from web.app import create_app

PASSWORD = "correct horse battery"
USERS = {"anna": "staff", "mia": "merchandiser", "root": "admin"}
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SVG = re.compile(r"<svg\b.*?</svg>", re.S)
SVG_NS = "{http://www.w3.org/2000/svg}"
BLOCKS = {"div", "p", "dt", "dd", "li", "tr", "td", "th", "h2", "h3", "table", "caption"}

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

TODAY = datetime.now(UTC).date()
#: The scripted conversations start two days ago, inside the default 30 days.
BASE = datetime.combine(TODAY - timedelta(days=2), datetime.min.time(), tzinfo=UTC)
OLD = BASE - timedelta(days=43)  # one conversation long before the default period

RUN = [  # a conversation that answers everything: (question, answer) per turn
    ("usage", "endurance"),
    ("experience", "beginner"),
    ("budget", 1500.0),
    ("body_height_cm", 182.0),
    ("shoes_owned", "none"),
]


class Script:
    """Writes conversations turn by turn, ten seconds a turn, as the advisor's adapters do."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.now = BASE

    def turn(self, scope: Scope, *events: Event, shopper: bool = True) -> None:
        self.log.clock = lambda: self.now
        self.log.record(scope, list(events), turn=shopper)
        self.now += timedelta(seconds=10)

    def answer(self, scope: Scope, answers: list[tuple[str, Any]], then: str | None) -> None:
        """Start, answer each question in turn (each answer asks the next), then ask ``then``."""
        self.turn(scope, Event(EventKind.STARTED), Event(EventKind.ASKED, answers[0][0]))
        following = [question for question, _ in answers[1:]] + [then]
        for (question, value), ask in zip(answers, following, strict=True):
            kind = EventKind.DONT_KNOW if value is None else EventKind.ANSWERED
            asked = [Event(EventKind.ASKED, ask)] if ask else []
            self.turn(scope, Event(kind, question, value, "clicked"), *asked)

    def offers(
        self,
        scope: Scope,
        last: tuple[str, Any],
        skus: list[str],
        unmet: tuple[str, ...] = (),
        **given: Any,
    ) -> None:
        """The last answer's turn shows offers (``unmet``: wishes loosened to find them)."""
        answers = {**dict(RUN), **given, last[0]: last[1]}
        state = ConversationState(ruleset="road_bike", answers=answers)
        payload: dict[str, Any] = {
            "type": "offers",
            "answers": answers,
            "offers": [
                {"rank": n, "title": sku, "total_price": 1000.0, "items": [{"sku": sku}]}
                for n, sku in enumerate(skus, 1)
            ],
            "cross_sell": [],
        }
        if unmet:
            payload["relaxation"] = {
                "unmet": list(unmet),
                "choices": [{"relax": ["fits_budget"], "answers": {"budget": 1}, "applied": True}],
            }
        shown = events_of(state, state, Reply(payloads=[payload]))
        self.turn(scope, Event(EventKind.ANSWERED, *last, "clicked"), *shown)


def scope(conversation: str, **kw: Any) -> Scope:
    values = {"ruleset": "road_bike", "version": 3, "channel": "chat", "language": "en", **kw}
    return Scope(conversation, **values)


def script(log: EventLog) -> None:
    """Eight conversations (seven in the default period) of the road-bike rule set.

    * full-1: everything answered, offers, a click, rated excellent (1);
    * full-2: budget 400, the budget had to be loosened, offers, rated poor (4);
    * budget: racing, "don't know" the experience, stops at the budget;
    * purple-1, purple-2: "something purple" at the usage, never understood;
    * staff: German, console, commuting, asks for a person at the experience, taken,
      rated by staff good (2);
    * v4: version 4, everything answered, offers;
    * old: 43 days before the others, stops at the usage.
    """
    s = Script(log)
    full = scope("full-1")
    s.answer(full, RUN[:4], "shoes_owned")
    s.offers(full, RUN[4], ["NVL-FJD-3-56", "NVL-FJD-2-52", "FAL-TOL-5-58"])
    s.turn(full, Event(EventKind.OFFER_CLICKED, value=1), shopper=False)
    s.turn(full, Event(EventKind.RATED, value=1, how="bot"), shopper=False)

    low = scope("full-2")
    s.answer(low, [*RUN[:2], ("budget", 400.0), RUN[3]], "shoes_owned")
    s.offers(low, RUN[4], ["NVL-FJD-1-54"], unmet=("your budget",), budget=400.0)
    s.turn(low, Event(EventKind.RATED, value=4, how="bot"), shopper=False)

    budget = scope("budget")
    s.answer(budget, [("usage", "racing"), ("experience", None)], "budget")

    for name, texts in (
        ("purple-1", ["something purple", "something purple"]),
        ("purple-2", ["Something  Purple"]),
    ):
        purple = scope(name)
        s.turn(purple, Event(EventKind.STARTED), Event(EventKind.ASKED, "usage"))
        for text in texts:
            s.turn(purple, Event(EventKind.NOT_UNDERSTOOD, "usage", " ".join(text.split())))

    staff = scope("staff", channel="console", language="de")
    s.answer(staff, [("usage", "commute")], "experience")
    s.turn(staff, Event(EventKind.HANDOVER_ASKED))
    s.turn(staff, Event(EventKind.HANDOVER_TAKEN), shopper=False)
    s.turn(staff, Event(EventKind.RATED, value=2, how="staff"), shopper=False)

    v4 = scope("v4", version=4)
    s.answer(v4, RUN[:4], "shoes_owned")
    s.offers(v4, RUN[4], ["NVL-FJD-3-54"])

    s.now = OLD
    s.turn(scope("old"), Event(EventKind.STARTED), Event(EventKind.ASKED, "usage"))
    assert log.flush() > 0 and log.pending() == 0


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    database = tmp_path_factory.mktemp("analytics") / "web.db"
    settings = Settings(
        rasa_url="http://rasa.test:5005", database_url=database_at(database), rules_dir=RULES
    )
    app = create_app(settings, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    engine = app.state.db.engine
    create_schema(engine)
    hasher = accounts.PASSWORD_HASHER
    accounts.PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        with Session(engine) as session:
            build_demo_catalog(session)
            session.commit()
        with app.state.db.session() as session:
            for name, role in USERS.items():
                accounts.create_user(session, name=name, role=role, password=PASSWORD)
        log = EventLog(engine, background=False)
        script(log)
        log.close()
        yield app
    finally:
        accounts.PASSWORD_HASHER = hasher
        app.state.db.dispose()


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def login(client: TestClient, name: str = "mia") -> None:
    page = client.get("/login", headers=HTML)
    token = CSRF_INPUT.search(page.text)
    assert token
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture()
def mia(client: TestClient) -> TestClient:
    login(client, "mia")
    return client


class Tables(HTMLParser):
    """The text of every table cell, by the table's ``data-testid``; figures too."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def _space(self, tag: str) -> None:
        if tag in BLOCKS:
            for _, testid in self._open:
                if testid:
                    self.texts[testid] += " "

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._space(tag)
        testid = dict(attrs).get("data-testid")
        if tag == "table" and testid:
            self._table = testid
            self.tables[testid] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if tag not in ("input", "br", "meta", "link", "img"):
            self._open.append((tag, testid))
            if testid:
                self.texts.setdefault(testid, "")

    def handle_endtag(self, tag: str) -> None:
        self._space(tag)
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._table and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, testid in self._open:
            if testid:
                self.texts[testid] += data

    def text(self, testid: str) -> str:
        return " ".join(self.texts[testid].split())

    def rows(self, testid: str) -> list[list[str]]:
        """The table's body rows (its header row left out)."""
        return self.tables[testid][1:]


def page(client: TestClient, query: str = "") -> Tables:
    response = client.get(f"/admin/analytics{query}", headers=HTML)
    assert response.status_code == 200, response.text
    return Tables(response.text)


def download(client: TestClient, table: str, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/admin/analytics/{table}.csv{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))


def test_show_headline_figures_in_german(mia: TestClient) -> None:
    view = page(mia, "?lang=de")
    assert view.text("figure-started") == "Begonnene Gespräche 7"
    assert view.text("figure-offered") == "Angebote erreicht 3"
    assert view.text("figure-completion") == "Abschlussquote 42,9 % Richtwert 65,0 %: darunter"
    assert view.text("figure-clicked") == (
        "Angebot angeklickt 1 Klickrate 33,3 % derer mit Angeboten"
    )
    assert view.text("figure-handover") == (
        "Nach einer Person gefragt 14,3 % 1 gefragt, 1 vom Verkauf übernommen"
    )
    assert view.text("figure-median") == "Median bis zu den Angeboten 50 s 6 Schritte"
    assert view.rows("table-funnel-road_bike")[1][2] == "71,4 %"
    assert view.text("analytics-gaps").endswith("gefragt 400 €: 1 Kundin/Kunde")
    answers = view.rows("table-answers-road_bike-experience")
    assert answers[1] == ["Weiß nicht / egal", "1", "25,0 %"]
    assert answers[0][0] == "Ich bin neu dabei", "option labels in the page's language"
    assert view.rows("table-ratings")[0][0] == "Ausgezeichnet"


def test_show_headline_figures_of_the_last_30_days(mia: TestClient) -> None:
    view = page(mia)
    assert view.text("figure-started") == "Conversations started 7"
    assert view.text("figure-offered") == "Reached offers 3"
    assert view.text("figure-completion") == "Completion 42.9 % benchmark 65.0 %: below"
    assert view.text("figure-clicked") == (
        "Clicked an offer 1 click-through 33.3 % of those with offers"
    )
    assert view.text("figure-handover") == "Asked for a person 14.3 % 1 asked, 1 taken by staff"
    assert view.text("figure-median") == "Median to offers 50 s 6 turns"


def test_show_the_funnel_in_the_rule_sets_question_order(mia: TestClient) -> None:
    rows = page(mia).rows("table-funnel-road_bike")
    assert [(r[0], r[1]) for r in rows] == [
        ("Started", "7"),
        ("What will you mostly use the bike for? usage", "5"),
        ("How much road cycling experience do you have? experience", "4"),
        ("What is your budget for the bike, pedals included? budget", "3"),
        ("How tall are you? body_height_cm", "3"),
        (
            "Do you know your inseam (inside leg length)? It fine-tunes the frame size. inseam_cm",
            "0",
        ),
        ("Do you already own cycling shoes with cleats? If so, which system? shoes_owned", "3"),
        ("Reached offers", "3"),
        ("Clicked an offer", "1"),
    ]
    assert rows[1][2] == "71.4 %"


def test_show_drop_off_answers_gaps_and_not_understood(mia: TestClient) -> None:
    view = page(mia)
    assert [(r[0], r[1]) for r in view.rows("table-drop-road_bike")] == [
        ("What will you mostly use the bike for? usage", "2"),
        ("How much road cycling experience do you have? experience", "1"),
        ("What is your budget for the bike, pedals included? budget", "1"),
    ]
    assert view.rows("table-answers-road_bike-usage") == [
        ["Long rides and fitness", "3", "60.0 %"],
        ["Commuting to work", "1", "20.0 %"],  # a tie: in the order of the stored value
        ["Racing and fast group rides", "1", "20.0 %"],
    ]
    assert view.rows("table-answers-road_bike-experience") == [
        ["I'm new to it", "3", "75.0 %"],
        ["Don't know / no preference", "1", "25.0 %"],
    ]
    assert [r[:2] for r in view.rows("table-answers-road_bike-budget")] == [
        ["€1,500", "2"],
        ["€400", "1"],
    ]
    assert view.text("analytics-gaps") == "your budget, asked €400: 1 shopper"
    assert view.rows("table-not-understood") == [
        ["What will you mostly use the bike for? usage", "“something purple”", "2"]
    ]


def test_show_ratings_bot_against_staff(mia: TestClient) -> None:
    view = page(mia)
    assert view.rows("table-ratings") == [
        ["Excellent", "1", "0"],
        ["Good", "0", "1"],
        ["Okay", "0", "0"],
        ["Poor", "1", "0"],
        ["Frustrated", "0", "0"],
        ["Mean", "2.50", "2.00"],
    ]
    assert view.rows("table-ratings-by-version") == [
        ["road_bike", "v3", "2", "2.50", "1", "2.00"],
    ]


def test_list_models_never_recommended(mia: TestClient) -> None:
    never = download(mia, "never_recommended")
    shown = {"NVL-FJD-3", "NVL-FJD-2", "FAL-TOL-5", "NVL-FJD-1"}
    assert len(never) == 58 - len(shown)  # the demo catalogue has 58 road-bike models
    assert not shown & {row["group_sku"] for row in never}
    assert {row["ruleset"] for row in never} == {"road_bike"}
    view = page(mia, "?version=4")
    assert len(download(mia, "never_recommended", "?version=4")) == 57
    assert "57 of the 58 models" in view.text("ruleset-road_bike")


@pytest.mark.parametrize(
    ("query", "started", "offered"),
    [
        ("?language=de", 1, 0),
        ("?channel=console", 1, 0),
        ("?channel=chat", 6, 3),
        ("?version=4", 1, 1),
        ("?version=3&language=en", 5, 2),
        (f"?from={(OLD - timedelta(days=1)).date()}", 8, 3),
        (f"?from={OLD.date()}&to={OLD.date()}", 1, 0),
        ("?ruleset=road_bike", 7, 3),
    ],
    ids=["german", "console", "chat", "version-4", "v3-english", "longer", "old-day", "ruleset"],
)
def test_filter_changes_the_counts(mia: TestClient, query: str, started: int, offered: int) -> None:
    view = page(mia, query)
    assert view.text("figure-started") == f"Conversations started {started}"
    assert view.text("figure-offered") == f"Reached offers {offered}"
    summary = {row["figure"]: row["value"] for row in download(mia, "summary", query)}
    assert (summary["started"], summary["reached_offers"]) == (str(started), str(offered))


def test_filter_drop_off_of_the_old_day(mia: TestClient) -> None:
    query = f"?from={OLD.date()}&to={OLD.date()}"
    assert [r[1] for r in page(mia, query).rows("table-drop-road_bike")] == ["1"]
    assert download(mia, "drop_off", query) == [
        {
            "ruleset": "road_bike",
            "question": "usage",
            "question_text": "What will you mostly use the bike for?",
            "conversations": "1",
            "share_of_started": "1.0000",
        }
    ]


def test_show_no_conversations_in_an_empty_period(mia: TestClient) -> None:
    query = "?from=2020-01-01&to=2020-01-31&channel=kiosk"
    response = mia.get(f"/admin/analytics{query}", headers=HTML)
    assert response.status_code == 200
    assert '<option value="kiosk" selected>kiosk</option>' in response.text
    view = Tables(response.text)
    assert "No conversations in this period" in view.text("analytics-empty")
    assert "figure-started" not in view.texts and "<svg" not in response.text
    assert download(mia, "funnel", "?from=2020-01-01&to=2020-01-31") == []


def test_keep_the_filter_in_the_form_and_the_csv_links(mia: TestClient) -> None:
    # A period around the scripted conversations, whatever day the test runs on.
    start, end = (BASE - timedelta(days=7)).date().isoformat(), TODAY.isoformat()
    response = mia.get(f"/admin/analytics?from={start}&to={end}&language=de", headers=HTML)
    assert f'name="from" value="{start}"' in response.text
    assert '<option value="de" selected>German</option>' in response.text
    assert (
        f'href="/admin/analytics/funnel.csv?from={start}&amp;to={end}&amp;language=de"'
        in response.text
    )


def test_say_which_filter_values_were_unreadable(mia: TestClient) -> None:
    view = page(mia, "?from=yesterday&version=abc")
    assert "from, version" in view.text("analytics-unread")
    assert view.text("figure-started") == "Conversations started 7"  # the default period


def test_download_every_table_as_csv_with_the_pages_numbers(mia: TestClient) -> None:
    funnel = download(mia, "funnel")
    assert [(r["step"], r["question"], r["conversations"]) for r in funnel] == [
        ("started", "", "7"),
        ("question", "usage", "5"),
        ("question", "experience", "4"),
        ("question", "budget", "3"),
        ("question", "body_height_cm", "3"),
        ("question", "inseam_cm", "0"),
        ("question", "shoes_owned", "3"),
        ("offers", "", "3"),
        ("clicked", "", "1"),
    ]
    assert download(mia, "gaps") == [
        {
            "unmet": "your budget",
            "asked": '{"budget": 400.0}',
            "asked_labels": "€400",
            "conversations": "1",
        }
    ]
    assert download(mia, "not_understood") == [
        {
            "question": "usage",
            "question_text": "What will you mostly use the bike for?",
            "text": "something purple",
            "conversations": "2",
        }
    ]
    ratings = download(mia, "ratings")
    assert [(r["name"], r["bot"], r["staff"]) for r in ratings] == [
        ("excellent", "1", "0"),
        ("good", "0", "1"),
        ("okay", "0", "0"),
        ("poor", "1", "0"),
        ("frustrated", "0", "0"),
    ]
    answers = {(r["question"], r["answer"]): r for r in download(mia, "answers")}
    assert answers[("usage", "endurance")]["answer_label"] == "Long rides and fitness"
    assert answers[("usage", "endurance")]["conversations"] == "3"
    assert answers[("experience", "")]["dont_know"] == "1"
    assert [r["day"] for r in download(mia, "per_day")] == [BASE.date().isoformat()]
    assert download(mia, "ratings_by_version")[0]["bot_mean"] == "2.5000"


def test_name_the_csv_file_after_table_and_filter(mia: TestClient) -> None:
    response = mia.get(
        "/admin/analytics/funnel.csv?ruleset=road_bike&from=2026-11-01&to=2026-11-30"
    )
    assert response.headers["content-disposition"] == (
        'attachment; filename="analytics-funnel-road_bike-2026-11-01-to-2026-11-30.csv"'
    )
    assert mia.get("/admin/analytics/secrets.csv").status_code == 404


def test_draw_charts_as_well_formed_svg_with_titles(mia: TestClient) -> None:
    response = mia.get("/admin/analytics", headers=HTML)
    charts = [ET.fromstring(svg) for svg in SVG.findall(response.text)]
    names = [c.get("data-testid") for c in charts]
    assert names == [
        "chart-days",
        "chart-funnel-road_bike",
        "chart-drop-road_bike",
        "chart-ratings-advisor",
        "chart-ratings-staff",
    ]
    for chart in charts:
        assert chart.find(f"{SVG_NS}title") is not None
        assert chart.find(f"{SVG_NS}desc") is not None
        assert chart.get("role") == "img"
    days = charts[0].findall(f"{SVG_NS}g")
    assert len(days) == 30, "one group per day of the default period, quiet days too"
    assert days[-3].find(f"{SVG_NS}title").text == f"{BASE.date()}: started 7, reached offers 3"
    funnel = charts[1]
    values = [t.text for t in funnel.iter(f"{SVG_NS}text") if t.get("class") == "chart__value"]
    assert values == ["7", "5", "4", "3", "3", "0", "3", "3", "1"]
    bars = [r for r in funnel.iter(f"{SVG_NS}rect")]
    assert float(bars[0].get("width", "0")) > float(bars[1].get("width", "0")) > 0


def test_keep_the_staff_pages_csp(mia: TestClient) -> None:
    response = mia.get("/admin/analytics", headers=HTML)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "style-src 'self'" in csp
    assert " style=" not in response.text and "<script" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_admin_sees_analytics(client: TestClient) -> None:
    login(client, "root")
    assert client.get("/admin/analytics", headers=HTML).status_code == 200


@pytest.mark.parametrize("path", ["/admin/analytics", "/admin/analytics/funnel.csv"])
def test_refuse_staff_without_the_merchandiser_role(client: TestClient, path: str) -> None:
    login(client, "anna")
    assert client.get(path, headers=HTML).status_code == 403


@pytest.mark.parametrize("path", ["/admin/analytics", "/admin/analytics/funnel.csv?ruleset=x"])
def test_send_strangers_to_login(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_show_an_empty_log_on_a_fresh_database(tmp_path: Path) -> None:
    settings = Settings(
        rasa_url="http://rasa.test:5005", database_url=database_at(tmp_path / "w.db")
    )
    app = create_app(settings, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with app.state.db.session() as session:
        accounts.create_user(session, name="mia", role="merchandiser", password=PASSWORD)
    try:
        with TestClient(app) as client:
            login(client)
            view = page(client)
        assert "No conversations in this period" in view.text("analytics-empty")
    finally:
        app.state.db.dispose()


@pytest.mark.parametrize(
    ("largest", "top", "ticks"),
    [
        (0, 1, (0, 1)),
        (1, 1, (0, 1)),
        (7, 8, (0, 2, 4, 6, 8)),
        (10, 10, (0, 5, 10)),
        (41, 60, (0, 20, 40, 60)),
        (1234, 1500, (0, 500, 1000, 1500)),
    ],
    ids=["empty", "one", "seven", "ten", "forty-one", "thousands"],
)
def test_scale_the_axis_in_round_steps(largest: int, top: int, ticks: tuple[int, ...]) -> None:
    assert charts.scale(largest) == (top, ticks)


def test_lay_out_bars_in_proportion_to_their_values() -> None:
    chart = charts.bar_chart([8, 4, 0], width=500, label_width=100, value_room=0)
    assert [bar.length for bar in chart.bars] == [400.0, 200.0, 0.0]
    assert [tick.at for tick in chart.ticks] == [100.0, 200.0, 300.0, 400.0, 500.0]
    assert chart.bars[1].y - chart.bars[0].y == 30
    columns = charts.column_chart([(4, 2), (0, 0)], plot_height=100)
    assert [(c.first_height, c.second_height) for c in columns.columns] == [(100.0, 50.0), (0, 0)]
