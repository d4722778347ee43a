"""A bare "no" answers the open question only alone or before the question's own words.

"Do you have cycling shoes with cleats?" "no carbon": the "no" negates carbon, it does not
say "no shoes" (the question is asked again). The real road-bike rule set in both languages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from product_rules.loader import load_all
from product_rules.parsing import AnswerParser

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"


@pytest.fixture(scope="module")
def parsers() -> dict[str, AnswerParser]:
    loaded, _ = load_all(RULES)
    return {
        language: AnswerParser(
            loaded["road_bike"].localized(language).ruleset, languages=(language,)
        )
        for language in ("en", "de")
    }


CASES = {
    "en": [
        ("no carbon", None),
        ("no problem", None),
        ("no racing please", None),
        ("no", "none"),
        ("no shoes", "none"),
        ("no thanks", "none"),
        ("none really", "none"),
        ("none yet", "none"),
        ("no, carbon", "none"),
        ("no I don't", "none"),
        ("no cleats", "none"),
        ("SPD", "spd"),
    ],
    "de": [
        ("nein Carbon", None),
        ("keine Rennen", None),
        ("kein Problem", None),
        ("nein", "none"),
        ("keine", "none"),
        ("keine Schuhe", "none"),
        ("keine Klickschuhe", "none"),
        ("nein danke", "none"),
        ("nein, normale Schuhe", "none"),
        ("nein ich habe keine", "none"),
        ("Rennradschuhe", "spd_sl"),
    ],
}


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [(language, text, expected) for language, cases in CASES.items() for text, expected in cases],
)
def test_parse_no_answers_shoes_only_alone_or_before_shoe_words(
    parsers: dict[str, AnswerParser], language: str, text: str, expected: str | None
) -> None:
    answers = parsers[language].parse(text, current="shoes_owned", language=language).answers
    assert answers.get("shoes_owned") == expected, (text, answers)
