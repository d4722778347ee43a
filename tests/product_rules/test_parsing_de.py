"""German answers, and the matching rules both languages share (stand-ins, typos).

The shipped rule files hold English texts only; until they hold texts per language, the
German rule set here is the shipped road_bike rule set with German labels and synonyms
and two more questions (pedals, frame material), as a merchandiser would write them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from product_rules.loader import load_ruleset
from product_rules.parsing import (
    AnswerParser,
    UnsupportedLanguageError,
    parse_length_cm,
    parse_money,
    rule_set_for,
)
from product_rules.schema import Question, RuleSet

ROAD_BIKE = Path(__file__).resolve().parents[2] / "product_rules" / "rules" / "road_bike"

GERMAN_OPTIONS: dict[str, dict[str, tuple[str, list[str]]]] = {
    "usage": {
        "endurance": (
            "Lange Touren und Fitness",
            ["lange Touren", "Touren", "Ausfahrten", "Fitness", "Wochenendtouren", "Komfort"],
        ),
        "racing": ("Rennen und schnelle Gruppenausfahrten", ["Rennen", "Wettkampf", "schnell"]),
        "commute": ("Zur Arbeit pendeln", ["pendeln", "Arbeitsweg", "zur Arbeit", "Alltag"]),
    },
    "experience": {
        "beginner": (
            "Ich bin neu dabei",
            [
                "Anfänger",
                "Einsteiger",
                "Neuling",
                "neu dabei",
                "keine Erfahrung",
                "blutiger Anfänger",
            ],
        ),
        "intermediate": ("Ich fahre regelmäßig", ["regelmäßig", "ab und zu", "Hobby"]),
        "racer": ("Ich fahre Rennen oder trainiere hart", ["erfahren", "Profi", "Rennfahrer"]),
    },
    "shoes_owned": {
        "none": ("Nein, normale Schuhe", ["nein", "normale Schuhe", "Turnschuhe", "Sneaker"]),
        "spd": ("Ja, SPD (2-Loch)", ["SPD", "MTB-Schuhe", "2-Loch"]),
        "spd_sl": ("Ja, SPD-SL", ["SPD-SL", "Rennradschuhe", "3-Loch"]),
        "look_keo": ("Ja, Look Keo", ["Look Keo", "Keo"]),
    },
}

EXTRA = [
    Question.model_validate(
        {
            "id": "pedals",
            "text": "Welche Pedale möchtest du?",
            "type": "choice",
            "options": [
                {"id": "flat", "label": "Plattformpedale", "synonyms": ["Flatpedale"]},
                {"id": "clipless", "label": "Klickpedale", "synonyms": ["Klickpedale"]},
            ],
        }
    ),
    Question.model_validate(
        {
            "id": "frame_material",
            "text": "Welches Rahmenmaterial?",
            "type": "choice",
            "options": [
                {"id": "carbon", "label": "Carbon", "synonyms": ["Carbon", "Kohlefaser"]},
                {"id": "aluminium", "label": "Aluminium", "synonyms": ["Alu", "Aluminium"]},
            ],
        }
    ),
    Question(id="has_lights", text="Hast du schon Licht?", type="boolean"),
]


def _german(road_bike: RuleSet) -> RuleSet:
    questions = []
    for question in road_bike.questions:
        texts = GERMAN_OPTIONS.get(question.id, {})
        options = [
            option.model_copy(
                update={"label": texts[option.id][0], "synonyms": texts[option.id][1]}
            )
            for option in question.options
        ]
        questions.append(question.model_copy(update={"options": options}))
    return road_bike.model_copy(
        update={
            "title": "Rennrad",
            "synonyms": ["Rennrad", "Rennräder", "Straßenrad"],
            "questions": [*questions, *EXTRA],
        }
    )


@pytest.fixture(scope="module")
def road_bike() -> RuleSet:
    return load_ruleset(ROAD_BIKE).ruleset


@pytest.fixture(scope="module")
def german(road_bike: RuleSet) -> RuleSet:
    return _german(road_bike)


@pytest.fixture(scope="module")
def parser(german: RuleSet) -> AnswerParser:
    return AnswerParser(german)


def _check(got: Any, expected: Any) -> None:
    if isinstance(expected, float | int) and not isinstance(expected, bool):
        assert got == pytest.approx(expected, abs=0.5)
    else:
        assert got == expected


# --- numbers --------------------------------------------------------------------------

MONEY = [
    ("1.500 €", 1500),
    ("1500,-", 1500),
    ("1.500,-- Euro", 1500),
    ("ca. 2 Tsd.", 2000),
    ("bis 2.000 Euro", 2000),
    ("zwischen 1000 und 1500", 1500),
    ("von 1000 bis 1500 Euro", 1500),
    ("2k", 2000),
    ("zweitausend", 2000),
    ("fünfzehnhundert Euro", 1500),
    ("tausendfünfhundert", 1500),
    ("etwa 1.499,99 €", 1499.99),
    ("ich kann 1200 ausgeben", 1200),
    ("seit 5 Jahren", None),
    ("keine Ahnung", None),
]


@pytest.mark.parametrize(("text", "expected"), MONEY, ids=[t for t, _ in MONEY])
def test_parse_money_de(text: str, expected: float | None) -> None:
    _check(parse_money(text), expected)


LENGTHS = [
    ("1,82 m", False, 182),
    ("182 cm", False, 182),
    ("182 Zentimeter", False, 182),
    ("ich bin 1,82", False, 182),
    ("ich bin 182 groß", False, 182),
    ("eins zweiundachtzig", False, 182),
    ("eins achtzig", False, 180),
    ("1,82", True, 182),
    ("1,82", False, None),
    ("zweitausend", True, None),
]


@pytest.mark.parametrize(
    ("text", "bare_ok", "expected"), LENGTHS, ids=[f"{t}-{b}" for t, b, _ in LENGTHS]
)
def test_parse_length_de(text: str, bare_ok: bool, expected: float | None) -> None:
    _check(parse_length_cm(text, bare_ok=bare_ok), expected)


# --- answers --------------------------------------------------------------------------

ANSWERS = [
    # numbers for the question asked, and with their unit for any question
    ("1.500 €", "budget", {"budget": 1500}),
    ("1500,-", None, {"budget": 1500}),
    ("ca. 2 Tsd.", "budget", {"budget": 2000}),
    ("bis 2.000 Euro", None, {"budget": 2000}),
    ("zwischen 1000 und 1500", "budget", {"budget": 1500}),
    ("zweitausend", "budget", {"budget": 2000}),
    ("2k", None, {"budget": 2000}),
    ("1,82 m", None, {"body_height_cm": 182}),
    ("1,82", "body_height_cm", {"body_height_cm": 182}),
    ("182 cm", None, {"body_height_cm": 182}),
    ("eins zweiundachtzig", "body_height_cm", {"body_height_cm": 182}),
    ("Schrittlänge 86", None, {"inseam_cm": 86}),
    ("Schrittlänge 86", "body_height_cm", {"inseam_cm": 86}),
    ("86", "inseam_cm", {"inseam_cm": 86}),
    ("Innenbeinlänge 84", None, {"inseam_cm": 84}),
    ("1,82 m, Schrittlänge 86", None, {"body_height_cm": 182, "inseam_cm": 86}),
    (
        "Ich bin 1,82 m groß und habe eine Schrittlänge von 86 cm",
        "body_height_cm",
        {"body_height_cm": 182, "inseam_cm": 86},
    ),
    ("86 cm Schrittlänge, 182 cm", None, {"body_height_cm": 182, "inseam_cm": 86}),
    # options: lemmas, compounds, hyphens, typos, word order
    ("Klickpedale", "pedals", {"pedals": "clipless"}),
    ("Klickpedalen", "pedals", {"pedals": "clipless"}),
    ("mit Klick-Pedalen", None, {"pedals": "clipless"}),
    ("klickpedal", None, {"pedals": "clipless"}),
    ("Shimano-Klickpedale", None, {"pedals": "clipless"}),
    ("lieber Plattformpedale", None, {"pedals": "flat"}),
    ("Plattformpedalen bitte", "pedals", {"pedals": "flat"}),
    ("Klickpedahle", "pedals", {"pedals": "clipless"}),
    ("ich habe Rennradschuhe", None, {"shoes_owned": "spd_sl"}),
    ("Rennradschuh", "shoes_owned", {"shoes_owned": "spd_sl"}),
    ("ich habe Shimano-Rennradschuhe", None, {"shoes_owned": "spd_sl"}),
    ("nur normale Schuhe", "shoes_owned", {"shoes_owned": "none"}),
    ("nein", "shoes_owned", {"shoes_owned": "none"}),
    ("ich bin Anfänger", None, {"experience": "beginner"}),
    ("ich suche ein neues Rennrad", None, {}),
    ("Anfängerin", "experience", {"experience": "beginner"}),
    ("Rennradanfänger", None, {"experience": "beginner"}),
    ("Anfaenger", "experience", {"experience": "beginner"}),
    ("eine blutige Anfängerin", "experience", {"experience": "beginner"}),
    ("Erfahrung habe ich keine", "experience", {"experience": "beginner"}),
    ("ich bin neu beim Radfahren", "experience", {"experience": "beginner"}),
    ("ich fahre gern lange Touren", "usage", {"usage": "endurance"}),
    ("Touren, die lang sind", "usage", {"usage": "endurance"}),
    ("ich pendle zur Arbeit", "usage", {"usage": "commute"}),
    ("Rennen", "usage", {"usage": "racing"}),
    ("Carbon bitte", None, {"frame_material": "carbon"}),
    ("Alu reicht", "frame_material", {"frame_material": "aluminium"}),
    # a whole first message
    (
        "Ich bin Anfänger, suche ein Rennrad bis 1.500 € und bin 1,82 m groß",
        None,
        {"experience": "beginner", "budget": 1500, "body_height_cm": 182},
    ),
    # the product's own name answers nothing
    ("ich suche ein Rennrad", None, {}),
    # short words are never read loosely: "Rad" is not "Rat", "Alu" not "Ali"
    ("Ali", "frame_material", {}),
    ("Handschuhe", "shoes_owned", {}),
]


@pytest.mark.parametrize(
    ("text", "current", "expected"), ANSWERS, ids=[f"{t} [{c}]" for t, c, _ in ANSWERS]
)
def test_parse_de(
    parser: AnswerParser, text: str, current: str | None, expected: dict[str, Any]
) -> None:
    result = parser.parse(text, current=current, language="de")
    assert result.answers.keys() == expected.keys(), result.answers
    for key, value in expected.items():
        _check(result.answers[key], value)


YES_NO_UNSURE = [
    ("ja", True, False),
    ("Ja klar!", True, False),
    ("jo", True, False),
    ("natürlich", True, False),
    ("auf jeden Fall", True, False),
    ("nein", False, False),
    ("nee", False, False),
    ("nö", False, False),
    ("auf keinen Fall", False, False),
    ("hab ich nicht", False, False),
    ("weiß nicht", None, True),
    ("weiss nicht", None, True),
    ("keine Ahnung", None, True),
    ("egal", None, True),
    ("ist mir egal", None, True),
    ("bin mir nicht sicher", None, True),
    ("Banane", None, False),
]


@pytest.mark.parametrize(
    ("text", "answer", "unsure"), YES_NO_UNSURE, ids=[t for t, *_ in YES_NO_UNSURE]
)
def test_yes_no_unsure_de(
    parser: AnswerParser, text: str, answer: bool | None, unsure: bool
) -> None:
    result = parser.parse(text, current="has_lights", language="de")
    assert result.answers.get("has_lights") is answer
    assert result.dont_know is unsure


@pytest.mark.parametrize("text", ["keine Ahnung", "weiß nicht", "egal"])
def test_dont_know_de_for_choice(parser: AnswerParser, text: str) -> None:
    result = parser.parse(text, current="usage", language="de")
    assert result.dont_know and result.answers == {}


# --- negation -------------------------------------------------------------------------

# (text, current, question, refused option, what the answer is then: None = ask again)
NEGATED = [
    ("keine Rennen", "usage", "usage", "racing", None),
    ("keine Rennen, eher lange Touren", "usage", "usage", "racing", "endurance"),
    ("Rennen fahre ich nicht", "usage", "usage", "racing", None),
    ("Rennen nicht, aber lange Touren", "usage", "usage", "racing", "endurance"),
    ("Rennen? Eher nicht", "usage", "usage", "racing", None),
    ("ich bin kein Anfänger mehr", "experience", "experience", "beginner", None),
    ("nicht mehr Anfänger", "experience", "experience", "beginner", None),
    ("nicht so erfahren", "experience", "experience", "racer", None),
    ("ich bin nicht erfahren", "experience", "experience", "racer", None),
    ("kein Carbon", "frame_material", "frame_material", "carbon", None),
    ("auf keinen Fall Carbon", "frame_material", "frame_material", "carbon", None),
    ("Carbon? Nein danke", "frame_material", "frame_material", "carbon", None),
    ("Carbon? Nein danke, Alu reicht", "frame_material", "frame_material", "carbon", "aluminium"),
    ("Carbon brauche ich nicht", "frame_material", "frame_material", "carbon", None),
    ("Carbon ist nichts für mich", "frame_material", "frame_material", "carbon", None),
    ("ohne Carbon", "frame_material", "frame_material", "carbon", None),
    ("alles außer Rennen", "usage", "usage", "racing", None),
    ("alles ausser Rennen", None, "usage", "racing", None),
    ("keine Klickpedale", "pedals", "pedals", "clipless", None),
    ("keine Klickpedale, lieber Plattformpedale", "pedals", "pedals", "clipless", "flat"),
    ("ich will nie Rennen fahren", "usage", "usage", "racing", None),
    ("weder Rennen noch Wettkampf", "usage", "usage", "racing", None),
]


@pytest.mark.parametrize(
    ("text", "current", "question", "refused", "kept"), NEGATED, ids=[t for t, *_ in NEGATED]
)
def test_parse_negated_de(
    parser: AnswerParser,
    text: str,
    current: str | None,
    question: str,
    refused: str,
    kept: str | None,
) -> None:
    answers = parser.parse(text, current=current, language="de").answers
    assert answers.get(question) != refused, answers
    assert answers.get(question) == kept, answers


NOT_NEGATED = [
    ("keine Ahnung, vielleicht Rennen", "usage", "usage", "racing"),
    ("weiß nicht, vielleicht Rennen", "usage", "usage", "racing"),
    ("weiß nicht vielleicht Rennen", "usage", "usage", "racing"),
    ("nicht nur Rennen", "usage", "usage", "racing"),
    ("nein, Rennen", "usage", "usage", "racing"),
    ("nein ich will Rennen fahren", "usage", "usage", "racing"),
    ("nicht Alu, sondern Carbon", "frame_material", "frame_material", "carbon"),
    ("kein Anfänger, ich bin erfahren", "experience", "experience", "racer"),
]


@pytest.mark.parametrize(
    ("text", "current", "question", "option"), NOT_NEGATED, ids=[t for t, *_ in NOT_NEGATED]
)
def test_parse_doubt_or_other_clause_de(
    parser: AnswerParser, text: str, current: str, question: str, option: str
) -> None:
    assert parser.parse(text, current=current, language="de").answers.get(question) == option


# --- stand-ins for pronouns, typos (the English tables are in test_parsing.py) --------

STAND_INS = [
    ("ich bin neu beim Radfahren", "beginner"),
    ("neu beim Rennradfahren", "beginner"),
    ("neu bei dem Sport", "beginner"),
    ("neu dabei", "beginner"),
    ("neu bei der Arbeit", None),
    ("nicht neu beim Radfahren", None),
    ("ganz neu im Radsport", None),  # "neu darin" is no synonym
]


@pytest.mark.parametrize(("text", "expected"), STAND_INS, ids=[t for t, _ in STAND_INS])
def test_parse_topic_word_stands_in_for_pronoun_de(
    parser: AnswerParser, text: str, expected: str | None
) -> None:
    got = parser.parse(text, current="experience", language="de").answers.get("experience")
    assert got == expected


TYPOS = [
    ("Anfänher", "experience", "beginner"),
    ("Einsteigr", "experience", "beginner"),
    ("Klickpedahle", "pedals", "clipless"),
    ("Profu", "experience", None),  # short words match exactly or not at all
]


@pytest.mark.parametrize(("text", "question", "expected"), TYPOS, ids=[t for t, *_ in TYPOS])
def test_parse_one_typo_in_a_long_word_de(
    parser: AnswerParser, text: str, question: str, expected: str | None
) -> None:
    got = parser.parse(text, current=question, language="de").answers.get(question)
    assert got == expected


JUNK = [
    "ääää " * 300,
    "ß" * 5000,
    "-" * 3000,
    "Klick-" * 500,
    "eins " * 400,
    "tausendtausendtausend",
    "nicht " * 500,
    "<b>Hallo</b> 🚴‍♀️",
]


@pytest.mark.parametrize("current", [None, "usage", "budget", "body_height_cm"])
@pytest.mark.parametrize("text", JUNK, ids=range(len(JUNK)))
def test_junk_gives_empty_result_de(parser: AnswerParser, text: str, current: str | None) -> None:
    result = parser.parse(text, current=current, language="de")
    assert result.answers == {} and not result.dont_know
    assert parser.find_term(text, language="de") is None


# --- API -------------------------------------------------------------------------------


def test_language_tags_and_unknown_language(parser: AnswerParser) -> None:
    assert parser.parse("Anfänger", current=None, language="de-DE").answers == {
        "experience": "beginner"
    }
    with pytest.raises(UnsupportedLanguageError, match="use one of en, de"):
        parser.parse("bonjour", language="fr")


def test_english_is_the_default(parser: AnswerParser) -> None:
    assert parser.parse("1.5k", current="budget").answers == {"budget": 1500}


def test_languages_built_at_once(german: RuleSet) -> None:
    parser = AnswerParser(german, languages=("en", "de"))
    assert parser.parse("Anfänger", language="de").answers == {"experience": "beginner"}
    with pytest.raises(UnsupportedLanguageError):
        AnswerParser(german, languages=("fr",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hallo, ich suche ein Rennrad", "road_bike"),
        ("Rennräder", "road_bike"),
        ("ich suche ein Straßenrad", "road_bike"),
        ("kein Rennrad", None),
        ("Hallo", None),
    ],
)
def test_rule_set_for_de(german: RuleSet, text: str, expected: str | None) -> None:
    assert rule_set_for(text, [german], language="de") == expected


def test_find_term_de(german: RuleSet) -> None:
    entry = AnswerParser(german).find_term("was ist SPD?", language="de")
    assert entry is not None and entry.term == "SPD"
