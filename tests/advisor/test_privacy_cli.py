"""``advisor privacy export|erase|purge`` on a conversation in every store (SQLite)."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from advisor import retention
from advisor.cli import main
from advisor.privacy import PrivacyAudit, digest
from tests.advisor.test_privacy import (
    ERASED,
    KEPT,
    SHOPPER_SAID,
    World,
    _engines,
    rasa_turn,
    traces,
    world,
)

__all__ = ["world"]  # the fixture, shared with test_privacy.py


def _urls(world: World) -> list[str]:
    assert world.stores.tracker is not None
    return [
        "--database-url",
        str(world.stores.engine.url),
        "--tracker-store-url",
        str(world.stores.tracker.url),
    ]


def _audit(world: World) -> list[tuple[str, str, str]]:
    with world.stores.engine.connect() as connection:
        rows = connection.execute(select(PrivacyAudit.__table__)).mappings().all()  # type: ignore[attr-defined]
    return [(r["actor"], r["action"], r["conversation_digest"]) for r in rows]


def test_export_prints_the_conversation_and_audits(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["privacy", "export", ERASED, "--by", "anna", *_urls(world)])

    assert status == 0
    document = json.loads(capsys.readouterr().out)
    assert [m["text"] for m in document["messages"] if m["from"] == "shopper"] == list(
        SHOPPER_SAID[:2]
    )
    assert _audit(world) == [("anna", "export", digest(ERASED))]


def test_export_by_code_to_a_file(
    world: World, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"{tmp_path}/export.json"

    status = main(["privacy", "export", world.code, "--output", target, *_urls(world)])

    assert status == 0
    with open(target, encoding="utf-8") as handle:
        assert json.load(handle)["conversation"] == ERASED
    assert f"exported to {target}" in capsys.readouterr().err


def test_erase_removes_every_trace(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["privacy", "erase", ERASED, "--yes", "--by", "anna", *_urls(world)])

    assert status == 0
    assert f"erased conversation {ERASED}: " in capsys.readouterr().out
    assert traces(_engines(world), [ERASED, *SHOPPER_SAID]) == []
    assert _audit(world) == [("anna", "erase", digest(ERASED))]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["erase", "UnknownConversation_0123456789ab", "--yes"], "no conversation is stored"),
        (["export", "not an id!"], "neither a conversation id"),
        (["erase", "QQQQQQ", "--yes"], "no shopper's conversation has the code QQQQQQ"),
        (["purge", "--days", "0"], "retention must be a positive number of days"),
    ],
    ids=["unknown id", "not an id", "unknown code", "zero days"],
)
def test_bad_input_fails_with_a_message(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    status = main(["privacy", *argv, *_urls(world)])

    assert status == 1
    error = capsys.readouterr().err
    assert error.startswith("advisor: ") and says in error
    assert "Traceback" not in error
    assert traces(_engines(world), [ERASED]) != [], "nothing may be erased on bad input"


def test_erase_on_a_terminal_asks_first(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    status = main(["privacy", "erase", ERASED, *_urls(world)], stdin=Terminal("no\n"))

    assert status == 1
    assert "nothing erased" in capsys.readouterr().out
    assert traces(_engines(world), [ERASED]) != []


def test_purge_erases_exactly_what_is_past_retention(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Both conversations were written now; the kept one talks again 39 days later. On
    # day 40 with 30 days' retention the first is due, the second is not.
    later = time.time() + 39 * 86400
    assert world.stores.tracker is not None
    rasa_turn(world.stores.tracker, KEPT, "STILL THINKING", {"text": "Take your time"}, later)
    day_40 = datetime.now(UTC) + timedelta(days=40)

    result = retention.purge(world.stores, days=30, clock=lambda: day_40)

    assert result.conversations == 1
    assert traces(_engines(world), [ERASED, *SHOPPER_SAID]) == []
    kept = {line.split(":")[0] for line in traces(_engines(world), [KEPT])}
    assert {
        "events.sender_id",
        "advisor_rating.conversation",
        "advisor_handover.conversation",
    } <= kept
    assert [a[1:] for a in _audit(world)] == [("erase", digest(ERASED))]


def test_purge_from_the_command_line_keeps_fresh_conversations(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    dry = main(["privacy", "purge", "--dry-run", *_urls(world)])
    status = main(["privacy", "purge", "--days", "30", *_urls(world)])

    assert (dry, status) == (0, 0)
    out = capsys.readouterr().out
    assert "0 conversations silent since before" in out
    assert "erased 0 conversations" in out
    assert traces(_engines(world), [ERASED]) != [] and traces(_engines(world), [KEPT]) != []


def test_a_tracker_store_that_does_not_answer_is_named(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = "postgresql://rasa:secret@127.0.0.1:1/tracker"  # nothing listens on port 1

    status = main(
        [
            "privacy",
            "erase",
            ERASED,
            "--yes",
            "--database-url",
            str(world.stores.engine.url),
            "--tracker-store-url",
            closed,
        ]
    )

    assert status == 1
    error = capsys.readouterr().err
    assert (
        "Rasa's tracker store at postgresql://rasa:***@127.0.0.1:1/tracker does not answer" in error
    )
    assert "secret" not in error
    assert traces(_engines(world), [ERASED]) != [], "nothing may be erased"
