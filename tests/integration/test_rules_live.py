"""Rules change while the servers run: a question added to a file is asked, a publication
is served on the next turns, a broken file is refused, and no test leaks its rules.

Nothing here sleeps: every wait is a poll of what a shopper would see (or of what the
action server logs) until a deadline. Every publication a test makes is taken back by
``no_leaked_publications`` (tests/integration/conftest.py), which also waits until the
running bot serves the rules it served before the test, so later tests (the browser
test) meet the shipped rules.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.db import make_engine
from product_rules.errors import RuleSetError
from product_rules.publishing import history, publish, rollback
from tests.integration.conftest import (
    IN_SERVICE_WITHIN,
    RESTORED_WITHIN,
    RunningBot,
    ask,
    buttons,
    check_offers,
    fresh,
    offers_payload,
    poll,
    served_rules,
    texts,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaked_publications")]

BUDGET = ask("road_bike", "budget")
FRIENDLIER_BUDGET = "How much would you like to spend, pedals included?"


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


ROAD_TO_SHOES = ["long rides", "I ride regularly", "2500 euros", "178 cm"]


def asks_frame_material(bot: RunningBot) -> bool:
    """A new road-bike conversation, to the end: is the added question asked after shoes?"""
    sender = fresh()
    bot.send(sender, "I want a road bike", expect=ask("road_bike", "usage"))
    for step in ROAD_TO_SHOES:
        bot.send(sender, step)
    return "Which frame material do you prefer?" in texts(bot.send(sender, "no"))


@pytest.fixture()
def added_question(bot: RunningBot) -> Iterator[None]:
    folder = bot.rules_dir / "road_bike"
    originals: dict[Path, str] = {}
    for name, addition in (("questions.yml", NEW_QUESTION), ("filters.yml", NEW_FILTER)):
        path = folder / name
        originals[path] = path.read_text()
        path.write_text(originals[path].rstrip("\n") + "\n" + addition)
    try:
        poll("the added question asked", lambda: asks_frame_material(bot), within=10.0)
        yield
    finally:
        for path, text in originals.items():
            path.write_text(text)
        poll(
            "the added question gone again",
            lambda: not asks_frame_material(bot),
            within=RESTORED_WITHIN,
        )


def test_converse_asks_question_added_at_runtime(bot: RunningBot, added_question: None) -> None:
    sender = fresh()
    bot.send(sender, "I want a road bike", expect=ask("road_bike", "usage"))
    bot.send(sender, "long rides", expect=ask("road_bike", "experience"))
    bot.send(sender, "I ride regularly", expect=BUDGET)
    bot.send(sender, "2500 euros", expect=ask("road_bike", "body_height_cm"))
    bot.send(sender, "178 cm")
    reply = bot.send(sender, "no", expect="Which frame material do you prefer?")
    assert [b["title"] for b in buttons(reply)][:2] == [
        "Aluminium, light and affordable",
        "Carbon, lightest and stiffest",
    ], buttons(reply)
    reply = bot.send(sender, "carbon please", expect_offers=True)
    payload = offers_payload(reply)
    assert payload is not None
    assert payload["answers"]["frame_material_wish"] == "carbon"
    for offer in payload["offers"]:
        assert offer["items"][0]["attributes"]["frame_material"] == "carbon"
        assert "Carbon frame, as you wished" in offer["reasons"]
        assert offer["total_price"] <= 2500, offer


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
        f"{'; '.join(other['relax'])} ({other['count']} model{'' if other['count'] == 1 else 's'})"
    ]
    reply = bot.send(sender, buttons[0]["payload"])
    again = offers_payload(reply)
    assert again is not None, texts(reply)
    changed = {k: v for k, v in again["answers"].items() if payload["answers"].get(k) != v}
    assert changed == other["answers"], changed


def action_log_since(bot: RunningBot, mark: int) -> str:
    return bot.log.getvalue()[mark:]


def test_converse_broken_rule_file_keeps_serving(bot: RunningBot) -> None:
    path = bot.rules_dir / "road_bike" / "filters.yml"
    original = path.read_text()
    mark = len(bot.log.getvalue())
    path.write_text(original.replace("attribute: frame_size_cm", "attribute: frame_sise"))
    try:
        # The registry looks at the files when a turn comes: turns until it has refused
        # the broken file (it says so in the action server's log, with file and line).
        refusal = poll(
            "the broken filters.yml refused",
            lambda: bot.send(fresh(), "hi") and "frame_sise" in action_log_since(bot, mark),
            within=IN_SERVICE_WITHIN,
        )
        assert refusal
        logged = action_log_since(bot, mark)
        assert "rule file refused, previous version keeps serving" in logged, logged[-2000:]
        assert "filters.yml:" in logged and "did you mean 'frame_size_cm'" in logged, logged[-2000:]
        sender = fresh()
        bot.send(sender, "I want a road bike", expect=ask("road_bike", "usage"))
        for step in ["long rides", "beginner", "1500", "182 cm"]:
            bot.send(sender, step)
        reply = bot.send(sender, "no", expect_offers=True)
        payload = offers_payload(reply)
        assert payload is not None
        assert all(o["items"][0]["attributes"]["frame_size_cm"] == 56 for o in payload["offers"])
    finally:
        path.write_text(original)


def spring_asks(bot: RunningBot, wording: str) -> bool:
    """A new spring_road conversation: is the budget question asked in ``wording``?"""
    sender = fresh()
    if ask("road_bike", "usage") not in texts(
        bot.send(sender, '/request_advice{"ruleset":"spring_road"}')
    ):
        return False
    bot.send(sender, "long rides", expect=ask("road_bike", "experience"))
    return wording in texts(bot.send(sender, "beginner"))


def test_converse_publish_changes_next_answer(bot: RunningBot, tmp_path: Path) -> None:
    """Publish, refuse a broken version, roll back: all while a conversation runs."""
    draft = tmp_path / "drafts" / "spring_road"
    shutil.copytree(bot.rules_dir / "road_bike", draft)
    ruleset_file = draft / "ruleset.yml"
    ruleset_file.write_text(
        ruleset_file.read_text()
        .replace("id: road_bike", "id: spring_road")
        .replace("{en: Road bike,", "{en: Spring road bike deals,")
    )
    db = make_engine(bot.database_url)
    assert publish(db, draft, author="merchandiser", message="spring campaign").version == 1

    sender = fresh()
    # In service within a second of the publish, no restart: the first turn that shows it.
    poll(
        "spring_road in service",
        lambda: (
            ask("road_bike", "usage")
            in texts(bot.send(sender, '/request_advice{"ruleset":"spring_road"}'))
        ),
        within=IN_SERVICE_WITHIN,
    )
    assert any(
        title == "Spring road bike deals" and ask("road_bike", "usage") in first
        for title, first in served_rules(bot).values()
    ), "the greeting lists the published rule set"
    bot.send(sender, "long rides", expect=ask("road_bike", "experience"))

    questions = draft / "questions.yml"
    questions.write_text(questions.read_text().replace(BUDGET, FRIENDLIER_BUDGET))
    assert publish(db, draft, author="merchandiser", message="friendlier").version == 2
    poll(
        "v2's wording in service",
        lambda: spring_asks(bot, FRIENDLIER_BUDGET),
        within=IN_SERVICE_WITHIN,
    )
    # The conversation under way gets the new wording on its next turn.
    bot.send(sender, "beginner", expect=FRIENDLIER_BUDGET)

    broken = (draft / "filters.yml").read_text()
    (draft / "filters.yml").write_text(broken.replace("answer: budget", "answer: budgt"))
    with pytest.raises(RuleSetError, match="did you mean 'budget'"):
        publish(db, draft, author="merchandiser")

    rollback(db, "spring_road", 1, author="lead", note="back to the tested wording")
    poll("v1's wording back", lambda: spring_asks(bot, BUDGET), within=IN_SERVICE_WITHIN)
    reply = bot.send(sender, "what?", expect=BUDGET)
    assert FRIENDLIER_BUDGET not in texts(reply)
    assert [(e["version"], e["action"]) for e in history(db, "spring_road")] == [
        (1, "rollback"),
        (2, "publish"),
        (1, "publish"),
    ]
    db.dispose()


def converse_to_offers(bot: RunningBot, sender: str) -> dict[str, Any]:
    """A beginner's road-bike conversation to the offers; the offers payload."""
    bot.send(sender, "I want a road bike", expect=ask("road_bike", "usage"))
    bot.send(sender, "long rides", expect=ask("road_bike", "experience"))
    bot.send(sender, "beginner", expect=BUDGET)
    bot.send(sender, "1500", expect=ask("road_bike", "body_height_cm"))
    bot.send(sender, "182 cm")
    payload = offers_payload(bot.send(sender, "no", expect_offers=True))
    assert payload is not None
    return payload


