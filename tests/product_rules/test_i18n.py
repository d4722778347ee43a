"""Findings, edit errors and attribute labels in German: product_rules' own catalogue.

A merchandiser reads ``product-rules check`` and the rule editor in German or English;
positions, rule ids, attribute names and values stay as written in the rule files. The
English wording is what the other tests assert (``test_checks.py``, ``test_cli.py`` …).
"""

from __future__ import annotations

import copy
import pickle
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from product_rules.cli import main
from product_rules.errors import RuleSetError
from product_rules.i18n import LOCALE_DIR, Message, lazy_gettext, lazy_ngettext, localized
from product_rules.loader import load_ruleset
from product_rules.rule_edits import Edit, EditError, apply_edits
from product_rules.text import speaking
from product_rules.vocabulary import attributes, export
from tests.conftest import RULES

PACKAGE = Path(__file__).resolve().parents[2] / "product_rules"
PO = LOCALE_DIR / "de" / "LC_MESSAGES" / "product_rules.po"


def _broken(tmp_path: Path, file: str, old: str, new: str) -> tuple[Path, int]:
    """A copy of the road bike rules with ``old`` replaced in ``file``, and its line."""
    target = tmp_path / "rules"
    shutil.copytree(RULES / "road_bike", target / "road_bike")
    path = target / "road_bike" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if new in row)
    return target, line


def _problems(rules: Path) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        load_ruleset(rules / "road_bike", root=rules.parent)
    with speaking("de"):
        return [str(p) for p in caught.value.problems]


# -- the lazy message ------------------------------------------------------------------------


def test_message_is_its_english_text_and_says_itself_in_german() -> None:
    message = lazy_gettext("unknown attribute {attribute!r}").format(attribute="frame_sise")
    assert message == "unknown attribute 'frame_sise'" and isinstance(message, str)
    assert message.localized("de") == "unbekanntes Attribut 'frame_sise'"
    assert message.localized("en") == "unknown attribute 'frame_sise'"
    with speaking("de"):
        assert localized(message) == "unbekanntes Attribut 'frame_sise'"
    assert localized("plain text", "de") == "plain text", "a plain str stays as it is"


def test_message_placeholders_that_are_messages_are_translated_too() -> None:
    subject = lazy_gettext("filter {filter!r} never applies").format(filter="budget")
    message = lazy_gettext("{subject}: {key} can never hold").format(subject=subject, key="when")
    assert message == "filter 'budget' never applies: when can never hold"
    assert message.localized("de") == "Filter 'budget' greift nie: when kann nie zutreffen"


def test_message_plural_and_copies_keep_the_msgid() -> None:
    one = lazy_ngettext(
        "{count} {category} product ({attribute} {shown}) can never be offered: {reason} {shown}",
        "{count} {category} products ({attribute} {shown}) can never be offered: {reason} {shown}",
        2,
    ).format(category="road_bike", attribute="frame_size_cm", shown="62", reason="x")
    assert one.startswith("2 road_bike products (frame_size_cm 62)")
    assert one.localized("de").startswith("2 Produkte der Kategorie road_bike")
    for copied in (pickle.loads(pickle.dumps(one)), copy.deepcopy(one)):
        assert isinstance(copied, Message) and copied == one
        assert copied.localized("de") == one.localized("de")


# -- findings in German ----------------------------------------------------------------------


def test_unknown_attribute_in_german_keeps_names_and_position(tmp_path: Path) -> None:
    rules, line = _broken(
        tmp_path, "filters.yml", "attribute: frame_size_cm", "attribute: frame_sise"
    )
    assert (
        f"road_bike/filters.yml:{line}:16: unbekanntes Attribut 'frame_sise', "
        "meinten Sie 'frame_size_cm'?"
    ) in "\n".join(_problems(rules))


