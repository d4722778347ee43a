"""Free-text answer parsing against the shipped road_bike rule set."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from product_rules.localize import localize
from product_rules.parsing import (
    AnswerParser,
    ParseResult,
    has_length_cue,
    has_money_cue,
    parse_length_cm,
    parse_money,
    rule_set_for,
)
from product_rules.schema import GlossaryEntry, Question, RuleSet

ROAD_BIKE = Path(__file__).resolve().parents[2] / "product_rules" / "rules" / "road_bike"


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans only: the shoes question lists ``no`` as a synonym."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(name: str) -> Any:
    return yaml.load((ROAD_BIKE / name).read_text(encoding="utf-8"), Loader=_Yaml12Loader)


@pytest.fixture(scope="module")
def road_bike() -> RuleSet:
    data = {**_load("ruleset.yml"), **_load("questions.yml"), **_load("glossary.yml")}
    return RuleSet.model_validate(localize(data, "en"))


@pytest.fixture(scope="module")
def parser(road_bike: RuleSet) -> AnswerParser:
    return AnswerParser(road_bike)


JUNK = [
    "",
    "   ",
    "x" * 20_000,
    "🚴‍♀️🔥💯" * 50,
    "<b>hi</b><script>x()</script>",
    "/inform{broken",
    "{{}}[[]]",
    "1" * 5000,
    "€€€ kkk ''' \"\"\"",
    "\x00\x01\ufffd",
]


# --- numbers -------------------------------------------------------------------------

MONEY = [
    ("1.5k", 1500),
    ("1,5k", 1500),
    ("about 2k", 2000),
    ("2 grand", 2000),
    ("1500 euros", 1500),
    ("1500€", 1500),
    ("€1,500", 1500),
    ("1.500 €", 1500),
    ("EUR 1499.99", 1499.99),
    ("1.499,99 €", 1499.99),
    ("up to 1800", 1800),
    ("max 1800", 1800),
    ("under 2000", 2000),
    ("between 1000 and 1500", 1500),
    ("1000-1500", 1500),
    ("1.5-2k", 2000),
    ("fifteen hundred", 1500),
    ("two thousand", 2000),
    ("around 900 bucks", 900),
    ("a grand", 1000),
    ("I'm 182 and can spend 1200", 1200),
    ("1500", 1500),
    ("I'm 182", None),
    ("182cm", None),
    ("riding for 5 years", None),
    ("2-bolt", None),
    ("no idea", None),
]


@pytest.mark.parametrize(("text", "expected"), MONEY, ids=[t for t, _ in MONEY])
def test_parse_money(text: str, expected: float | None) -> None:
    assert parse_money(text) == (pytest.approx(expected) if expected is not None else None)


LENGTHS = [
    ("1,82 m", False, 182),
    ("1.82m", False, 182),
    ("182cm", False, 182),
    ("182 cm", False, 182),
    ("I'm 182", False, 182),
    ("I’m 1,85", False, 185),
    ("6 foot 1", False, 185.4),
    ("6 ft 1 in", False, 185.4),
    ("6'1", False, 185.4),
    ("6'1\"", False, 185.4),
    ("I'm 6’1″", False, 185.4),
    ("5 ft 11", False, 180.3),
    ("5'11''", False, 180.3),
    ("six foot", False, 182.9),
    ("six foot two", False, 188),
    ("1m82", False, 182),
    ("height: 178", False, 178),
    ("182", True, 182),
    ("1.82", True, 182),
    ("182", False, None),
    ("90", True, None),
    ("1.5k", True, None),
    ("about 2k and I'm 180", True, 180),
    ("nope", True, None),
]


@pytest.mark.parametrize(
    ("text", "bare_ok", "expected"),
    LENGTHS,
    ids=[f"{t}-bare" if b else t for t, b, _ in LENGTHS],
)
def test_parse_length_cm(text: str, bare_ok: bool, expected: float | None) -> None:
    got = parse_length_cm(text, bare_ok=bare_ok)
    assert got == (pytest.approx(expected, abs=0.5) if expected is not None else None)


CUES = [
    ("1.5k", True, False),
    ("2 grand", True, False),
    ("€900", True, False),
    ("budget 1500", True, False),
    ("up to 1800", False, False),
    ("182", False, False),
    ("182cm", False, True),
    ("I'm 182", False, True),
    ("6'1", False, True),
    ("1.5k and 1,82 m", True, True),
]


@pytest.mark.parametrize(("text", "money", "length"), CUES, ids=[t for t, _, _ in CUES])
def test_cues(text: str, money: bool, length: bool) -> None:
    assert (has_money_cue(text), has_length_cue(text)) == (money, length)


@pytest.mark.parametrize("text", JUNK, ids=range(len(JUNK)))
def test_numbers_never_raise(text: str) -> None:
    for value in (parse_money(text), parse_length_cm(text, bare_ok=True)):
        assert value is None or value >= 0


# --- answers ----------------------------------------------------------------------------

SINGLE = [
    ("mostly long weekend rides", "usage", "usage", "endurance"),
    ("I want to race", "usage", "usage", "racing"),
    ("to work and back", "usage", "usage", "commute"),
    ("Long rides and fitness", "usage", "usage", "endurance"),
    ("<b>RACING!!</b> 🏁🏁", None, "usage", "racing"),
    ("total newbie", "experience", "experience", "beginner"),
    ("I've been racing for years", "experience", "experience", "racer"),
    ("none", "experience", "experience", "beginner"),
    ("I've never raced", "experience", "experience", "beginner"),
    ("no, just trainers", "shoes_owned", "shoes_owned", "none"),
    ("no, just trainers", None, "shoes_owned", "none"),
    ("no", "shoes_owned", "shoes_owned", "none"),
    ("I have Look Keo cleats", None, "shoes_owned", "look_keo"),
    ("SPD-SL", None, "shoes_owned", "spd_sl"),
    ("spd_sl", None, "shoes_owned", "spd_sl"),
    ("SPD", "shoes_owned", "shoes_owned", "spd"),
    ("shimano spd-sl please", None, "shoes_owned", "spd_sl"),
    ("I don't have SPD shoes, just trainers", "shoes_owned", "shoes_owned", "none"),
    ("1.5k", "budget", "budget", 1500),
    ("1500", "budget", "budget", 1500),
    ("between 1000 and 1500 euros", None, "budget", 1500),
    ("6 foot 1", "body_height_cm", "body_height_cm", 185.4),
    ("1,82 m", None, "body_height_cm", 182),
    ("182cm", None, "body_height_cm", 182),
    ("182", "body_height_cm", "body_height_cm", 182),
]


@pytest.mark.parametrize(
    ("text", "current", "question", "expected"),
    SINGLE,
    ids=[f"{t} [{c}]" for t, c, _, _ in SINGLE],
)
def test_single_answer(
    parser: AnswerParser, text: str, current: str | None, question: str, expected: Any
) -> None:
    result = parser.parse(text, current=current)
    got = result.answers.get(question)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert got == pytest.approx(expected, abs=0.5)
    assert not result.dont_know


NEWBIE = "I'm a total newbie looking for a road bike for about 1.5k, I'm 1,82 m"
MULTI = [
    (NEWBIE, None, {"experience": "beginner", "budget": 1500, "body_height_cm": 182}),
    (NEWBIE, "usage", {"experience": "beginner", "budget": 1500, "body_height_cm": 182}),
    (NEWBIE, "shoes_owned", {"experience": "beginner", "budget": 1500, "body_height_cm": 182}),
    ("I'm 182 and my budget is 1500", None, {"budget": 1500, "body_height_cm": 182}),
    (
        "commuting, 2 grand, 6'1, SPD shoes",
        "usage",
        {"usage": "commute", "budget": 2000, "body_height_cm": 185.4, "shoes_owned": "spd"},
    ),
    ("not racing, just long rides", "usage", {"usage": "endurance"}),
    ("an endurance bike for long rides", None, {"usage": "endurance"}),
    # The product's own name does not answer a question.
    ("looking for a racing bike", None, {}),
    ("no racing", None, {}),
    ("I'm not a racer", "experience", {}),
    # Stop-word phrases and phrases of several questions need the current question.
    ("none", None, {}),
    ("no", "usage", {}),
    ("not much", None, {}),
    ("not much", "experience", {"experience": "beginner"}),
    # A number without a unit answers only the current number question.
    ("1500", "usage", {}),
    ("182", None, {}),
    ("I'm 182", "budget", {"body_height_cm": 182}),
    ("riding for 5 years", "budget", {}),
    # A cue divides the text between questions of one unit: height, then the inseam.
    ("I'm 182 cm, inseam 84", None, {"body_height_cm": 182, "inseam_cm": 84}),
    ("1,82 m, inseam 84 cm", "body_height_cm", {"body_height_cm": 182, "inseam_cm": 84}),
    ("inseam 84", None, {"inseam_cm": 84}),
    ("inseam is 84 and I'm 6 foot", "inseam_cm", {"inseam_cm": 84, "body_height_cm": 182.9}),
    # The longest phrase owns its words: "no experience" is not the "no" of shoes.
    ("no experience", "shoes_owned", {"experience": "beginner"}),
]


@pytest.mark.parametrize(
    ("text", "current", "expected"), MULTI, ids=[f"{t} [{c}]" for t, c, _ in MULTI]
)
def test_answers(
    parser: AnswerParser, text: str, current: str | None, expected: dict[str, Any]
) -> None:
    answers = parser.parse(text, current=current).answers
    assert answers.keys() == expected.keys()
    for key, value in expected.items():
        assert answers[key] == (value if isinstance(value, str) else pytest.approx(value, abs=0.5))


OUT_OF_RANGE = [
    ("my budget is 50 euros", None, "budget", 50),
    ("182", "budget", "budget", 182),
    ("50k", "budget", "budget", 50_000),
    ("I'm 90 cm", None, "body_height_cm", 90),
    ("2.5 m", "body_height_cm", "body_height_cm", 250),
]


@pytest.mark.parametrize(
    ("text", "current", "question", "value"),
    OUT_OF_RANGE,
    ids=[f"{t} [{c}]" for t, c, _, _ in OUT_OF_RANGE],
)
def test_out_of_range(
    parser: AnswerParser, text: str, current: str | None, question: str, value: float
) -> None:
    result = parser.parse(text, current=current)
    assert result.rejected == {question: "out_of_range"}
    assert result.rejected_values[question] == pytest.approx(value)
    assert question not in result.answers


DONT_KNOW = [
    ("no idea", "shoes_owned", True),
    ("I don't know", "usage", True),
    ("not sure tbh", "experience", True),
    ("skip", "budget", True),
    ("whatever", "usage", True),
    ("dunno 🤷", "body_height_cm", True),
    ("no idea", None, True),
    ("not sure, maybe 1500", "budget", False),
    ("I don't know, commuting I guess", "usage", False),
    ("racing", "usage", False),
]


@pytest.mark.parametrize(
    ("text", "current", "expected"), DONT_KNOW, ids=[f"{t} [{c}]" for t, c, _ in DONT_KNOW]
)
def test_dont_know(parser: AnswerParser, text: str, current: str | None, expected: bool) -> None:
    result = parser.parse(text, current=current)
    assert result.dont_know is expected
    if expected:
        assert result.answers == {}


@pytest.mark.parametrize("current", [None, "usage", "budget", "body_height_cm", "nonexistent"])
@pytest.mark.parametrize("text", JUNK, ids=range(len(JUNK)))
def test_junk_gives_empty_result(parser: AnswerParser, text: str, current: str | None) -> None:
    result = parser.parse(text, current=current)
    assert result.answers == {} and not result.dont_know
    assert parser.find_term(text) is None


def test_parse_result_is_frozen(parser: AnswerParser) -> None:
    result = parser.parse("racing", current=None)
    assert isinstance(result, ParseResult) and not result.empty
    assert ParseResult().empty
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.dont_know = True  # type: ignore[misc]


# --- boolean questions and other rule sets -----------------------------------------------

QUESTIONS = [
    Question(id="has_lights", text="Do you have lights?", type="boolean"),
    Question(id="budget", text="Budget?", type="number", unit="EUR", min=100, max=5000),
    Question(
        id="colour",
        text="Colour?",
        type="choice",
        options=[
            {"id": "dark_blue", "label": "Dark blue", "synonyms": ["navy"]},
            {"id": "blue", "label": "Blue"},
        ],
    ),
]
BOOLEAN = [
    ("yes", True),
    ("Yeah!", True),
    ("yep, sure", True),
    ("of course", True),
    ("no", False),
    ("nope", False),
    ("nah", False),
    ("not really", False),
    ("no idea", None),
    ("banana", None),
]


@pytest.mark.parametrize(("text", "expected"), BOOLEAN, ids=[t for t, _ in BOOLEAN])
def test_boolean_current(text: str, expected: bool | None) -> None:
    parser = AnswerParser(QUESTIONS)
    assert parser.parse(text, current="has_lights").answers.get("has_lights") == expected
    # Yes and no answer nothing unless a boolean question was just asked.
    assert "has_lights" not in parser.parse(text, current="colour").answers


OPTION_TIES = [
    ("dark blue", "dark_blue"),  # longest match wins over "blue"
    ("navy or blue", "dark_blue"),  # tied length: first in the text wins
    ("blue, not navy", "blue"),
]


@pytest.mark.parametrize(("text", "expected"), OPTION_TIES, ids=[t for t, _ in OPTION_TIES])
def test_option_ties(text: str, expected: str) -> None:
    assert AnswerParser(QUESTIONS).parse(text, current=None).answers == {"colour": expected}


TERMS = [
    ("what is SPD?", "SPD"),
    ("what does geometry mean", "geometry"),
    ("explain cleats", "cleats"),
    ("what's SPD-SL?", "SPD-SL"),
    ("what are frame sizes", "frame size"),
    ("hello there", None),
]


@pytest.mark.parametrize(("text", "term"), TERMS, ids=[t for t, _ in TERMS])
def test_find_term(parser: AnswerParser, text: str, term: str | None) -> None:
    entry = parser.find_term(text)
    assert (entry.term if entry else None) == term


def test_parser_from_questions_and_glossary(road_bike: RuleSet) -> None:
    glossary = [GlossaryEntry(term="chainring", text="The front gear.")]
    parser = AnswerParser(road_bike.questions, glossary)
    assert parser.parse("SPD-SL", current=None).answers == {"shoes_owned": "spd_sl"}
    entry = parser.find_term("what is a chainring?")
    assert entry is not None and entry.term == "chainring"
    assert AnswerParser(road_bike.questions).find_term("what is SPD") is None


RULE_SETS = [
    ("I want a road bike", "road_bike"),
    ("looking for a racing bike", "road_bike"),
    ("Road Bikes please!", "road_bike"),
    ("I need a mountain bike", "mtb"),
    ("a new MTB", "mtb"),
    ("not a road bike, a mountain bike", "mtb"),
    ("I want a bike", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), RULE_SETS, ids=[t or "empty" for t, _ in RULE_SETS])
def test_rule_set_for(road_bike: RuleSet, text: str, expected: str | None) -> None:
    mtb = road_bike.model_copy(
        update={
            "id": "mtb",
            "title": "Mountain bike",
            "category": "mountain_bike",
            "synonyms": ["mtb"],
        }
    )
    assert rule_set_for(text, [road_bike, mtb]) == expected


# Negated phrasings, each answered to the question it concerns: the negated option is
# never recorded, and what the shopper did say still is.
NEGATED = [
    ("nothing competitive", "experience", "experience", "racer", None),
    ("nothing too competitive, just fun", "experience", "experience", "racer", None),
    ("neither racing nor fast", "usage", "usage", "racing", None),
    ("anything but racing", "usage", "usage", "racing", None),
    ("everything except racing", "usage", "usage", "racing", None),
    ("racing? no way", "usage", "usage", "racing", None),
    ("racing - no thanks, long rides", "usage", "usage", "racing", "endurance"),
    ("not a racer", "experience", "experience", "racer", None),
    ("I'm not a racer", "experience", "experience", "racer", None),
    ("I wouldn't say I'm experienced", "experience", "experience", "racer", None),
    ("I wouldnt say Im experienced", "experience", "experience", "racer", None),
    ("I don't want to race", "usage", "usage", "racing", None),
    ("no interest in racing, I commute", "usage", "usage", "racing", "commute"),
    ("not racing but long rides", "usage", "usage", "racing", "endurance"),
    ("I never race, I ride to work", "usage", "usage", "racing", "commute"),
    ("spd? nope", "shoes_owned", "shoes_owned", "spd", "none"),
    ("I don't have SPD shoes", "shoes_owned", "shoes_owned", "spd", "none"),
]


@pytest.mark.parametrize(
    ("text", "current", "question", "refused", "kept"), NEGATED, ids=[t for t, *_ in NEGATED]
)
def test_parse_negated_option_is_not_recorded(
    parser: AnswerParser,
    text: str,
    current: str,
    question: str,
    refused: str,
    kept: str | None,
) -> None:
    answers = parser.parse(text, current=current).answers
    assert answers.get(question) != refused, answers
    assert answers.get(question) == kept, answers


# Doubt is not a refusal, and a refusal of one thing does not swallow the next.
NOT_NEGATED = [
    ("not sure, maybe racing", "usage", "usage", "racing"),
    ("don't know maybe racing", "usage", "usage", "racing"),
    ("no, racing", "usage", "usage", "racing"),
    ("no I want racing", "usage", "usage", "racing"),
    ("no idea, I guess experienced", "experience", "experience", "racer"),
    ("not a beginner, I'm experienced", "experience", "experience", "racer"),
    ("racing, no SPD shoes though", "usage", "usage", "racing"),
]


@pytest.mark.parametrize(
    ("text", "current", "question", "option"), NOT_NEGATED, ids=[t for t, *_ in NOT_NEGATED]
)
def test_parse_doubt_or_other_clause_keeps_the_option(
    parser: AnswerParser, text: str, current: str, question: str, option: str
) -> None:
    assert parser.parse(text, current=current).answers.get(question) == option


def _with_material(road_bike: RuleSet) -> AnswerParser:
    material = Question.model_validate(
        {
            "id": "frame_material",
            "text": "Which frame material would you like?",
            "type": "choice",
            "options": [
                {"id": "carbon", "label": "Carbon", "synonyms": ["carbon", "carbon fibre"]},
                {"id": "aluminium", "label": "Aluminium", "synonyms": ["aluminium", "alu"]},
            ],
        }
    )
    return AnswerParser(
        road_bike.model_copy(update={"questions": [*road_bike.questions, material]})
    )


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("carbon? no way", None),
        ("no carbon", None),
        ("no carbon, alu is fine", "aluminium"),
        ("carbon is not for me", None),
        ("I don't need carbon", None),
        ("carbon please", "carbon"),
    ],
    ids=["no-way", "no-carbon", "alu-instead", "not-for-me", "dont-need", "carbon-please"],
)
def test_parse_refused_material(road_bike: RuleSet, text: str, kept: str | None) -> None:
    answers = _with_material(road_bike).parse(text, current="frame_material").answers
    assert answers.get("frame_material") == kept, answers


@pytest.mark.parametrize(
    "text", ["nothing competitive", "neither racing nor fast"], ids=["nothing", "neither-nor"]
)
def test_parse_negated_option_is_not_an_answer(parser: AnswerParser, text: str) -> None:
    assert parser.parse(text).answers.get("experience") != "racer"
    assert parser.parse(text).answers.get("usage") != "racing"


# A topic word ("cycling", a word of the rule set's names) stands in for the pronoun of a
# synonym ("new to it"); other words do not.
STAND_INS = [
    ("I'm new to cycling", "beginner"),
    ("new to road cycling", "beginner"),
    ("pretty new to the sport", "beginner"),
    ("I'm new to road bikes", "beginner"),
    ("new to it", "beginner"),
    ("I'm not new to cycling", None),
    ("new to the area", None),
    ("anything new to recommend?", None),
]


@pytest.mark.parametrize(("text", "expected"), STAND_INS, ids=[t for t, _ in STAND_INS])
def test_parse_topic_word_stands_in_for_pronoun(
    parser: AnswerParser, text: str, expected: str | None
) -> None:
    assert parser.parse(text, current="experience").answers.get("experience") == expected


def test_parse_stand_in_with_other_answers(parser: AnswerParser) -> None:
    answers = parser.parse("I'm new to cycling and want something for long rides").answers
    assert answers == {"experience": "beginner", "usage": "endurance"}


# One edit in a word of six or more letters that no dictionary knows.
TYPOS = [
    ("total beginer", "experience", "beginner"),
    ("comuting", "usage", "commute"),
    ("exprienced", "experience", "racer"),
    ("I'm a complete beginner", "usage", None),  # "complete" is a word, not "compete"
    ("begginer", "experience", None),  # two edits
    ("rase", "usage", None),  # short words match exactly or not at all
]


@pytest.mark.parametrize(("text", "question", "expected"), TYPOS, ids=[t for t, *_ in TYPOS])
def test_parse_one_typo_in_a_long_word(
    parser: AnswerParser, text: str, question: str, expected: str | None
) -> None:
    assert parser.parse(text, current=question).answers.get(question) == expected
