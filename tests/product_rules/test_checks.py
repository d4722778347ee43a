from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import Engine

from product_rules.checks import check_ruleset
from product_rules.loader import discover_rulesets, load_ruleset

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"


class Edit(NamedTuple):
    file: str
    old: str
    new: str


class Expected(NamedTuple):
    """A finding: the ``nth`` line holding ``line_of``, the column where ``column_of`` starts."""

    file: str
    line_of: str
    column_of: str
    message: str
    nth: int = 1


def _apply(rules: Path, edits: list[Edit]) -> None:
    for edit in edits:
        path = rules / "road_bike" / edit.file
        text = path.read_text()
        assert edit.old in text, f"fixture text {edit.old!r} not in {edit.file}"
        path.write_text(text.replace(edit.old, edit.new, 1))


def _render(rules: Path, expected: Expected) -> str:
    lines = (rules / "road_bike" / expected.file).read_text().splitlines()
    line = [i for i, text in enumerate(lines, 1) if expected.line_of in text][expected.nth - 1]
    column = lines[line - 1].index(expected.column_of) + 1
    return f"rules/road_bike/{expected.file}:{line}:{column}: {expected.message}"


def test_shipped_road_bike_has_no_problems(demo_db: Engine) -> None:
    loaded = load_ruleset(RULES / "road_bike", root=RULES.parent)
    assert check_ruleset(loaded, demo_db) == []


@pytest.mark.parametrize("directory", discover_rulesets(RULES), ids=lambda p: p.name)
def test_check_every_shipped_rule_set_clean(demo_db: Engine, directory: Path) -> None:
    loaded = load_ruleset(directory, root=RULES.parent)
    assert [str(p) for p in check_ruleset(loaded, demo_db)] == []


OPTION_FROM_ANSWER = """
  - id: geometry_from_usage
    label: a geometry named like your riding
    attribute: geometry
    answer: usage
    hard: false
"""

CLIP_PEDALS = """  - id: clip_pedals
    label: race pedals
    if_item: {geometry: race}
    category: pedals
    select:
      - filter: {cleat_system: look_keo}
        reason: Race pedals
  - id: pedals_for_bike_without"""

LEG_SIZE = """
  - id: leg_size
    label: leg size
    from:
      - source: frame_size_cm
        table:
          - {min: 40, max: 70, value: 80}
"""

SELECT_1 = "when: \"shoes_owned in ['spd', 'spd_sl', 'look_keo']\""
PEDALS_MISFIT = (
    "picks pedals with cleat_system in {fits} for shoppers answering shoes_owned 'look_keo': "
    "their shoes fit only pedals with the same cleat_system (compatibility 'shoes_fit_pedals')"
)

