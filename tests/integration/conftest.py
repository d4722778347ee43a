"""The real stack for integration tests: Rasa server + action server on free loopback ports.

The Rasa model must be trained (``make test`` trains it when bot files changed). Each
test run gets its own demo catalogue, tracker store and a writable copy of the rule sets,
so tests may edit rule files while the servers run. Rasa's HTTP API is started with a
random token (``RunningBot.rasa_token``), as ``make run`` does; the REST channel needs none.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.demo import build_demo_database
from product_rules.offers import offers_in
from web.stack import MODELS, RASA_BIN, REPO, Stack, action_service, free_port, rasa_service

pytestmark = pytest.mark.integration


def _missing() -> str | None:
    if not RASA_BIN.exists():
        return "Rasa is not installed in .venv-rasa (run `make test`)"
    if not list(MODELS.glob("*.tar.gz")):
        return "no trained model in bot/models (run `make train`)"
    return None


@dataclass
class RunningBot:
    """Handles the tests need: where Rasa listens and which rules it serves."""

    rasa_url: str
    action_url: str
    rules_dir: Path
    database_url: str
    log: io.StringIO
    client: httpx.Client
    rasa_token: str = field(repr=False, default="")

    def send(self, sender: str, message: str, **extra: Any) -> list[dict[str, Any]]:
        """One shopper turn over the REST channel; the list of bot messages."""
        response = self.client.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message, **extra},
        )
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages


@pytest.fixture(scope="session")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"integration tests cannot run: {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("stack")
    rules = base / "rules"
    shutil.copytree(REPO / "product_rules" / "rules", rules)
    database_url = f"sqlite:///{base / 'catalog.db'}"
    build_demo_database(database_url)

    action_port, rasa_port = free_port(), free_port()
    actions = action_service(
        action_port, env={"DATABASE_URL": database_url, "PRODUCT_RULES_DIR": str(rules)}
    )
    rasa = rasa_service(
        rasa_port, action_port, env={"TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}"}
    )
    log = io.StringIO()
    stack = Stack([actions, rasa], log=log)
    try:
        with stack.running(timeout=240), httpx.Client(timeout=60) as client:
            yield RunningBot(
                rasa.url, actions.url, rules, database_url, log, client, rasa_token=rasa.token
            )
    except (RuntimeError, TimeoutError):
        sys.stderr.write(log.getvalue()[-20000:])
        raise


def texts(messages: list[dict[str, Any]]) -> str:
    """All text of a reply, joined."""
    return "\n".join(m.get("text", "") for m in messages if m.get("text"))


def offers_payload(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``custom`` offers payload of a reply, if it has one."""
    found = offers_in(messages)
    return dict(found) if found is not None else None
