"""Free-text answer parsing: numbers, option phrases, glossary terms and rule-set choice.

Pure Python over a blank spaCy pipeline; no Rasa imports, so the action server and the
tests share it.
"""

from product_rules.parsing.numbers import (
    has_length_cue,
    has_money_cue,
    parse_length_cm,
    parse_money,
)
from product_rules.parsing.parser import AnswerParser, AnswerValue, ParseResult, rule_set_for

__all__ = [
    "AnswerParser",
    "AnswerValue",
    "ParseResult",
    "has_length_cue",
    "has_money_cue",
    "parse_length_cm",
    "parse_money",
    "rule_set_for",
]
