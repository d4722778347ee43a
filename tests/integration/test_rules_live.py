"""A question added to a rule file while the servers run is asked and used, no training."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.db import make_engine
from product_rules.errors import RuleSetError
from product_rules.publishing import history, publish, rollback
from tests.integration.conftest import RunningBot, offers_payload, texts

pytestmark = pytest.mark.integration

NEW_QUESTION = """
  - id: frame_material_wish
    text: Which frame material do you prefer?
    type: choice
    options:
      - id: aluminium
        label: Aluminium, light and affordable
        synonyms: [aluminium, aluminum, alu]
      - id: carbon
        label: Carbon, lightest and stiffest
        synonyms: [carbon, carbon fibre, carbon fiber]
"""

NEW_FILTER = """
  - id: frame_material_as_wished
    label: your frame material
    attribute: frame_material
    answer: frame_material_wish
    importance: 2
    reason: "{{ item.frame_material | title }} frame, as you wished"
"""


@pytest.fixture()
def added_question(bot: RunningBot) -> Iterator[None]:
    folder = bot.rules_dir / "road_bike"
    originals: dict[Path, str] = {}
    for name, addition in (("questions.yml", NEW_QUESTION), ("filters.yml", NEW_FILTER)):
        path = folder / name
        originals[path] = path.read_text()
        path.write_text(originals[path].rstrip("\n") + "\n" + addition)
    time.sleep(0.5)  # the registry looks at the files at most every 0.25 s
    try:
        yield
    finally:
        for path, text in originals.items():
            path.write_text(text)
        time.sleep(0.5)


def test_converse_asks_question_added_at_runtime(bot: RunningBot, added_question: None) -> None:
    sender = f"test-{uuid.uuid4().hex[:12]}"
    bot.send(sender, "I want a road bike")
    for step in ["long rides", "I ride regularly", "2500 euros", "178 cm", "no"]:
        reply = bot.send(sender, step)
    assert "Which frame material do you prefer?" in texts(reply), texts(reply)
    assert any(b["title"].startswith("Carbon") for m in reply for b in m.get("buttons", []))
    reply = bot.send(sender, "carbon please")
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    assert payload["answers"]["frame_material_wish"] == "carbon"
    for offer in payload["offers"]:
        assert offer["items"][0]["attributes"]["frame_material"] == "carbon"
        assert "Carbon frame, as you wished" in offer["reasons"]


def test_converse_shows_relaxation_choices(bot: RunningBot, added_question: None) -> None:
    sender = f"test-{uuid.uuid4().hex[:12]}"
    bot.send(sender, "I want a road bike")
    for step in ["long rides", "I ride regularly", "1200 euros", "182 cm", "no", "carbon"]:
        reply = bot.send(sender, step)
    text = texts(reply)
    assert "Nothing matches your budget and your frame material at once. Ways out:" in text, text
    payload = offers_payload(reply)
    assert payload is not None, text
    relaxation = payload["relaxation"]
    assert relaxation is not None and len(relaxation["choices"]) == 2
    for choice in relaxation["choices"]:
        assert f"{choice['count']} model" in text
    applied = relaxation["choices"][0]
    assert applied["applied"]
    assert all(offer["relaxed"] == applied["relax"] for offer in payload["offers"])
    # The other way out is a button: taking it changes the answers and the offers.
    other = relaxation["choices"][1]
    buttons = [b for m in reply for b in m.get("buttons", [])]
    assert [b["title"] for b in buttons] == [
        f"{'; '.join(other['relax'])} ({other['count']} models)"
    ]
    reply = bot.send(sender, buttons[0]["payload"])
    again = offers_payload(reply)
    assert again is not None, texts(reply)
    changed = {k: v for k, v in again["answers"].items() if payload["answers"].get(k) != v}
    assert changed == other["answers"], changed


def test_converse_broken_rule_file_keeps_serving(bot: RunningBot) -> None:
    path = bot.rules_dir / "road_bike" / "filters.yml"
    original = path.read_text()
    # The registry looks at the files when a request comes: one turn puts the shipped
    # version in service, whatever earlier tests did.
    bot.send(f"test-{uuid.uuid4().hex[:12]}", "I want a road bike")
    path.write_text(original.replace("attribute: frame_size_cm", "attribute: frame_sise"))
    time.sleep(0.5)
    try:
        sender = f"test-{uuid.uuid4().hex[:12]}"
        bot.send(sender, "I want a road bike")
        for step in ["long rides", "beginner", "1500", "182 cm", "no"]:
            reply = bot.send(sender, step)
        payload = offers_payload(reply)
        assert payload is not None, texts(reply)
        assert all(o["items"][0]["attributes"]["frame_size_cm"] == 56 for o in payload["offers"])
    finally:
        path.write_text(original)
        time.sleep(0.5)


def test_converse_publish_changes_next_answer(bot: RunningBot, tmp_path: Path) -> None:
    """Publish, refuse a broken version, roll back: all while a conversation runs."""
    draft = tmp_path / "drafts" / "spring_road"
    shutil.copytree(bot.rules_dir / "road_bike", draft)
    ruleset_file = draft / "ruleset.yml"
    ruleset_file.write_text(
        ruleset_file.read_text()
        .replace("id: road_bike", "id: spring_road")
        .replace("title: Road bike", "title: Spring road bike deals")
    )
    db = make_engine(bot.database_url)
    assert publish(db, draft, author="merchandiser", message="spring campaign").version == 1

    sender = f"test-{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    while True:  # in service within a second of the publish, no restart
        reply = bot.send(sender, '/request_advice{"ruleset":"spring_road"}')
        if "What will you mostly use the bike for?" in texts(reply):
            break
        assert time.monotonic() - started < 1.5, texts(reply)
    assert texts(bot.send(sender, "long rides"))

    questions = draft / "questions.yml"
    questions.write_text(
        questions.read_text().replace(
            "What is your budget for the bike, pedals included?",
            "How much would you like to spend, pedals included?",
        )
    )
    assert publish(db, draft, author="merchandiser", message="friendlier").version == 2
    time.sleep(1.0)
    reply = texts(bot.send(sender, "beginner"))
    assert "How much would you like to spend, pedals included?" in reply, reply

    broken = (draft / "filters.yml").read_text()
    (draft / "filters.yml").write_text(broken.replace("answer: budget", "answer: budgt"))
    with pytest.raises(RuleSetError, match="did you mean 'budget'"):
        publish(db, draft, author="merchandiser")

    rollback(db, "spring_road", 1, author="lead", note="back to the tested wording")
    time.sleep(1.0)
    reply = texts(bot.send(sender, "what?"))
    assert "What is your budget for the bike, pedals included?" in reply, reply
    assert [(e["version"], e["action"]) for e in history(db, "spring_road")] == [
        (1, "rollback"),
        (2, "publish"),
        (1, "publish"),
    ]
    db.dispose()