def test_bad_value_in_german(tmp_path: Path) -> None:
    rules, line = _broken(tmp_path, "filters.yml", "racing: [race, aero]", "racing: [race, aerro]")
    found = [p for p in _problems(rules) if f"filters.yml:{line}:" in p]
    assert found == [
        f"rules/road_bike/filters.yml:{line}:22: 'aerro' ist kein Wert von geometry "
        "(race, endurance, aero, allroad, comfort, trail), meinten Sie 'aero'?"
    ]


def test_missing_translation_in_german(tmp_path: Path) -> None:
    ruleset = (RULES / "road_bike" / "ruleset.yml").read_text(encoding="utf-8")
    title = next(row for row in ruleset.splitlines() if row.startswith("title:"))
    rules, line = _broken(tmp_path, "ruleset.yml", title, "title: Road bike")
    loaded = load_ruleset(rules / "road_bike", root=rules.parent)
    [problem] = loaded.missing
    assert problem.message == "missing German translation (de) of title 'Road bike'"
    assert problem.text("de") == (
        f"rules/road_bike/ruleset.yml:{line}:8: "
        "deutsche Übersetzung (de) fehlt für title 'Road bike'"
    )


def test_schema_errors_in_german_where_we_know_pydantic_s_words(tmp_path: Path) -> None:
    rules, line = _broken(tmp_path, "filters.yml", "importance: ", "importanc: ")
    found = "\n".join(_problems(rules))
    assert (
        f"filters.yml:{line}:16: unbekannter Schlüssel 'importanc', meinten Sie 'importance'?"
    ) in found


def test_condition_findings_in_german(tmp_path: Path) -> None:
    rules, line = _broken(
        tmp_path, "questions.yml", 'ask_if: "experience ==', 'ask_if: "experiense =='
    )
    found = "\n".join(_problems(rules))
    assert (
        f"questions.yml:{line}:13: unbekannter Name 'experiense' in der Bedingung, "
        "meinten Sie 'experience'?"
    ) in found


def test_persona_and_draft_findings_in_german() -> None:
    """The editor checks the persona files and the draft's file names too."""
    from product_rules.drafts import check_files
    from product_rules.publishing import read_files

    files = read_files(RULES / "road_bike")
    files["personas.yml"] = files["personas.yml"].replace(
        "experience: beginner, budget: 1500", "experience: beginer, budget: 1500", 1
    )
    [problem] = check_files(files)
    assert problem.message_in("de").startswith(
        "'beginer' ist keine Option der Frage 'experience' (beginner, "
    )
    assert problem.suggestion == "beginner"
    [named] = check_files({"../x.yml": "id: x"})
    assert named.message_in("de") == (
        "'../x.yml' ist kein Regeldateiname (Buchstaben, Ziffern, _ oder -, .yml)"
    )


# -- the command line ------------------------------------------------------------------------


def test_check_with_language_de_writes_german_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, line = _broken(
        tmp_path, "filters.yml", "attribute: frame_size_cm", "attribute: frame_sise"
    )
    url = f"sqlite:///{tmp_path / 'unused.db'}"  # --no-catalog: never read
    args = ["--database-url", url, "check", "--no-catalog", "--language", "de", str(rules)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert (
        f"rules/road_bike/filters.yml:{line}:16: unbekanntes Attribut 'frame_sise', "
        "meinten Sie 'frame_size_cm'?"
    ) in captured.out
    assert captured.err.rstrip().endswith("1 Problem(e)")
    assert main(["--database-url", url, "check", "--no-catalog", str(rules)]) == 1
    english = capsys.readouterr()
    assert "unknown attribute 'frame_sise', did you mean 'frame_size_cm'?" in english.out
    assert english.err.rstrip().endswith("1 problem(s)")


def test_vocabulary_with_language_de_writes_german_labels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["vocabulary", "--language", "de"]) == 0
    out = capsys.readouterr().out
    assert "frame_size_cm" in out and "(Rahmengröße)" in out and "(Cleat-System)" in out
    assert "Ja oder nein" in out
    assert main(["vocabulary"]) == 0
    assert "Rahmengröße" not in capsys.readouterr().out, "English as it was"


