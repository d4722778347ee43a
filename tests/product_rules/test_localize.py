"""Rule files in two languages: views per language, fallbacks, and the missing-translation check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from product_rules.cli import main
from product_rules.errors import RuleSetError
from product_rules.loader import load_ruleset
from product_rules.localize import localize, missing_translations

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"


def test_a_view_per_language_picks_texts_and_puts_its_words_first() -> None:
    document = {
        "title": {"en": "Road bike", "de": "Rennrad"},
        "synonyms": {"en": ["road bike"], "de": ["rennrad", "road bike"]},
        "questions": [{"id": "q", "text": "How tall?", "ask_if": {"label": "x"}}],
    }
    german = localize(document, "de")
    assert german["title"] == "Rennrad"
    assert german["synonyms"] == ["rennrad", "road bike"]  # German first, English once
    assert german["questions"][0]["text"] == "How tall?"  # untranslated: English
    english = localize(document, "en")
    assert english["title"] == "Road bike"
    assert english["synonyms"] == ["road bike"]  # English shoppers do not write German
    assert document["title"] == {"en": "Road bike", "de": "Rennrad"}  # input untouched


def test_missing_translations_are_found_per_field() -> None:
    found: list[tuple[tuple[object, ...], str]] = []
    document = {
        "intro": "Hello",
        "questions": [{"text": {"en": "How tall?"}, "synonyms": [], "when": {"text": "x"}}],
    }
    missing_translations(document, lambda path, message: found.append((path, message)))
    assert [path for path, _ in found] == [("intro",), ("questions", 0, "text")]
    assert "missing German translation (de) of intro 'Hello'" in found[0][1]


def _rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES / "road_bike", target / "road_bike")
    return target


def test_shipped_rule_sets_speak_german() -> None:
    for directory in sorted(p.parent for p in RULES.glob("*/ruleset.yml")):
        loaded = load_ruleset(directory, root=RULES.parent)
        german = loaded.localized("de").ruleset
        assert german.title != loaded.ruleset.title, directory.name
        assert german.questions[0].text != loaded.ruleset.questions[0].text, directory.name
        assert not loaded.missing, [str(p) for p in loaded.missing[:3]]


def test_check_reports_a_missing_german_text_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'unused.db'}"  # --no-catalog: never read
    rules = _rules_copy(tmp_path)
    ruleset = rules / "road_bike" / "ruleset.yml"
    lines = ruleset.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    lines[at] = "title: Road bike"
    ruleset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--database-url", database_url, "check", "--no-catalog", str(rules)]) == 1
    out = capsys.readouterr().out
    where = f"rules/road_bike/ruleset.yml:{at + 1}:8"
    assert f"{where}: missing German translation (de) of title 'Road bike'" in out


def test_an_unknown_language_key_is_refused_where_it_is(tmp_path: Path) -> None:
    rules = _rules_copy(tmp_path)
    ruleset = rules / "road_bike" / "ruleset.yml"
    lines = ruleset.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    lines[at] = "title: {en: Road bike, dee: Rennrad}"
    ruleset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_ruleset(rules / "road_bike", root=tmp_path)
    assert f"ruleset.yml:{at + 1}:8: title: unknown language 'dee'" in str(caught.value)


def test_the_rule_editor_edits_one_language_and_keeps_the_other() -> None:
    from product_rules.rule_edits import Edit, apply_edits, outline

    files = {
        "questions.yml": (
            "questions:\n"
            "  - id: usage\n"
            "    text: {en: What for?, de: Wofür?}\n"
            "    type: choice\n"
            "    options:\n"
            "      - id: racing\n"
            "        label: Racing\n"
            "        synonyms: {en: [race], de: [rennen]}\n"
        )
    }
    edited = apply_edits(
        files,
        [
            Edit("question_text", "Wofür vor allem?", question="usage", language="de"),
            Edit("option_label", "Rennen fahren", question="usage", option="racing", language="de"),
            Edit("add_synonym", "wettkampf", question="usage", option="racing", language="de"),
        ],
    )
    text = edited["questions.yml"]
    assert "{en: What for?, de: Wofür vor allem?}" in text
    assert "label: {en: Racing, de: Rennen fahren}" in text
    german = outline(edited, "de")["questions"][0]
    assert german["options"][0]["synonyms"] == ["rennen", "wettkampf"]
    english = outline(edited, "en")["questions"][0]
    assert (english["text"], english["options"][0]["label"]) == ("What for?", "Racing")
    assert english["options"][0]["synonyms"] == ["race"]
