"""German beside English in the NLU data, and German messages read right by the running Rasa.

German examples live in ``bot/data/nlu/de/`` under the same intents as the English ones,
so the rules, the domain and the action server need nothing per language.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import RunningBot
from web.stack import REPO

pytestmark = pytest.mark.integration

NLU = REPO / "bot" / "data" / "nlu"
DOMAIN = REPO / "bot" / "domain"
#: At least this many German examples per intent (the held-out split keeps a fifth).
MIN_GERMAN = 12


def _examples(paths: list[Path]) -> dict[str, list[str]]:
    """Intent -> its example texts, from NLU files."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in block:
                found[block["intent"]] += [
                    line.strip()[2:].strip()
                    for line in block["examples"].splitlines()
                    if line.strip().startswith("- ")
                ]
    return found


def _german() -> dict[str, list[str]]:
    return _examples(sorted((NLU / "de").glob("*.yml")))


def _english() -> dict[str, list[str]]:
    return _examples(sorted(NLU.glob("*.yml")))


def _domain_intents() -> set[str]:
    intents: set[str] = set()
    for path in DOMAIN.glob("*.yml"):
        for intent in yaml.safe_load(path.read_text(encoding="utf-8")).get("intents") or []:
            intents.add(intent if isinstance(intent, str) else next(iter(intent)))
    return intents


def test_every_intent_has_german_examples() -> None:
    german, english = _german(), _english()
    intents = _domain_intents()
    assert set(english) == intents
    assert set(german) == intents, "German intents must be the domain's, no more, no fewer"
    few = {intent: len(german[intent]) for intent in intents if len(german[intent]) < MIN_GERMAN}
    assert few == {}, f"intents with fewer than {MIN_GERMAN} German examples: {few}"


def test_german_examples_look_german() -> None:
    """Umlauts and their spellings without (moechte), du and Sie: as shoppers type."""
    texts = " ".join(t.lower() for examples in _german().values() for t in examples)
    for marker in ("ä", "ö", "ü", "ß", "ae", "oe", "ue", " du ", " sie ", " ich "):
        assert marker in texts, f"no German example with {marker!r}"


def test_no_example_in_two_intents() -> None:
    """Across both languages: an example text (case-insensitive) names one intent."""
    owners: dict[str, set[str]] = defaultdict(set)
    for examples in (_english(), _german()):
        for intent, texts in examples.items():
            for text in texts:
                owners[re.sub(r"\s+", " ", text.lower())].add(intent)
    clashes = {text: sorted(intents) for text, intents in owners.items() if len(intents) > 1}
    assert clashes == {}


def test_no_german_example_twice() -> None:
    seen: dict[str, int] = defaultdict(int)
    for texts in _german().values():
        for text in texts:
            seen[text.lower()] += 1
    assert {text: n for text, n in seen.items() if n > 1} == {}


#: German messages, most of them not in the training data, with the intent Rasa must read.
GERMAN_MESSAGES = [
    ("Hallo, ich suche ein Rennrad", "request_advice"),
    ("ich moechte ein gravelbike kaufen", "request_advice"),
    ("Können Sie mir ein E-Bike empfehlen?", "request_advice"),
    ("was ist SPD?", "explain_term"),
    ("was bedeutet Endurance-Geometrie", "explain_term"),
    ("warum dieses?", "ask_why"),
    ("wieso empfiehlst du mir das", "ask_why"),
    ("nochmal von vorne", "start_over"),
    ("lass uns bitte neu anfangen", "start_over"),
    ("kann ich mit einem Menschen sprechen?", "human_handoff"),
    ("ich will mit einem Verkäufer reden", "human_handoff"),
    ("vielen Dank!", "thanks"),
    ("guten Morgen", "greet"),
    ("tschüss, bis bald", "goodbye"),
    ("ja, genau", "affirm"),
    ("nein, danke", "deny"),
    ("meistens lange Touren, nichts Wettkampfmäßiges", "inform"),
    ("ich bin Anfänger", "inform"),
    ("eigentlich ist mein Budget höher, 2500 Euro", "change_answer"),
    ("wie wird das Wetter morgen?", "out_of_scope"),
]


def _parse(bot: RunningBot, text: str) -> dict[str, object]:
    response = bot.client.post(
        f"{bot.rasa_url}/model/parse", params={"token": bot.rasa_token}, json={"text": text}
    )
    response.raise_for_status()
    parsed: dict[str, object] = response.json()
    return parsed


@pytest.mark.parametrize(("text", "intent"), GERMAN_MESSAGES, ids=[t for t, _ in GERMAN_MESSAGES])
def test_german_message_gets_its_intent(bot: RunningBot, text: str, intent: str) -> None:
    parsed = _parse(bot, text)
    got = parsed["intent"]
    assert isinstance(got, dict)
    ranking = parsed.get("intent_ranking")
    assert got["name"] == intent, f"{text!r} read as {got} (ranking: {ranking})"


def test_english_still_understood(bot: RunningBot) -> None:
    for text, intent in [
        ("I'm looking for a road bike", "request_advice"),
        ("what is SPD?", "explain_term"),
        ("why this one?", "ask_why"),
        ("start over", "start_over"),
        ("can I talk to a human?", "human_handoff"),
    ]:
        got = _parse(bot, text)["intent"]
        assert isinstance(got, dict) and got["name"] == intent, (text, got)
