from __future__ import annotations

from pathlib import Path

import pytest

from product_rules.errors import RuleSetError
from product_rules.loader import load_all, load_ruleset


def _break(rules: Path, file: str, old: str, new: str) -> Path:
    path = rules / "road_bike" / file
    text = path.read_text()
    assert old in text, f"fixture text {old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_load_shipped_rulesets_cleanly() -> None:
    loaded, problems = load_all(Path(__file__).resolve().parents[2] / "product_rules" / "rules")
    assert problems == []
    assert "road_bike" in loaded


@pytest.mark.parametrize(
    ("file", "old", "new", "needle", "message"),
    [
        (
            "filters.yml",
            "attribute: frame_size_cm",
            "attribute: frame_sise",
            "frame_sise",
            "unknown attribute 'frame_sise', did you mean 'frame_size_cm'?",
        ),
        (
            "filters.yml",
            "answer: budget",
            "answer: budgt",
            "budgt",
            "unknown answer 'budgt', did you mean 'budget'?",
        ),
        (
            "filters.yml",
            "when: \"usage == 'commute'\"",
            "when: \"usag == 'commute'\"",
            "usag ==",
            "unknown name 'usag' in condition, did you mean 'usage'?",
        ),
        (
            "filters.yml",
            "      endurance: [endurance]",
            "      endurance: [endurnce]",
            "endurnce",
            "'endurnce' is not a value of geometry",
        ),
        (
            "filters.yml",
            "    hard: false\n    weight: 3.0",
            "    hard: false\n    wieght: 3.0",
            "wieght",
            "unknown key 'wieght', did you mean 'weight'?",
        ),
        (
            "requirements.yml",
            "{cleat_system: {in: [flat, spd]}}",
            "{cleat_system: {in: [flat, spd_ls]}}",
            "spd_ls",
            "'spd_ls' is not a value of cleat_system",
        ),
        (
            "questions.yml",
            "    default: beginner",
            "    default: beginer",
            "default: beginer",
            "default 'beginer' is not an option of this question",
        ),
        (
            "cross_sell.yml",
            "target: {category: helmet}",
            "target: {colour: red}",
            "colour: red",
            "unknown attribute 'colour'",
        ),
    ],
    ids=[
        "unknown-attribute",
        "unknown-answer",
        "condition-name",
        "bad-value",
        "unknown-key",
        "bad-value-in-requirement",
        "bad-default",
        "cross-sell-attribute",
    ],
)
def test_load_ruleset_reports_file_line_column(
    rules_copy: Path, file: str, old: str, new: str, needle: str, message: str
) -> None:
    path = _break(rules_copy, file, old, new)
    with pytest.raises(RuleSetError) as caught:
        load_ruleset(rules_copy / "road_bike", root=rules_copy.parent)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file == f"rules/road_bike/{file}"
    assert problem.line == _line_of(path, needle)
    assert message in str(problem)
    assert str(problem).startswith(f"rules/road_bike/{file}:{problem.line}:{problem.column}: ")


def test_load_ruleset_reports_yaml_syntax_error(rules_copy: Path) -> None:
    _break(rules_copy, "questions.yml", "  - id: budget", "  - id: [budget")
    with pytest.raises(RuleSetError) as caught:
        load_ruleset(rules_copy / "road_bike", root=rules_copy.parent)
    (problem,) = caught.value.problems
    assert problem.file == "rules/road_bike/questions.yml"
    assert "invalid YAML" in problem.message


def test_load_ruleset_keeps_no_as_a_word(rules_copy: Path) -> None:
    loaded = load_ruleset(rules_copy / "road_bike")
    shoes = loaded.ruleset.question("shoes_owned")
    assert shoes is not None
    assert "no" in shoes.options[0].synonyms


def test_load_all_skips_broken_ruleset_and_reports(rules_copy: Path) -> None:
    _break(rules_copy, "ruleset.yml", "category: road_bike", "category: [road_bike")
    loaded, problems = load_all(rules_copy)
    assert "road_bike" not in loaded
    assert problems and problems[0].file.endswith("ruleset.yml")
