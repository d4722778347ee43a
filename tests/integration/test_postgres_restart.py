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
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from advisor.render import render
from catalog.demo import build_demo_database
from tests.integration.conftest import ask, offers_payload, texts
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
SHOES = ask("road_bike", "shoes_owned")
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


def _reply(shopper: httpx.Client, url: str, text: str) -> tuple[int, str, dict[str, Any] | None]:
    """Status, the reply's text and its offers payload (if any)."""
    response = shopper.post(f"{url}/api/chat", json={"message": text}, timeout=30)
    body = response.json()
    messages = body.get("messages") or []
    said = texts(messages) or str(body.get("message") or "")
    return response.status_code, said, offers_payload(messages)


def _say(shopper: httpx.Client, url: str, text: str) -> tuple[int, str]:
    status, said, _ = _reply(shopper, url, text)
    return status, said


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


#: One shopper's conversation: what they say, and what shows it was taken (the next
#: question; after the last answer, the offers).
SCRIPT = (
    ("Evening! Looking for my first road bike", USAGE),
    ("mostly long weekend rides", EXPERIENCE),
    ("total beginner", BUDGET),
    ("about 1500", HEIGHT),
    ("1.82 m", SHOES),
    ("no, I don't have any", None),
)


@dataclass
class Shopper:
    """A shopper who answers as fast as the advisor lets them, retrying after an apology."""

    url: str
    step: int = 0
    polite: int = 0
    problems: list[str] = field(default_factory=list)
    offers: dict[str, Any] | None = None

    def run(self, deadline: float) -> None:
        with httpx.Client() as client:
            while self.step < len(SCRIPT) and time.monotonic() < deadline:
                text, taken = SCRIPT[self.step]
                try:
                    status, said, offers = _reply(client, self.url, text)
                except httpx.HTTPError as error:  # the web app itself never goes away here
                    self.problems.append(f"step {self.step}: {error!r}")
                    return
                if not said.strip() and offers is None:
                    self.problems.append(f"step {self.step}: an empty reply ({status})")
                    return
                if status == 200 and (offers if taken is None else taken in said):
                    self.step += 1
                    self.offers = offers
                elif any(p in said for p in POLITE) and status in (200, 503):
                    self.polite += 1
                    time.sleep(0.3)  # a person reads the apology before trying again
                else:
                    self.problems.append(f"step {self.step}: {status} {said[:200]!r}")
                    return


def test_postgres_restart_under_load_loses_nothing_acknowledged(
    cluster: Cluster, web_url: str
) -> None:
    """Six shoppers converse while the database goes away for seconds and comes back.

    Every reply is an answer or a polite apology; afterwards every shopper reaches the
    offers, and the offers are for exactly what each was told had been taken.
    """
    deadline = time.monotonic() + 180
    shoppers = [Shopper(web_url) for _ in range(6)]
    threads = [threading.Thread(target=s.run, args=(deadline,)) for s in shoppers]
    for thread in threads:
        thread.start()
    try:
        # Mid-conversation for everyone: each has had at least one answer taken.
        while min(s.step for s in shoppers) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(s.step < len(SCRIPT) for s in shoppers), "the outage came too late"
        cluster.stop()
        time.sleep(3.0)  # the outage itself: shoppers keep talking meanwhile
    finally:
        cluster.start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic()))
    assert [s.problems for s in shoppers] == [[] for _ in shoppers]
    assert sum(s.polite for s in shoppers) > 0, "nobody met the outage: the test proved nothing"
    for shopper in shoppers:
        assert shopper.step == len(SCRIPT), f"stuck at step {shopper.step}"
        assert shopper.offers is not None and shopper.offers["offers"], "no offers"
        answers = shopper.offers["answers"]
        assert answers["usage"] == "endurance" and answers["experience"] == "beginner"
        assert answers["budget"] == 1500 and answers["body_height_cm"] == 182
        assert answers["shoes_owned"] == "none"
        for offer in shopper.offers["offers"]:
            assert offer["total_price"] <= 1500
