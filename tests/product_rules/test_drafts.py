"""Drafts: saved on the server, never live; stale saves refused with who changed what; publish
from a draft and roll back; the form's edits keep the YAML as written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog.db import make_engine
from product_rules.drafts import (
    StaleDraftError,
    UnknownDraftError,
    check_files,
    discard_draft,
    get_draft,
    publish_draft,
    save_draft,
)
from product_rules.errors import RuleSetError
from product_rules.publishing import active_versions, history, read_files, rollback
from product_rules.registry import RuleRegistry
from product_rules.rule_edits import Edit, EditError, apply_edits, outline
from tests.conftest import RULES
from tests.tables import create_schema

NEW_TEXT = "What kind of riding is it for?"


@pytest.fixture()
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    return create_schema(engine)


@pytest.fixture()
def files() -> dict[str, str]:
    return read_files(RULES / "road_bike")


def _retext(files: dict[str, str], text: str = NEW_TEXT) -> dict[str, str]:
    return apply_edits(files, [Edit("question_text", text, question="usage")])


def test_save_draft_stores_revisions_and_is_not_live(db: Engine, files: dict[str, str]) -> None:
    first = save_draft(db, "road_bike", files, based_on=0, author="anna")
    assert (first.revision, first.open, first.author) == (1, True, "anna")
    second = save_draft(db, "road_bike", _retext(files), based_on=1, author="ben")
    assert (second.revision, second.author) == (2, "ben")
    stored = get_draft(db, "road_bike")
    assert stored is not None and NEW_TEXT in stored.files["questions.yml"]
    assert active_versions(db) == {}, "a draft is never in service"


def test_save_on_a_stale_revision_is_refused_with_the_author(
    db: Engine, files: dict[str, str]
) -> None:
    save_draft(db, "road_bike", files, based_on=0, author="mia")
    save_draft(db, "road_bike", _retext(files), based_on=1, author="anna")
    with pytest.raises(StaleDraftError) as caught:
        save_draft(db, "road_bike", _retext(files, "Something else?"), based_on=1, author="ben")
    stale = caught.value
    assert "changed by anna since you opened it" in str(stale)
    assert stale.authors == ["anna"] and stale.current.revision == 2
    assert [c.file for c in stale.changes] == ["questions.yml"]
    assert f"+      en: {NEW_TEXT}" in stale.changes[0].diff
    kept = get_draft(db, "road_bike")
    assert kept is not None and NEW_TEXT in kept.files["questions.yml"], "nothing overwritten"


def test_two_first_saves_one_wins(db: Engine, files: dict[str, str]) -> None:
    save_draft(db, "road_bike", files, based_on=0, author="anna")
    with pytest.raises(StaleDraftError) as caught:
        save_draft(db, "road_bike", _retext(files), based_on=0, author="ben")
    assert caught.value.authors == ["anna"]


def test_publish_from_a_draft_then_roll_back(db: Engine, files: dict[str, str]) -> None:
    save_draft(db, "road_bike", files, based_on=0, author="mia")
    first = publish_draft(db, "road_bike", based_on=1, author="admin", note="as shipped")
    assert first.version == 1
    draft = save_draft(db, "road_bike", _retext(files), based_on=2, author="anna", base_version=1)
    assert (draft.revision, draft.base_version) == (3, 1)
    second = publish_draft(db, "road_bike", based_on=3, author="admin", note="friendlier question")
    assert second.version == 2 and second.changes == "changed questions.yml: +1 -1 lines"
    closed = get_draft(db, "road_bike")
    assert closed is not None and (closed.state, closed.revision) == ("published", 4)
    assert NEW_TEXT in active_versions(db)["road_bike"].files["questions.yml"]
    log = history(db, "road_bike")
    assert [(e["version"], e["author"], e["note"]) for e in log[:2]] == [
        (2, "admin", "friendlier question"),
        (1, "admin", "as shipped"),
    ]
    assert rollback(db, "road_bike", 1, author="admin", note="back") == 1
    assert NEW_TEXT not in active_versions(db)["road_bike"].files["questions.yml"]


def test_the_registry_serves_a_published_draft(
    db: Engine, files: dict[str, str], rules_copy: Path
) -> None:
    registry = RuleRegistry(rules_copy, db, parser_factory=lambda rs: None, check_interval=0)
    save_draft(db, "road_bike", _retext(files), based_on=0, author="anna")
    assert registry.get("road_bike").ruleset.question("usage").text != NEW_TEXT  # type: ignore[union-attr]
    publish_draft(db, "road_bike", based_on=1, author="admin")
    served = registry.get("road_bike")
    assert served.source == "published v1"
    assert served.ruleset.question("usage").text == NEW_TEXT  # type: ignore[union-attr]


def test_a_published_draft_is_in_service_within_a_second(
    db: Engine, files: dict[str, str], rules_copy: Path
) -> None:
    registry = RuleRegistry(rules_copy, db, parser_factory=lambda rs: None)  # looks every 0.25 s
    registry.get("road_bike")
    save_draft(db, "road_bike", _retext(files), based_on=0, author="anna")
    publish_draft(db, "road_bike", based_on=1, author="admin")
    published = time.monotonic()
    while registry.get("road_bike").source != "published v1":
        assert time.monotonic() - published < 1.0, "not in service within a second"
        time.sleep(0.02)


def test_publish_refuses_a_broken_draft_and_keeps_it_open(
    db: Engine, files: dict[str, str]
) -> None:
    broken = dict(files)
    broken["filters.yml"] = broken["filters.yml"].replace(
        "attribute: frame_size_cm", "attribute: frame_sise"
    )
    save_draft(db, "road_bike", broken, based_on=0, author="anna")
    with pytest.raises(RuleSetError) as caught:
        publish_draft(db, "road_bike", based_on=1, author="admin")
    assert "did you mean 'frame_size_cm'" in str(caught.value)
    draft = get_draft(db, "road_bike")
    assert draft is not None and draft.open and draft.revision == 1
    assert active_versions(db) == {}


def test_publish_of_a_stale_revision_is_refused(db: Engine, files: dict[str, str]) -> None:
    save_draft(db, "road_bike", files, based_on=0, author="anna")
    save_draft(db, "road_bike", _retext(files), based_on=1, author="ben")
    with pytest.raises(StaleDraftError, match="changed by ben"):
        publish_draft(db, "road_bike", based_on=1, author="admin")
    assert active_versions(db) == {}


def test_discard_closes_the_draft(db: Engine, files: dict[str, str]) -> None:
    with pytest.raises(UnknownDraftError):
        discard_draft(db, "road_bike", based_on=0, author="anna")
    save_draft(db, "road_bike", files, based_on=0, author="anna")
    closed = discard_draft(db, "road_bike", based_on=1, author="anna")
    assert (closed.state, closed.revision) == ("discarded", 2)
    reopened = save_draft(db, "road_bike", files, based_on=2, author="ben")
    assert reopened.open and reopened.revision == 3


def test_check_files_reports_file_line_and_suggestion(files: dict[str, str]) -> None:
    assert check_files(files) == []
    broken = dict(files)
    broken["filters.yml"] = broken["filters.yml"].replace(
        "attribute: frame_size_cm", "attribute: frame_sise"
    )
    [problem] = check_files(broken)
    line = broken["filters.yml"].splitlines().index("    attribute: frame_sise") + 1
    assert (problem.file, problem.line, problem.suggestion) == (
        "filters.yml",
        line,
        "frame_size_cm",
    )
    bad_yaml = {**files, "questions.yml": "questions:\n  - id: [unclosed\n"}
    [problem] = check_files(bad_yaml)
    assert problem.file == "questions.yml" and "invalid YAML" in problem.message


def test_check_files_refuses_odd_names(files: dict[str, str]) -> None:
    [problem] = check_files({**files, "../evil.yml": "x: 1"})
    assert "not a rule file name" in problem.message


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        (Edit("question_text", NEW_TEXT, question="usage"), f"en: {NEW_TEXT}"),
        (
            Edit(
                "option_synonyms",
                "newbie, starter ,newbie",
                question="experience",
                option="beginner",
            ),
            "en: [newbie, starter]",
        ),
        (
            Edit("option_label", "Brand new", question="experience", option="beginner"),
            "label: {en: Brand new, de: ",
        ),
        (
            Edit("ranking_weight", "3", key="margin"),
            "  margin: 3         # per 10 points of gross margin",
        ),
        (Edit("filter_importance", "6", index=0), "    importance: 6"),
        (
            Edit("cross_sell", "Protect your head.", index=0, key="reason"),
            "reason: {en: Protect your head., de: ",
        ),
        (Edit("cross_sell", "2", index=0, key="limit"), "    limit: 2"),
        (Edit("requirement", "margin", index=0, key="prefer"), "    prefer: margin"),
    ],
    ids=[
        "question-text",
        "synonyms",
        "label",
        "ranking",
        "importance",
        "cross-sell-reason",
        "cross-sell-limit",
        "requirement-prefer",
    ],
)
def test_edits_change_one_line_and_keep_the_rest(
    files: dict[str, str], edit: Edit, changed: str
) -> None:
    edited = apply_edits(files, [edit])
    differing = [name for name in files if files[name] != edited[name]]
    assert len(differing) == 1
    old, new = files[differing[0]].splitlines(), edited[differing[0]].splitlines()
    assert len(old) == len(new)
    [line] = [line for a, line in zip(old, new, strict=True) if a != line]
    assert changed in line, line  # the English text changed, the German one stayed


def test_add_synonym_appends_once(files: dict[str, str]) -> None:
    edit = Edit("add_synonym", "I'm new to cycling", question="experience", option="beginner")
    once = apply_edits(files, [edit])
    assert apply_edits(once, [edit]) == once
    [beginner] = [o for o in outline(once)["questions"][1]["options"] if o["id"] == "beginner"]
    assert beginner["synonyms"][-1] == "I'm new to cycling"
    assert check_files(once) == []


def test_edit_of_an_unknown_question_suggests_the_name(files: dict[str, str]) -> None:
    with pytest.raises(EditError, match="did you mean 'usage'"):
        apply_edits(files, [Edit("question_text", "x", question="usag")])


def test_rule_field_edits_refuse_what_the_schema_would(files: dict[str, str]) -> None:
    with pytest.raises(EditError, match="not one of cheapest, margin, best"):
        apply_edits(files, [Edit("requirement", "dearest", index=0, key="prefer")])
    with pytest.raises(EditError, match="did you mean 'reason'"):
        apply_edits(files, [Edit("cross_sell", "x", index=0, key="reasn")])
    no_condition = apply_edits(files, [Edit("cross_sell", "", index=1, key="when")])
    assert check_files(no_condition) == []
    assert outline(no_condition)["cross_sell"][1]["when"] == ""


def test_save_refuses_an_odd_rule_set_id(db: Engine, files: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="not a rule set id"):
        save_draft(db, "..", files, based_on=0, author="anna")


def test_move_question_and_ask_if(files: dict[str, str]) -> None:
    moved = apply_edits(files, [Edit("move_question", "down", question="usage")])
    assert [q["id"] for q in outline(moved)["questions"]][:2] == ["experience", "usage"]
    assert check_files(moved) == []
    assert "# The questions, asked in this order." in moved["questions.yml"], "comments stay"
    top = apply_edits(files, [Edit("move_question", "up", question="usage")])
    assert top == files, "the first question cannot move up"
    asked = apply_edits(files, [Edit("ask_if", "experience != 'beginner'", question="budget")])
    assert outline(asked)["questions"][2]["ask_if"] == "experience != 'beginner'"
    assert check_files(asked) == []
    always = apply_edits(files, [Edit("ask_if", "", question="inseam_cm")])
    assert "    ask_if:" not in always["questions.yml"]
    wrong = apply_edits(files, [Edit("ask_if", "experiense == 'racer'", question="budget")])
    [problem] = check_files(wrong)
    assert problem.file == "questions.yml" and problem.suggestion == "experience"


def test_filter_threshold_is_edited_only_where_it_is_a_number() -> None:
    gravel = read_files(RULES / "gravel_bike")
    filters = outline(gravel)["filters"]
    numeric = next(f for f in filters if f["value"] is not None)
    edited = apply_edits(gravel, [Edit("filter_value", "12", index=numeric["index"])])
    assert outline(edited)["filters"][numeric["index"]]["value"] == 12
    assert check_files(edited) == []
    listed = next(f for f in filters if f["value"] is None and f["value_text"])
    with pytest.raises(EditError, match="no number to change"):
        apply_edits(gravel, [Edit("filter_value", "3", index=listed["index"])])
