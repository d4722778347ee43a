"""Faults against real processes: a hung or dead action server.

The stack of ``make run``: the action server behind its guard (HAProxy, which bounds an
action call to ``ACTION_TIMEOUT_MS``), Rasa, and the web app; the shopper talks to the web
app's ``/api/chat`` as the widget does. Rasa 3.6 waits five minutes for an action call
and cannot be told otherwise; the guard answers 504 after 1.5 s, Rasa's reply is then
empty and the web app says "please send your last message again" in the shopper's
language. When the action server is back, the same conversation goes on where it was.
"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from advisor.render import render
from catalog.demo import build_demo_database
from tests.integration.conftest import ask, texts
from web.stack import (
    HAPROXY,
    Service,
    Stack,
    action_guard_service,
    action_service,
    free_port,
    listening_socket,
    rasa_service,
    web_service,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not HAPROXY.exists() and not os.environ.get("CI"),
        reason="needs Debian's haproxy (make haproxy)",
    ),
]

USAGE = ask("road_bike", "usage")
EXPERIENCE = ask("road_bike", "experience")
#: What the shopper is told instead of silence (advisor/templates/chat/failure.j2).
FAILURE = {language: render("failure", language=language) for language in ("en", "de")}
#: The promise: a polite answer within 2 s, whatever the action server does.
REPLY_DEADLINE_S = 2.0


@dataclass
class FaultStack:
    stack: Stack
    actions: Service
    guard_url: str
    web_url: str
    action_env: dict[str, str]

    def chat(self, client: httpx.Client, text: str, language: str = "en") -> list[str]:
        response = client.post(
            f"{self.web_url}/api/chat",
            json={"message": text, "metadata": {"language": language}},
            timeout=REPLY_DEADLINE_S,
        )
        assert response.status_code == 200, response.text
        said = texts(response.json()["messages"])
        assert said.strip(), "an empty reply"
        return [said]

    def signal_actions(self, sig: signal.Signals) -> None:
        assert self.actions.process is not None
        os.killpg(self.actions.process.pid, sig)

    def wait_actions_healthy(self, seconds: float = 60.0) -> None:
        """Until the guard sends calls on again (its health check saw the server up)."""
        deadline = time.monotonic() + seconds
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(f"{self.guard_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise AssertionError("the action server did not come back")


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    base: Path = tmp_path_factory.mktemp("faults")
    database_url = f"sqlite:///{base / 'catalog.db'}"
    build_demo_database(database_url)
    guard_port, inner_port, rasa_port = free_port(), free_port(), free_port()
    action_env = {"DATABASE_URL": database_url}
    actions = action_service(inner_port, env=action_env)
    guard = action_guard_service(guard_port, [inner_port])
    rasa = rasa_service(
        rasa_port, guard_port, env={"TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}"}
    )
    web = web_service(
        listening_socket(),
        rasa.url,
        rasa_token=rasa.token,
        env={"DATABASE_URL": database_url},
    )
    log = io.StringIO()
    stack = Stack([actions, guard, rasa, web], log=log)
    try:
        with stack.running(timeout=240):
            yield FaultStack(stack, actions, guard.url, web.url, action_env)
    finally:
        if "Traceback" in log.getvalue():
            print(log.getvalue()[-5000:])


def test_hung_action_server_gets_a_polite_reply_and_the_conversation_goes_on(
    faults: FaultStack,
) -> None:
    with httpx.Client() as shopper:
        assert USAGE in faults.chat(shopper, "Hi, I'm looking for a road bike")[0]
        faults.signal_actions(signal.SIGSTOP)  # hung: accepts connections, never answers
        try:
            # The client gives up after REPLY_DEADLINE_S: a reply at all is within it.
            assert faults.chat(shopper, "mostly long weekend rides") == [FAILURE["en"]]
            assert faults.chat(shopper, "Lange Touren", "de") == [FAILURE["de"]]
        finally:
            faults.signal_actions(signal.SIGCONT)
        faults.wait_actions_healthy()
        # Nothing stuck: the answer sent again is taken, and the next question follows.
        reply = faults.chat(shopper, "mostly long weekend rides")[0]
        assert EXPERIENCE in reply, reply


def test_dead_action_server_gets_a_polite_reply_and_a_new_one_carries_on(
    faults: FaultStack,
) -> None:
    with httpx.Client() as shopper:
        assert USAGE in faults.chat(shopper, "do you have road bikes? I need one")[0]
        faults.signal_actions(signal.SIGKILL)
        assert faults.actions.process is not None
        faults.actions.process.wait(10)
        assert faults.chat(shopper, "long rides on weekends") == [FAILURE["en"]]

        # A new action server on the same port (what a supervisor does).
        replacement = action_service(faults.actions.port, env=faults.action_env)
        faults.stack.services[faults.stack.services.index(faults.actions)] = replacement
        faults.actions = replacement
        Stack([replacement], log=io.StringIO()).start(timeout=120)
        faults.wait_actions_healthy()
        reply = faults.chat(shopper, "long rides on weekends")[0]
        assert EXPERIENCE in reply, reply


def test_redis_down_is_a_polite_failure_and_changes_no_conversation(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Rasa with its lock store in Redis, and Redis not there (connection refused).

    Rasa cannot lock the conversation: it answers nothing and writes nothing to the
    tracker; the web app tells the shopper to send the message again. Once Redis is
    back the same conversation goes on (shown for the action server above; here the
    point is that nothing was half-written).
    """
    base: Path = tmp_path_factory.mktemp("redis-down")
    database_url = f"sqlite:///{base / 'catalog.db'}"
    build_demo_database(database_url)
    closed = free_port()  # nothing listens here: Redis is down
    action_port, rasa_port = free_port(), free_port()
    actions = action_service(action_port, env={"DATABASE_URL": database_url})
    rasa = rasa_service(
        rasa_port,
        action_port,
        env={
            "TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}",
            "LOCK_STORE": "redis",
            "LOCK_STORE_HOST": "127.0.0.1",
            "LOCK_STORE_PORT": str(closed),
        },
    )
    web = web_service(
        listening_socket(), rasa.url, rasa_token=rasa.token, env={"DATABASE_URL": database_url}
    )
    with Stack([actions, rasa, web], log=io.StringIO()).running(timeout=240):
        with httpx.Client() as shopper:
            response = shopper.post(
                f"{web.url}/api/chat",
                json={"message": "Hi, I'm looking for a road bike"},
                timeout=REPLY_DEADLINE_S,
            )
            assert response.status_code == 200, response.text
            assert texts(response.json()["messages"]) == FAILURE["en"]
            # What the shopper's conversation holds now (Rasa's tracker, via the web
            # app): nothing of the failed message was stored half-done.
            history = shopper.get(f"{web.url}/api/chat/history", timeout=30)
            assert history.status_code == 200, history.text
            assert not [m for m in history.json()["messages"] if m["from"] == "shopper"]