CASES: dict[str, tuple[list[Edit], list[Expected]]] = {
    # 1. categories
    "category-of-ruleset": (
        [Edit("ruleset.yml", "category: road_bike", "category: road_bikes")],
        [
            Expected(
                "ruleset.yml",
                "category: road_bikes",
                "road_bikes",
                "unknown category 'road_bikes' (not in the catalogue), did you mean 'road_bike'?",
            )
        ],
    ),
    "category-of-requirement": (
        [Edit("requirements.yml", "category: pedals", "category: pedal")],
        [
            Expected(
                "requirements.yml",
                "category: pedal",
                "pedal",
                "unknown category 'pedal' (not in the catalogue), did you mean 'pedals'?",
            )
        ],
    ),
    "category-of-cross-sell": (
        [Edit("cross_sell.yml", "target: {category: helmet}", "target: {category: helmets}")],
        [
            Expected(
                "cross_sell.yml",
                "helmets",
                "helmets",
                "unknown category 'helmets' (not in the catalogue), did you mean 'helmet'?",
            )
        ],
    ),
    "category-of-compatibility": (
        [Edit("compatibility.yml", "categories: [pedals, shoes]", "categories: [pedals, shoe]")],
        [
            Expected(
                "compatibility.yml",
                "categories: [pedals, shoe]",
                "shoe]",
                "unknown category 'shoe' (not in the catalogue), did you mean 'shoes'?",
            )
        ],
    ),
    # 2. values no product of the category has
    "value-of-filter": (
        [
            Edit(
                "filters.yml",
                "attribute: brake_type\n    op: in\n    value: [disc, hydraulic_disc]",
                "attribute: geometry\n    op: in\n    value: [endurance, comfort]",
            )
        ],
        [
            Expected(
                "filters.yml",
                "value: [endurance, comfort]",
                "comfort",
                "no road_bike has geometry 'comfort'",
            )
        ],
    ),
    "value-of-map": (
        [Edit("filters.yml", "endurance: [endurance]", "endurance: [endurance, comfort]")],
        [
            Expected(
                "filters.yml",
                "endurance: [endurance, comfort]",
                "comfort",
                "no road_bike has geometry 'comfort'",
            )
        ],
    ),
    "value-of-selection": (
        [
            Edit(
                "requirements.yml",
                "{cleat_system: {in: [flat, spd]}}",
                "{cleat_system: {in: [flat, spd]}, mounting: front}",
            )
        ],
        [
            Expected(
                "requirements.yml", "mounting: front", "front", "no pedals has mounting 'front'"
            )
        ],
    ),
    "value-of-cross-sell": (
        [Edit("cross_sell.yml", "mounting: set}", "mounting: bar}")],
        [
            Expected(
                "cross_sell.yml",
                "mounting: bar",
                "bar}",
                "no lights has mounting 'bar'",
            )
        ],
    ),
    # 3. options that can never match a main product
    "option-by-map": (
        [Edit("filters.yml", "commute: [endurance]", "commute: [allroad]")],
        [
            Expected(
                "filters.yml",
                "commute: [allroad]",
                "[allroad]",
                "option 'commute' of question 'usage' can never match a road_bike "
                "(geometry in ['allroad'])",
            )
        ],
    ),
    "option-by-answer": (
        [Edit("filters.yml", "filters:\n", "filters:" + OPTION_FROM_ANSWER)],
        [
            Expected(
                "questions.yml",
                "- id: racing",
                "racing",
                "option 'racing' of question 'usage' can never match a road_bike "
                "(geometry == 'racing')",
            ),
            Expected(
                "questions.yml",
                "- id: commute",
                "commute",
                "option 'commute' of question 'usage' can never match a road_bike "
                "(geometry == 'commute')",
            ),
        ],
    ),
    # 4. questions never asked (or asked out of order)
    "ask-if-not-an-option": (
        [Edit("questions.yml", "experience == 'racer'", "experience == 'pro'")],
        [
            Expected(
                "questions.yml",
                "experience == 'pro'",
                '"experience',
                "'pro' is not an option of question 'experience' (beginner, intermediate, racer)",
            )
        ],
    ),
    "ask-if-contradiction": (
        [
            Edit(
                "questions.yml",
                "ask_if: \"experience == 'racer'\"",
                "ask_if: \"usage == 'racing' and usage == 'commute'\"",
            )
        ],
        [
            Expected(
                "questions.yml",
                "ask_if: \"usage == 'racing'",
                '"usage',
                "question 'inseam_cm' is never asked: ask_if can never hold "
                "(contradictory conditions on 'usage')",
            )
        ],
    ),
    "ask-if-tree-contradiction": (
        [
            Edit(
                "questions.yml",
                "ask_if: \"experience == 'racer'\"",
                "ask_if: {all: [\"experience == 'racer'\", {not: \"experience != 'beginner'\"}]}",
            )
        ],
        [
            Expected(
                "questions.yml",
                "ask_if: {all:",
                "{all",
                "question 'inseam_cm' is never asked: ask_if can never hold "
                "(contradictory conditions on 'experience')",
            )
        ],
    ),
    "ask-if-reads-later-answer": (
        [Edit("questions.yml", "experience == 'racer'", "shoes_owned != 'none'")],
        [
            Expected(
                "questions.yml",
                "shoes_owned != 'none'",
                '"shoes_owned',
                "question 'inseam_cm' comes before the answers its ask_if reads "
                "('shoes_owned'): it is skipped until they are given; move it below them",
            )
        ],
    ),
    # 5. products no answers can reach
    "frame-size-no-table-gives": (
        [
            Edit("sizing.yml", "max: 101, value: 62", "max: 101, value: 60"),
            Edit("sizing.yml", "max: 221, value: 62", "max: 221, value: 60"),
        ],
        [
            Expected(
                "sizing.yml",
                "- id: frame_size_cm",
                "frame_size_cm",
                "20 road_bike products (frame_size_cm 62) can never be offered: "
                "no size table row gives 62",
            )
        ],
    ),
    # 6. requirements that clash or match nothing
    "selection-matches-nothing": (
        [
            Edit(
                "requirements.yml",
                "{cleat_system: {in: [flat, spd]}}",
                "{cleat_system: {in: [flat, spd]}, weight_kg: {gt: 5}}",
            )
        ],
        [
            Expected(
                "requirements.yml",
                "weight_kg: {gt: 5}",
                "{cleat",
                "selection 2 of 'pedals_for_bike_without' matches no pedals: "
                "cleat_system in ['flat', 'spd'] and weight_kg > 5",
            )
        ],
    ),
    "selection-matches-nothing-for-an-answer": (
        [
            Edit(
                "requirements.yml",
                SELECT_1,
                "when: \"shoes_owned in ['spd', 'spd_sl', 'look_keo', 'none']\"",
            )
        ],
        [
            Expected(
                "requirements.yml",
                "{cleat_system: {answer: shoes_owned}}",
                "{cleat",
                "selection 1 of 'pedals_for_bike_without' matches no pedals when shoes_owned "
                "is 'none': cleat_system == 'none'",
            )
        ],
    ),
    "two-requirements-add-pedals": (
        [Edit("requirements.yml", "  - id: pedals_for_bike_without", CLIP_PEDALS)],
        [
            Expected(
                "requirements.yml",
                "{cleat_system: look_keo}",
                "look_keo",
                "selection 1 of 'clip_pedals' picks pedals with cleat_system in ['look_keo'] "
                "for shoppers answering shoes_owned 'spd' or 'spd_sl': their shoes fit only "
                "pedals with the same cleat_system (compatibility 'shoes_fit_pedals')",
            ),
            Expected(
                "requirements.yml",
                "category: pedals",
                "pedals",
                "requirements 'clip_pedals' and 'pedals_for_bike_without' both add pedals "
                "to the same 106 road_bike products: make their if_item exclusive or merge them",
                nth=2,
            ),
        ],
    ),
    "pedals-misfit-owned-shoes": (
        [Edit("requirements.yml", SELECT_1, "when: \"shoes_owned in ['spd', 'spd_sl']\"")],
        [
            Expected(
                "requirements.yml",
                "{cleat_system: {in: [flat, spd]}}",
                "[",
                "selection 2 of 'pedals_for_bike_without' "
                + PEDALS_MISFIT.format(fits="['flat', 'spd']"),
            ),
            Expected(
                "requirements.yml",
                "{cleat_system: {in: [spd_sl, look_keo]}}",
                "[",
                "selection 3 of 'pedals_for_bike_without' "
                + PEDALS_MISFIT.format(fits="['look_keo', 'spd_sl']"),
            ),
            Expected(
                "requirements.yml",
                "{cleat_system: {in: [spd, spd_sl, flat]}}",
                "[",
                "selection 4 of 'pedals_for_bike_without' "
                + PEDALS_MISFIT.format(fits="['flat', 'spd', 'spd_sl']"),
            ),
        ],
    ),
    "pedals-misfit-cross-sold-shoes": (
        [
            Edit(
                "requirements.yml",
                "{cleat_system: {in: [spd_sl, look_keo]}}",
                "{cleat_system: {in: [flat]}}",
            )
        ],
        [
            Expected(
                "requirements.yml",
                "{cleat_system: {in: [flat]}}",
                "[",
                "selection 3 of 'pedals_for_bike_without' picks pedals with cleat_system in "
                "['flat'] that never fit the shoes of cross-sell 'shoes_for_clipless_beginners' "
                "(cleat_system in ['look_keo', 'spd_sl']; compatibility 'shoes_fit_pedals')",
            )
        ],
    ),
    # 7. derived values reading each other
    "derived-cycle": (
        [
            Edit(
                "sizing.yml",
                "    from:\n      - source: inseam_cm",
                "    from:\n      - source: leg_size\n        table:\n"
                "          - {min: 70, max: 90, value: 54}\n      - source: inseam_cm",
            ),
            Edit("sizing.yml", "value: 62}\n", "value: 62}\n" + LEG_SIZE),
        ],
        [
            Expected(
                "sizing.yml",
                "- source: frame_size_cm",
                "frame_size_cm",
                "cycle in derived values: frame_size_cm -> leg_size -> frame_size_cm",
            )
        ],
    ),
}