def test_converse_20_shoppers_while_rules_reload(bot: RunningBot, tmp_path: Path) -> None:
    """20 conversations at once while a publish and a file edit reload the rules: none lost."""
    draft = tmp_path / "drafts" / "road_bike"
    shutil.copytree(bot.rules_dir / "road_bike", draft)
    ruleset_file = draft / "ruleset.yml"
    ruleset_file.write_text(
        ruleset_file.read_text().replace("{en: Road bike,", "{en: Road bike deals,")
    )
    gravel = bot.rules_dir / "gravel_bike" / "ruleset.yml"
    original = gravel.read_text()
    results: dict[int, dict[str, Any] | BaseException] = {}
    started = threading.Barrier(21, timeout=60)

    def shopper(index: int) -> None:
        started.wait()
        try:
            results[index] = converse_to_offers(bot, f"test-crowd-{index}-{uuid.uuid4().hex[:8]}")
        except BaseException as exc:  # noqa: BLE001 - pytest.fail in a thread: reported below
            results[index] = exc

    threads = [threading.Thread(target=shopper, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    db = make_engine(bot.database_url)
    try:
        started.wait()
        publish(db, draft, author="merchandiser", message="while shoppers talk")
        gravel.write_text(original.replace("{en: ", "{en: Busy ", 1))
        for thread in threads:
            thread.join(timeout=240)
    finally:
        gravel.write_text(original)
        db.dispose()
    failed = {i: r for i, r in results.items() if isinstance(r, BaseException)}
    assert len(results) == 20 and not failed, {i: str(r)[:800] for i, r in failed.items()}
    for payload in results.values():
        assert isinstance(payload, dict)
        check_offers(bot, payload)
        assert payload["answers"]["budget"] == 1500
    assert poll(
        "the published title in service",
        lambda: "Road bike deals" in {title for title, _ in served_rules(bot).values()},
        within=IN_SERVICE_WITHIN,
    )


def test_publications_of_earlier_tests_are_gone(bot: RunningBot) -> None:
    """What the browser test after this file meets: the shipped rule sets, nothing else."""
    served = served_rules(bot)
    assert all("spring_road" not in payload for payload in served), served
    listed = {title for title, _ in served.values()}
    assert "Spring road bike deals" not in listed and "Road bike deals" not in listed
    assert "Road bike" in listed, listed
    db = make_engine(bot.database_url)
    try:
        assert history(db) == []
    finally:
        db.dispose()
