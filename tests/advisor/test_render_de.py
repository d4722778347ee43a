"""Every chat template in German: no English left; the English wording unchanged.

Each template is rendered with a realistic context (the shipped road-bike rule set in
the render's language, offers as the engine makes them) in both languages. A German
render may contain no word of the English source messages that German does not share
("Budget", "SPD"); the English renders are pinned word for word (``render_en.json``).
A template with no case here fails the test: a new one must be added with its German.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from advisor.render import LOCALE_DIR, TEMPLATES, render
from product_rules.i18n import LOCALE_DIR as RULES_LOCALE_DIR
from product_rules.i18n import decimal, quantity
from product_rules.loader import load_all
from product_rules.schema import RuleSet
from product_rules.text import money, speaking
from tests.conftest import RULES

_LOADED = load_all(RULES)[0]
PO = LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po"
WORD = re.compile(r"[A-Za-zÄÖÜäöüß'-]+")


def _ruleset(ruleset_id: str, language: str) -> RuleSet:
    return _LOADED[ruleset_id].localized(language).ruleset


def _words(text: str) -> set[str]:
    return {w.lower().strip("'") for w in WORD.findall(text) if len(w.strip("'")) > 2}


def _english_only_words() -> set[str]:
    """Words of the English messages that are no German word of the catalogue."""
    catalog = read_po(PO.open("rb"))
    english: set[str] = set()
    german: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for source in ids:
            english |= _words(re.sub(r"%\(\w+\)s", " ", str(source)))
        for translated in strings:
            german |= _words(str(translated or ""))
    return english - german


ENGLISH_ONLY = _english_only_words()


def _offers(language: str) -> list[dict[str, Any]]:
    joined = " mit " if language == "de" else " with "
    return [
        {
            "rank": 1,
            "title": f"Canyon Endurace 7{joined}Shimano PD-M520",
            "total_price": 1449.0,
            "currency": "EUR",
            "reasons": ["182 cm: Rahmen 56 cm" if language == "de" else "182 cm: frame 56 cm"],
        },
        {
            "rank": 2,
            "title": "Cube Attain SL",
            "total_price": 1299.5,
            "currency": "EUR",
            "reasons": [
                "Plattformpedale inklusive" if language == "de" else "flat pedals included"
            ],
        },
    ]


def _relaxed(language: str) -> list[str]:
    """A loosened budget as the engine says it (``Wish.describe``) in ``language``."""
    label = _ruleset("road_bike", language).filters[0].label
    if language == "de":
        return [f"{label}: bis 1.380 € statt 1.200 €"]
    return [f"{label}: up to {money(1380, language='en')} instead of {money(1200, language='en')}"]


Context = Callable[[str], dict[str, Any]]


def _question(question_id: str) -> Context:
    return lambda language: {"question": _ruleset("road_bike", language).question(question_id)}


def _answer(question_id: str, value: Any, ruleset_id: str = "road_bike") -> Context:
    def context(language: str) -> dict[str, Any]:
        question = _ruleset(ruleset_id, language).question(question_id)
        assert question is not None
        option = question.option(str(value)) if question.type == "choice" else None
        return {"question": question, "value": value, "option": option}

    return context


def _offers_context(**overrides: Any) -> Context:
    def context(language: str) -> dict[str, Any]:
        cross_sell = [
            {"name": "Abus Aduro 2.1", "category": "helmet", "price": 59.9},
            {"name": "Elite Custom Race", "category": "bottle_cage", "price": 9.0},
        ]
        base: dict[str, Any] = {
            "offers": _offers(language),
            "relaxed": [],
            "relaxation": None,
            "cross_sell": cross_sell,
            "title": _ruleset("road_bike", language).title,
        }
        for key, value in overrides.items():
            base[key] = value(language) if callable(value) else value
        return base

    return context


def _relaxation(language: str) -> dict[str, Any]:
    ruleset = _ruleset("road_bike", language)
    labels = [f.label for f in ruleset.filters[:2]]
    return {
        "unmet": labels,
        "choices": [
            {"relax": _relaxed(language), "count": 1, "applied": True},
            {
                "relax": [f"{'ohne' if language == 'de' else 'without'} {labels[1]}"],
                "count": 120,
                "applied": False,
            },
        ],
    }


def _glossary(language: str) -> dict[str, Any]:
    ruleset = _ruleset("road_bike", language)
    return {"entry": ruleset.glossary[0], "question": ruleset.question("usage")}


def _rulesets(**extra: Any) -> Context:
    def context(language: str) -> dict[str, Any]:
        rulesets = [_ruleset(key, language) for key in sorted(_LOADED)]
        return {"rulesets": rulesets, "greeting": False, "heard": "", **extra}

    return context


def _nothing(language: str) -> dict[str, Any]:
    return {}


def _understood(language: str) -> dict[str, Any]:
    said = (
        ["Budget 1.500 €", "182 cm groß"] if language == "de" else ["budget €1,500", "182 cm tall"]
    )
    return {"understood": said}


def _question_turn(language: str) -> dict[str, Any]:
    ruleset = _ruleset("road_bike", language)
    said = "Verstanden: Budget 1.500 €." if language == "de" else "Got it: budget €1,500."
    return {"question": ruleset.question("budget"), "intro": ruleset.intro, "acknowledgement": said}


def _choice(language: str) -> dict[str, Any]:
    return {"choice": _relaxation(language)["choices"][1]}


def _with(context: Context, **extra: Any) -> Context:
    return lambda language: {**context(language), **extra}


#: (template, case, the context in a language). Every template needs at least one.
CASES: list[tuple[str, str, Context]] = [
    ("acknowledge", "two", _understood),
    ("answer", "choice", _answer("usage", "racing")),
    ("answer", "budget", _answer("budget", 1500.0)),
    ("answer", "height", _answer("body_height_cm", 182.0)),
    ("answer", "inseam", _answer("inseam_cm", 87.0)),
    ("answer", "no-preference", _answer("budget", None)),
    ("answer", "no-preference-inseam", _answer("inseam_cm", None)),
    ("answer", "yes", _answer("carry_bike", True, "city_bike")),
    ("answer", "no", _answer("carry_bike", False, "city_bike")),
    ("button_no", "-", _nothing),
    ("button_not_sure", "-", _nothing),
    ("button_yes", "-", _nothing),
    ("code_ask", "-", _nothing),
    ("code_expired", "-", _rulesets()),
    ("code_unknown", "-", _rulesets()),
    ("explain_term", "with-question", _glossary),
    ("explain_term", "alone", _with(_glossary, question=None)),
    ("failure", "-", _nothing),
    ("greet_again", "-", _question("usage")),
    ("handoff", "code", _with(_question("budget"), code="K7QX3M", minutes=10)),
    ("handoff", "code-one-minute", _with(_question("budget"), code="K7QX3M", minutes=1)),
    ("handoff", "no-code", _with(_question("budget"), code=None, minutes=None)),
    ("handoff", "no-question", lambda language: {"question": None, "code": None, "minutes": None}),
    ("language_switched", "-", _nothing),
    ("not_understood", "choice", _question("usage")),
    ("not_understood", "money", _question("budget")),
    ("not_understood", "length", _question("body_height_cm")),
    ("not_understood", "no-question", lambda language: {"question": None}),
    ("offers", "two", _offers_context()),
    (
        "offers",
        "one",
        _offers_context(offers=lambda language: _offers(language)[:1], cross_sell=[]),
    ),
    ("offers", "relaxed", _offers_context(relaxed=_relaxed)),
    ("offers", "ways-out", _offers_context(relaxation=_relaxation)),
    ("offers", "none", _offers_context(offers=[])),
    ("out_of_range", "money", _with(_question("budget"), value=50.0)),
    ("out_of_range", "length", _with(_question("body_height_cm"), value=300.0)),
    ("out_of_scope", "question", _question("usage")),
    ("out_of_scope", "no-question", lambda language: {"question": None}),
    ("question", "intro", _question_turn),
    ("question", "plain", _with(_question("usage"), intro=None, acknowledgement=None)),
    ("rating_closed", "-", _nothing),
    ("rating_thanks", "changeable", lambda language: {"changeable": True}),
    ("rating_thanks", "final", lambda language: {"changeable": False}),
    ("relax_button", "-", _choice),
    ("restart", "-", _rulesets()),
    ("resumed", "-", _nothing),
    ("unavailable", "-", _nothing),
    ("which_product", "greeting", _rulesets(greeting=True)),
    ("which_product", "heard", _rulesets(heard="lange Touren")),
    (
        "why_offers",
        "relaxed",
        lambda language: {"offers": _offers(language), "relaxed": _relaxed(language)},
    ),
    ("why_offers", "plain", lambda language: {"offers": _offers(language), "relaxed": []}),
    ("why_question", "why", _question("usage")),
    (
        "why_question",
        "no-why",
        lambda language: {
            "question": _question("usage")(language)["question"].model_copy(update={"why": None})
        },
    ),
]


#: The English renders, word for word (``{€1500}``: the amount as English prices are written).
ENGLISH: dict[str, str] = json.loads((Path(__file__).parent / "render_en.json").read_text("utf-8"))


def _prices(text: str) -> str:
    return re.sub(r"\{€([\d.]+)\}", lambda m: money(float(m[1]), language="en"), text)


IDS = [f"{template}/{case}" for template, case, _ in CASES]


def test_every_chat_template_has_a_case() -> None:
    templates = {path.stem for path in (TEMPLATES / "chat").glob("*.j2")}
    assert templates == {template for template, _, _ in CASES}


@pytest.mark.parametrize(("template", "case", "context"), CASES, ids=IDS)
def test_english_render_is_unchanged(template: str, case: str, context: Context) -> None:
    assert render(template, language="en", **context("en")) == _prices(
        ENGLISH[f"{template}/{case}"]
    )


@pytest.mark.parametrize(("template", "case", "context"), CASES, ids=IDS)
def test_german_render_has_no_english(template: str, case: str, context: Context) -> None:
    german = render(template, language="de", **context("de"))
    assert german, "a German render says something"
    english = render(template, language="en", **context("en"))
    if english not in ("", "SPD"):
        assert german != english
    leaked = sorted(_words(german) & ENGLISH_ONLY)
    assert not leaked, f"English words {leaked} in:\n{german}"


def test_german_render_follows_the_current_language() -> None:
    """Without ``language=``, a render speaks the language of the step under way."""
    with speaking("de"):
        assert render("restart") == "Kein Problem, fangen wir von vorn an. Was suchst du?"
    assert render("restart") == "No problem, let's start over. What are you looking for?"


@pytest.mark.parametrize(
    ("minutes", "english", "german"),
    [
        (1, "within 1 minute.", "innerhalb von 1 Minute."),
        (5, "within 5 minutes.", "innerhalb von 5 Minuten."),
    ],
)
def test_handoff_minutes_in_singular_and_plural(minutes: int, english: str, german: str) -> None:
    context = {"question": None, "code": "K7QX3M", "minutes": minutes}
    assert english in render("handoff", language="en", **context)
    assert german in render("handoff", language="de", **context)


@pytest.mark.parametrize(
    ("value", "unit", "digits", "english", "german"),
    [
        (182, "cm", 0, "182 cm", "182 cm"),
        (1.82, "m", 2, "1.82 m", "1,82 m"),
        (8.5, "kg", 1, "8.5 kg", "8,5 kg"),
        (500, "Wh", 0, "500 Wh", "500 Wh"),
        (2000, None, 0, "2000", "2000"),
    ],
)
def test_quantities_in_each_language(
    value: float, unit: str | None, digits: int, english: str, german: str
) -> None:
    with speaking("en"):
        assert quantity(value, unit, digits=digits) == english
    with speaking("de"):
        assert quantity(value, unit, digits=digits) == german
        assert decimal(1.5) == "1,5"


def test_loosened_wishes_and_offer_titles_in_german() -> None:
    """The engine's own words come from product_rules' catalogue in the current language."""
    from tests.product_rules.test_relaxation import BUDGET, SIZE

    with speaking("de"):
        assert BUDGET.at(1).describe() == "budget: bis 1.380 € statt 1.200 €"
        assert SIZE.at(1).describe() == "size: 54 bis 58 cm statt genau 56 cm"
    with speaking("en"):
        assert SIZE.at(1).describe() == "size: 54 to 58 cm instead of exactly 56 cm"


def test_committed_rules_mo_matches_po() -> None:
    po = RULES_LOCALE_DIR / "de" / "LC_MESSAGES" / "product_rules.po"
    compiled = BytesIO()
    write_mo(compiled, read_po(po.open("rb")))
    assert po.with_suffix(".mo").read_bytes() == compiled.getvalue(), "run pybabel compile"


def test_rules_catalogue_is_complete() -> None:
    po = RULES_LOCALE_DIR / "de" / "LC_MESSAGES" / "product_rules.po"
    missing = [m.id for m in read_po(po.open("rb")) if m.id and (not m.string or m.fuzzy)]
    assert not missing


def test_advisor_catalogue_is_complete() -> None:
    catalog = read_po(PO.open("rb"))
    missing = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    ]
    assert not missing