@pytest.mark.parametrize(("edits", "expected"), list(CASES.values()), ids=list(CASES))
def test_check_ruleset_reports_file_line_column(
    demo_db: Engine, rules_copy: Path, edits: list[Edit], expected: list[Expected]
) -> None:
    _apply(rules_copy, edits)
    loaded = load_ruleset(rules_copy / "road_bike", root=rules_copy.parent)
    found = [str(p) for p in check_ruleset(loaded, demo_db)]
    assert found == [_render(rules_copy, item) for item in expected]


@pytest.mark.parametrize(
    "ask_if",
    [
        "budget > 5000 and budget < 1000",  # numbers are not reasoned about
        "usage =~ 'rac.*'",
        "usage == experience",
        "not (usage != 'racing') or budget > 1",
        "usage in ['racing', 'commute'] and usage != 'racing'",
    ],
)
def test_conditions_the_checks_cannot_decide_are_not_reported(
    demo_db: Engine, rules_copy: Path, ask_if: str
) -> None:
    _apply(rules_copy, [Edit("questions.yml", "experience == 'racer'", ask_if)])
    loaded = load_ruleset(rules_copy / "road_bike", root=rules_copy.parent)
    assert check_ruleset(loaded, demo_db) == []


def test_check_ruleset_sorts_by_file_line_column(demo_db: Engine, rules_copy: Path) -> None:
    _apply(
        rules_copy,
        [
            Edit("requirements.yml", "category: pedals", "category: pedal"),
            Edit("cross_sell.yml", "target: {category: helmet}", "target: {category: helmets}"),
            Edit("cross_sell.yml", "target: {category: lock}", "target: {category: locks}"),
        ],
    )
    loaded = load_ruleset(rules_copy / "road_bike", root=rules_copy.parent)
    found = [str(p) for p in check_ruleset(loaded, demo_db)]
    message = "unknown category {!r} (not in the catalogue), did you mean {!r}?"
    assert found == [
        _render(
            rules_copy,
            Expected("cross_sell.yml", "helmets", "helmets", message.format("helmets", "helmet")),
        ),
        _render(
            rules_copy,
            Expected("cross_sell.yml", "locks", "locks", message.format("locks", "lock")),
        ),
        _render(
            rules_copy,
            Expected(
                "requirements.yml", "category: pedal", "pedal", message.format("pedal", "pedals")
            ),
        ),
    ]