def test_persona_results_in_german_keep_pass_and_fail() -> None:
    from product_rules.personas import PersonaResult, format_results

    failure = lazy_gettext("got {count} offers, expected {wanted}").format(count=3, wanted="4")
    results = [PersonaResult("beginner", "personas.yml", 4, False, [failure])]
    with speaking("de"):
        shown = format_results(results)
    assert shown == (
        "FAIL personas.yml:4 beginner\n    3 Angebote erhalten, erwartet 4\n"
        "0 bestanden, 1 fehlgeschlagen"
    )
    assert format_results(results).endswith("got 3 offers, expected 4\n0 passed, 1 failed")


# -- edit errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "english", "german"),
    [
        (
            Edit("question_text", "x", question="usag"),
            "unknown question 'usag', did you mean 'usage'?",
            "unbekannte Frage 'usag', meinten Sie 'usage'?",
        ),
        (
            Edit("option_label", "x", question="usage", option="racin"),
            "unknown option of 'usage' 'racin', did you mean 'racing'?",
            "unbekannte Option von 'usage': 'racin', meinten Sie 'racing'?",
        ),
        (
            Edit("ranking_weight", "much", key="price_fit"),
            "'much' is not a number",
            "'much' ist keine Zahl",
        ),
    ],
    ids=["unknown-question", "unknown-option", "not-a-number"],
)
def test_edit_errors_in_german(edit: Edit, english: str, german: str) -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in (RULES / "road_bike").glob("*.yml")}
    with pytest.raises(EditError) as caught:
        apply_edits(files, [edit])
    assert str(caught.value) == english
    assert caught.value.message_in("de") == german


# -- attribute labels ------------------------------------------------------------------------


def test_every_attribute_label_has_a_german_translation() -> None:
    """A new attribute in catalog/models.py needs its label in product_rules' catalogue."""
    labels = {a["name"]: a["labels"] for a in export()["attributes"]}
    assert labels["frame_size_cm"] == {"en": "Frame size", "de": "Rahmengröße"}
    assert labels["cleat_system"] == {"en": "Cleat system", "de": "Cleat-System"}
    untranslated = [name for name, spec in attributes().items() if labels[name]["de"] == spec.label]
    assert not untranslated, "mark the label in vocabulary.ATTRIBUTE_LABELS and translate it"


# -- the catalogue ---------------------------------------------------------------------------


def test_every_extracted_msgid_has_a_german_translation() -> None:
    """A new ``_("…")`` in product_rules is extracted and translated before it ships.

    Plurals need both forms; a fuzzy guess is no translation. (That the committed .mo is
    the compiled .po is tested with the other catalogues, in tests/advisor/test_render_de.)
    """
    extracted = {
        message if isinstance(message, str) else message[0]
        for _, _, message, *_ in extract_from_dir(str(PACKAGE), [("**.py", "python")])
    }
    translated: set[str] = set()
    untranslated: list[object] = []
    for m in read_po(PO.open("rb")):
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not m.id:
            continue
        if m.fuzzy or not all(strings):
            untranslated.append(m.id)
        else:
            translated.add(m.id if isinstance(m.id, str) else m.id[0])
    assert not untranslated
    assert not extracted - translated, "run the pybabel extract/update of product_rules/i18n.py"


def test_german_translations_keep_every_placeholder() -> None:
    """A translation that drops or renames a ``{name}`` would fail when a finding is shown."""
    wrong = []
    for m in read_po(PO.open("rb")):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        names = {_placeholders(i) for i in ids}
        if any(_placeholders(s) not in names for s in strings):
            wrong.append(m.id)
    assert not wrong


def _placeholders(text: str) -> frozenset[str]:
    import string

    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)
