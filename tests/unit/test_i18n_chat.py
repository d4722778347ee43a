from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from advisor.render import LOCALE_DIR, render
from advisor.service import language_asked
from advisor.state import ConversationState
from product_rules.text import money, render_text

PO = LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po"


def test_committed_mo_matches_po() -> None:
    compiled = BytesIO()
    write_mo(compiled, read_po(PO.open("rb")))
    assert PO.with_suffix(".mo").read_bytes() == compiled.getvalue(), "run pybabel compile"


def test_german_money_and_reasons() -> None:
    assert money(1500, language="de") == "1.500 €"
    assert money(49.9, language="de") == "49,90 €"
    assert money(1500) == "€1,500"
    assert render_text("bis {{ 2000 | money }}", language="de") == "bis 2.000 €"


def test_offers_in_german_with_plural() -> None:
    offers = [{"rank": i, "title": "X", "total_price": 1500, "currency": "EUR"} for i in (1, 2, 3)]
    text = render(
        "offers",
        language="de",
        offers=offers,
        relaxed=[],
        relaxation=None,
        cross_sell=[],
        title="R",
    )
    assert text.startswith("Hier sind meine 3 besten Vorschläge, fahrbereit:")
    assert "1.500 €" in text
    one = render(
        "offers",
        language="de",
        offers=offers[:1],
        relaxed=[],
        relaxation=None,
        cross_sell=[],
        title="R",
    )
    assert one.startswith("Hier ist mein bester Vorschlag")


def test_relaxation_in_german() -> None:
    relaxation = {
        "unmet": ["Budget", "Rahmen"],
        "choices": [{"relax": ["ohne Rahmen"], "count": 1, "applied": False}] * 2,
    }
    text = render(
        "offers",
        language="de",
        offers=[],
        relaxed=[],
        relaxation=relaxation,
        cross_sell=[],
        title="R",
    )
    assert text.startswith("Nicht alles lässt sich zugleich erfüllen: Budget und Rahmen. Auswege:")
    assert "1 Modell" in text


def test_language_phrases_and_old_states() -> None:
    assert language_asked("Auf Deutsch bitte") == "de"
    assert language_asked("English please") == "en"
    assert language_asked("a road bike") is None
    state = ConversationState.from_dict({"language": "de"})
    assert state.language == "de" and state.language_chosen is False