#: The catalogue's findings as a German merchandiser reads them (``--language de``, the
#: rule editor): the sentence translated, names, values and positions as written.
GERMAN = {
    "value-of-map": "kein road_bike hat geometry 'comfort'",
    "frame-size-no-table-gives": (
        "20 Produkte der Kategorie road_bike (frame_size_cm 62) können nie angeboten werden: "
        "keine Zeile der Größentabelle ergibt 62"
    ),
    "selection-matches-nothing": (
        "Auswahl 2 von 'pedals_for_bike_without' findet kein pedals: "
        "cleat_system in ['flat', 'spd'] und weight_kg > 5"
    ),
    "selection-matches-nothing-for-an-answer": (
        "Auswahl 1 von 'pedals_for_bike_without' findet kein pedals, wenn shoes_owned "
        "'none' ist: cleat_system == 'none'"
    ),
}


@pytest.mark.parametrize(("case", "german"), list(GERMAN.items()), ids=list(GERMAN))
def test_check_ruleset_findings_in_german(
    demo_db: Engine, rules_copy: Path, case: str, german: str
) -> None:
    edits, [expected] = CASES[case]
    _apply(rules_copy, edits)
    loaded = load_ruleset(rules_copy / "road_bike", root=rules_copy.parent)
    [problem] = check_ruleset(loaded, demo_db)
    assert problem.message == expected.message, "English as it was"
    assert problem.text("de") == _render(rules_copy, expected._replace(message=german))
