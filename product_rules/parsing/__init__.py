"""Free-text answer parsing: numbers, option phrases, glossary terms and rule-set choice.

Pure Python over blank spaCy pipelines (English and German); no Rasa imports, so the
action server and the tests share it. The language is passed per call:
``parser.parse(text, current=..., language="de")``, ``rule_set_for(text, rule_sets,
language="de")``, ``parser.find_term(text, language="de")``; it defaults to English.
"""

from product_rules.parsing.languages import LANGUAGES, UnsupportedLanguageError
from product_rules.parsing.numbers import (
    has_length_cue,
    has_money_cue,
    parse_length_cm,
    parse_money,
)
from product_rules.parsing.parser import AnswerParser, AnswerValue, ParseResult, rule_set_for

__all__ = [
    "LANGUAGES",
    "AnswerParser",
    "AnswerValue",
    "ParseResult",
    "UnsupportedLanguageError",
    "has_length_cue",
    "has_money_cue",
    "parse_length_cm",
    "parse_money",
    "rule_set_for",
]
