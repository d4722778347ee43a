"""Rasa's own environment (.venv-rasa) holds the dependency choices that make a turn cheap.

jsonschema 4.17 re-checks the action-response schema against its metaschema on every
action call (about half of Rasa's CPU per turn); 3.2.0, inside Rasa 3.6's own range
(``>=3.2,<4.18``), does not. The lock (bot/rasa-requirements.lock) pins it; this checks
that the installed environment has it and that Rasa's validation of an action server's
response still accepts a good one and rejects a broken one with it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from web.stack import REPO, rasa_env

RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"

CHECK = """
import json, sys
from importlib.metadata import version
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

spec = RemoteAction.action_response_format_spec()
good = {"events": [{"event": "slot", "name": "ruleset", "value": "road_bike"}],
        "responses": [{"text": "How tall are you?", "buttons": []}]}
validate(good, spec)
try:
    validate({"events": "not a list"}, spec)
    broken = "accepted"
except ValidationError:
    broken = "rejected"
print(json.dumps({"jsonschema": version("jsonschema"), "rasa": version("rasa"), "broken": broken}))
"""


def test_rasa_environment_pins_jsonschema_3_2_and_still_validates() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-W", "ignore", "-c", CHECK],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"jsonschema": "3.2.0", "rasa": "3.6.21", "broken": "rejected"}, found


def test_lock_pins_jsonschema_within_rasas_range() -> None:
    lock = (REPO / "bot" / "rasa-requirements.lock").read_text(encoding="utf-8")
    assert "\njsonschema==3.2.0\n" in lock
    assert "\nrasa==3.6.21\n" in lock


STORE = """
import asyncio, json, sys
from rasa.core.tracker_store import TrackerStore
from rasa.utils.endpoints import read_endpoint_config
from rasa.shared.core.domain import Domain

config = read_endpoint_config(sys.argv[1], "tracker_store")
store = TrackerStore.create(config, domain=Domain.empty())
inner = getattr(store, "_tracker_store", store)  # Rasa wraps it in a FailSafeTrackerStore
with inner.engine.connect() as connection:
    journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
# The database loses its table: the tracker comes back marked as not loaded, not as new.
with inner.engine.begin() as connection:
    connection.exec_driver_sql("DROP TABLE events")
tracker = asyncio.run(store.retrieve("someone"))
marks = [e.metadata for e in tracker.events if e.type_name == "session_started"]
print(json.dumps({"class": type(inner).__name__, "pre_ping": inner.engine.pool._pre_ping,
                  "journal": journal, "marks": marks}))
"""


def test_endpoints_give_rasa_the_checked_sql_tracker_store(tmp_path: Path) -> None:
    """Rasa loads our tracker store from bot/endpoints.yml, and never falls back silently.

    Rasa answers a tracker store type it cannot import with an in-memory store (a
    warning, no error): conversations would live in one process's memory only.
    """
    env = {
        **rasa_env(5055, tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [str(RASA_PYTHON), "-W", "ignore", "-c", STORE, str(REPO / "bot" / "endpoints.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "class": "CheckedSQLTrackerStore",
        "pre_ping": True,
        "journal": "wal",
        "marks": [{"advisor_tracker_lost": True}],
    }, found
