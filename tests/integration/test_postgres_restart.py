"""PostgreSQL restarted under a conversation: polite answers while it is away, no restart of ours.

A PostgreSQL cluster of the test's own (``initdb`` in a temporary folder, its own port;
the machine's server is shared with other tests and must not be stopped) holds the
catalogue, the advisor's tables and Rasa's tracker store. A shopper converses through
the web app; the database is stopped ("fast": connections are cut) and started again.
While it is away every message is answered with a polite sentence, never silence or a
500; once it is back the same processes answer again, and every answer the shopper was
told was taken ("Got it: …") is still there.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
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
    Stack,
    action_service,
    free_port,
    listening_socket,
    rasa_service,
    web_service,
)

BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/nonexistent"))
pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (BIN / "initdb").exists() and not os.environ.get("CI"),
        reason="needs PostgreSQL's server binaries (initdb, pg_ctl)",
    ),
]

USAGE = ask("road_bike", "usage")
EXPERIENCE = ask("road_bike", "experience")
BUDGET = ask("road_bike", "budget")
HEIGHT = ask("road_bike", "body_height_cm")
#: What the shopper may be told while the database is away.
POLITE = (
    render("failure", language="en"),
    "Our advisor is not reachable right now. Please try again in a moment.",
)


def _as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    # initdb and pg_ctl refuse to run as root.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, *argv], capture_output=True, text=True, timeout=120, check=False
    )


@dataclass
class Cluster:
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        done = _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", *args)
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self.pg_ctl("-o", options, "-l", str(self.data / "server.log"), "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Not under pytest's tmp folder: that one is private to root, and the server runs
    # as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="pg-restart-", dir="/tmp"))
    data = base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    done = _as_postgres(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    assert done.returncode == 0, done.stdout + done.stderr
    cluster = Cluster(data, free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def web_url(cluster: Cluster) -> Iterator[str]:
    ours = cluster.url.replace("postgresql://", "postgresql+psycopg://")
    build_demo_database(ours)
    action_port, rasa_port = free_port(), free_port()
    actions = action_service(action_port, env={"DATABASE_URL": ours})
    rasa = rasa_service(rasa_port, action_port, env={"TRACKER_STORE_URL": cluster.url})
    web = web_service(
        listening_socket(), rasa.url, rasa_token=rasa.token, env={"DATABASE_URL": ours}
    )
    log = io.StringIO()
    with Stack([actions, rasa, web], log=log).running(timeout=240):
        yield web.url


def _say(shopper: httpx.Client, url: str, text: str) -> tuple[int, str]:
    response = shopper.post(f"{url}/api/chat", json={"message": text}, timeout=30)
    body = response.json()
    said = texts(body.get("messages") or []) or str(body.get("message") or "")
    return response.status_code, said


def test_postgres_restart_is_answered_politely_and_recovered_without_restarts(
    cluster: Cluster, web_url: str
) -> None:
    with httpx.Client() as shopper:
        status, said = _say(shopper, web_url, "Hi! I'm looking for a road bike")
        assert status == 200 and USAGE in said, said
        status, said = _say(shopper, web_url, "mostly long weekend rides")
        assert status == 200 and EXPERIENCE in said, said

        cluster.stop()
        try:
            for text in ("total beginner", "beginner"):
                status, said = _say(shopper, web_url, text)
                assert status in (200, 503), (status, said)
                assert said.strip(), "silence while the database is away"
                assert any(p in said for p in POLITE), said
        finally:
            cluster.start()

        # The same processes recover: within a minute a message is answered again.
        deadline = time.monotonic() + 60
        while True:
            status, said = _say(shopper, web_url, "beginner")
            if status == 200 and BUDGET in said:
                break
            assert any(p in said for p in POLITE), said
            assert time.monotonic() < deadline, f"no recovery: {status} {said}"
            time.sleep(1.0)
        # What was acknowledged before the outage is still there: the next question
        # follows from it, and the height question after the budget.
        status, said = _say(shopper, web_url, "about 1500")
        assert status == 200 and HEIGHT in said, said
