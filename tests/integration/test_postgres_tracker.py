"""Rasa's tracker store on PostgreSQL: a road-bike conversation kept in the server's rows.

Starts its own action server and Rasa with ``TRACKER_STORE_URL`` on a fresh database of
the local PostgreSQL server (created here, dropped afterwards), converses to the offers,
then reads the conversation back twice: from the ``events`` rows Rasa wrote, and from
Rasa's HTTP API (with the token). Both must hold the answers the offers were made for.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from catalog.db import normalise_url
from catalog.demo import build_demo_database
from tests.integration.conftest import (
    RunningBot,
    _missing,
    ask,
    check_offers,
    offers_payload,
)
from web.stack import REPO, Stack, action_service, free_port, rasa_service

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
#: Rasa 3.6's SQL tracker store reaches PostgreSQL through psycopg2 (SQLAlchemy 1.4).
PSYCOPG2_LINE = "psycopg2-binary==2.9.13"


def _cannot_run(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the PostgreSQL tracker store test cannot run under CI: {reason}")
    pytest.skip(reason)


def _psycopg2_missing() -> str | None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", "import psycopg2"], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return None
    return (
        "Rasa's environment lacks psycopg2, which its SQL tracker store needs for "
        f"PostgreSQL: add the line `{PSYCOPG2_LINE}` to bot/rasa-requirements.lock "
        f"({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'import failed'})"
    )


@pytest.fixture(scope="module")
def tracker_db() -> Iterator[tuple[str, Engine]]:
    """A fresh PostgreSQL database for Rasa's tracker: its URL and an engine on it."""
    reason = _missing() or _psycopg2_missing()
    if reason:
        _cannot_run(reason)
    admin = create_engine(normalise_url(SERVER), isolation_level="AUTOCOMMIT")
    name = f"tracker_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means no server
        admin.dispose()
        _cannot_run(f"PostgreSQL not reachable at {SERVER}: {exc}")
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(normalise_url(url))
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            left = conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar_one()
        admin.dispose()
        assert left == 0, f"database {name} was not dropped"


@pytest.fixture(scope="module")
def pg_bot(
    tracker_db: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBot]:
    """Action server and Rasa, the tracker store on the fresh PostgreSQL database."""
    url, _ = tracker_db
    base = tmp_path_factory.mktemp("pg-stack")
    rules = base / "rules"
    shutil.copytree(REPO / "product_rules" / "rules", rules)
    database_url = f"sqlite:///{base / 'catalog.db'}"
    build_demo_database(database_url)
    action_port, rasa_port = free_port(), free_port()
    actions = action_service(
        action_port, env={"DATABASE_URL": database_url, "PRODUCT_RULES_DIR": str(rules)}
    )
    # Hex: a token_urlsafe token starting with "-" is taken by Rasa's argparse for an
    # option and Rasa exits with code 2 (web/stack.py's own tokens do that 1 start in 64).
    token = secrets.token_hex(32)
    rasa = rasa_service(rasa_port, action_port, token=token, env={"TRACKER_STORE_URL": url})
    log = io.StringIO()
    try:
        with (
            Stack([actions, rasa], log=log).running(timeout=240),
            httpx.Client(timeout=60) as client,
        ):
            yield RunningBot(
                rasa.url, actions.url, rules, database_url, log, client, rasa_token=rasa.token
            )
    except (RuntimeError, TimeoutError):
        sys.stderr.write(log.getvalue()[-20000:])
        raise


ROAD_BIKE = [
    ("I want a road bike", ask("road_bike", "usage")),
    ("long rides", ask("road_bike", "experience")),
    ("beginner", ask("road_bike", "budget")),
    ("1500", ask("road_bike", "body_height_cm")),
]


def test_converse_with_tracker_on_postgres(
    pg_bot: RunningBot, tracker_db: tuple[str, Engine]
) -> None:
    _, engine = tracker_db
    sender = f"test-pg-{uuid.uuid4().hex[:12]}"
    pg_bot.talk(sender, ROAD_BIKE)
    pg_bot.send(sender, "182 cm")
    reply = pg_bot.send(sender, "no", expect_offers=True)
    payload = offers_payload(reply)
    assert payload is not None
    check_offers(pg_bot, payload)
    assert payload["answers"]["budget"] == 1500
    assert payload["answers"]["body_height_cm"] == 182
    said = [message for message, _ in ROAD_BIKE] + ["182 cm", "no"]

    # Rasa's own rows on the server: every shopper message, in order, and the state.
    with engine.connect() as conn:
        tables = set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
        assert "events" in tables, tables
        rows = conn.execute(
            text(
                "SELECT type_name, action_name, data FROM events WHERE sender_id = :s ORDER BY id"
            ),
            {"s": sender},
        ).all()
    events = [json.loads(row.data) for row in rows]
    assert [e["text"] for e in events if e["event"] == "user"] == said
    assert any(row.action_name == "action_listen" for row in rows)
    states = [e["value"] for e in events if e["event"] == "slot" and e["name"] == "advisor_state"]
    assert states, [row.type_name for row in rows]
    stored_answers = states[-1]["answers"]
    assert {k: stored_answers[k] for k in payload["answers"]} == payload["answers"]

    # Rasa's second read, through its HTTP API with the token, from those rows.
    tracker = pg_bot.tracker(sender)
    assert tracker["sender_id"] == sender
    assert tracker["latest_message"]["text"] == "no"
    state = tracker["slots"]["advisor_state"]
    assert state["answers"] == stored_answers
    assert pg_bot.state(sender)["answers"] == stored_answers, "a second read agrees"
    with_events = pg_bot.client.get(
        f"{pg_bot.rasa_url}/conversations/{sender}/tracker",
        params={"token": pg_bot.rasa_token, "include_events": "ALL"},
    )
    with_events.raise_for_status()
    assert [e["text"] for e in with_events.json()["events"] if e["event"] == "user"] == said
    # Without the token Rasa refuses: the rows are not readable through the API by anyone.
    refused = pg_bot.client.get(f"{pg_bot.rasa_url}/conversations/{sender}/tracker")
    assert refused.status_code == 401, refused.text


def test_rows_stay_apart_per_conversation(
    pg_bot: RunningBot, tracker_db: tuple[str, Engine]
) -> None:
    _, engine = tracker_db
    first, second = (f"test-pg-{uuid.uuid4().hex[:12]}" for _ in range(2))
    pg_bot.talk(first, ROAD_BIKE[:2])
    pg_bot.talk(second, ROAD_BIKE[:3])
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                text(
                    "SELECT sender_id, count(*) FROM events "
                    "WHERE type_name = 'user' AND sender_id IN (:a, :b) GROUP BY sender_id"
                ),
                {"a": first, "b": second},
            ).all()
        )
    assert counts == {first: 2, second: 3}
    assert pg_bot.state(first)["answers"] == {"usage": "endurance"}
    assert pg_bot.state(second)["answers"] == {"usage": "endurance", "experience": "beginner"}


def test_tracker_database_is_the_tests_own(tracker_db: tuple[str, Engine]) -> None:
    url, engine = tracker_db
    assert Path(url).name.startswith("tracker_test_")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar_one() == Path(url).name
