from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from product_rules.engine import AdviceEngine, Recommendation
from product_rules.errors import RuleSetError
from product_rules.loader import LoadedRuleSet, discover_rulesets, load_ruleset
from product_rules.personas import PersonaResult, format_results, load_personas, run_personas

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"
BEGINNER = (
    "{usage: endurance, experience: beginner, budget: 1500, body_height_cm: 182, shoes_owned: none}"
)
RACER = (
    "{usage: racing, experience: racer, budget: 4000, body_height_cm: 175, shoes_owned: look_keo}"
)
LOW_BUDGET = (
    "{usage: endurance, experience: beginner, budget: 250, body_height_cm: 182, shoes_owned: none}"
)


@pytest.fixture(scope="module")
def loaded() -> LoadedRuleSet:
    return load_ruleset(RULES / "road_bike")


@pytest.fixture(scope="module")
def engine(loaded: LoadedRuleSet, demo_db: Engine) -> AdviceEngine:
    return AdviceEngine(loaded.ruleset, demo_db)


@pytest.fixture()
def ruleset_dir(rules_copy: Path) -> Path:
    directory = rules_copy / "road_bike"
    for shipped in directory.glob("personas*"):
        shipped.unlink()  # the shipped personas are tested on their own below
    return directory


def _write(directory: Path, text: str, name: str = "personas.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _persona(answers: str, expect: str) -> str:
    return f"personas:\n  - name: case\n    answers: {answers}\n    expect: {expect}\n"


def _run(directory: Path, loaded: LoadedRuleSet, engine: AdviceEngine) -> list[PersonaResult]:
    return run_personas(loaded, engine, load_personas(directory, root=directory.parent.parent))


def test_run_personas_passes_matching_expectations(
    ruleset_dir: Path, loaded: LoadedRuleSet, engine: AdviceEngine
) -> None:
    path = _write(
        ruleset_dir,
        f"""
        personas:
          - name: beginner, endurance, 182 cm
            answers: {BEGINNER}
            expect:
              offers: {{min: 3, max: 3}}
              relaxed: false
              each_offer:
                main:
                  category: road_bike
                  frame_size_cm: 56
                  geometry: {{in: [endurance, allroad]}}
                total_price: {{le: 1500, gt: 0}}
                required: {{pedals: {{cleat_system: {{in: [flat, spd]}}}}}}
                alerts: false
              first_offer:
                main: {{geometry: endurance, price: {{le: 1500}}}}
              cross_sell: {{includes: [helmet], excludes: [lights, lock]}}

          - name: racer with Look Keo shoes
            answers: {RACER}
            expect:
              each_offer:
                main:
                  frame_size_cm: {{answer: frame_size_cm}}
                  geometry: {{not_in: [endurance]}}
                required: {{pedals: {{cleat_system: {{answer: shoes_owned}}}}}}
              cross_sell: {{includes: [bike_computer]}}

          - name: budget far too low is widened
            answers: {LOW_BUDGET}
            expect:
              relaxed: true
              relaxed_mentions: [budget, BUDGET]

          - name: no expectations means some offers
            answers: {{}}
        """,
    )
    results = _run(ruleset_dir, loaded, engine)
    assert [(r.name, r.passed, r.failures) for r in results] == [
        ("beginner, endurance, 182 cm", True, []),
        ("racer with Look Keo shoes", True, []),
        ("budget far too low is widened", True, []),
        ("no expectations means some offers", True, []),
    ]
    starts = [i for i, s in enumerate(path.read_text().splitlines(), 1) if "- name:" in s]
    assert [(r.file, r.line) for r in results] == [
        ("rules/road_bike/personas.yml", line) for line in starts
    ]


def _totals(rec: Recommendation, op: str, limit: str) -> list[str]:
    return [
        f"offer {o['rank']}: total_price is {o['total_price']:g}, expected {op} {limit}"
        for o in rec.offers
    ]


def _pedals(rec: Recommendation) -> list[str]:
    return [
        f"offer {o['rank']}: required pedals {i['sku']} cleat_system is "
        f"{i['attributes']['cleat_system']}, expected look_keo"
        for o in rec.offers
        for i in o["items"]
        if i["role"] == "required" and i["category"] == "pedals"
    ]


def _helmet(rec: Recommendation) -> list[str]:
    sku = next(c["sku"] for c in rec.cross_sell if c["category"] == "helmet")
    return ["cross_sell lacks lights", f"cross_sell has helmet ({sku}), expected none"]


Expected = Callable[[Recommendation], list[str]]


@pytest.mark.parametrize(
    ("answers", "expect", "expected"),
    [
        (BEGINNER, "{offers: {min: 4, max: 5}}", lambda r: ["got 3 offers, expected 4 to 5"]),
        (BEGINNER, "{offers: {min: 2, max: 2}}", lambda r: ["got 3 offers, expected 2"]),
        (
            BEGINNER,
            "{relaxed: true, relaxed_mentions: [budget]}",
            lambda r: [
                "nothing was relaxed, expected a relaxation",
                "relaxed does not mention 'budget' (nothing relaxed)",
            ],
        ),
        (
            LOW_BUDGET,
            "{relaxed: false, relaxed_mentions: [frame]}",
            lambda r: [
                f"relaxed {'; '.join(r.relaxed)!r}, expected nothing relaxed",
                f"relaxed does not mention 'frame' ({'; '.join(r.relaxed)})",
            ],
        ),
        (
            BEGINNER,
            "{each_offer: {main: {frame_size_cm: 58}}}",
            lambda r: [f"offer {n}: main frame_size_cm is 56, expected 58" for n in (1, 2, 3)],
        ),
        (
            BEGINNER,
            "{first_offer: {main: {frame_size_cm: {in: [47, 49]}, geometry: {ne: endurance}}}}",
            lambda r: [
                "first offer: main frame_size_cm is 56, expected one of [47, 49]",
                "first offer: main geometry is endurance, expected not endurance",
            ],
        ),
        (
            BEGINNER,
            "{each_offer: {total_price: {gt: 20000}}}",
            lambda r: _totals(r, ">", "20000"),
        ),
        (BEGINNER, "{each_offer: {required: {pedals: {cleat_system: look_keo}}}}", _pedals),
        (
            BEGINNER,
            "{each_offer: {alerts: true}}",
            lambda r: [f"offer {o['rank']}: no alerts, expected some" for o in r.offers],
        ),
        (BEGINNER, "{cross_sell: {includes: [lights], excludes: [helmet]}}", _helmet),
    ],
    ids=[
        "offer-count-range",
        "offer-count-exact",
        "relaxed-expected",
        "relaxed-unexpected",
        "each-offer-main",
        "first-offer-main",
        "total-price",
        "required-item",
        "alerts",
        "cross-sell",
    ],
)
def test_run_personas_reports_exact_failures(
    ruleset_dir: Path,
    loaded: LoadedRuleSet,
    engine: AdviceEngine,
    answers: str,
    expect: str,
    expected: Expected,
) -> None:
    _write(ruleset_dir, _persona(answers, expect))
    (result,) = _run(ruleset_dir, loaded, engine)
    persona = load_personas(ruleset_dir)[0]
    wanted = expected(engine.recommend(persona.answers))
    assert wanted, "the case must expect at least one failure"
    assert not result.passed
    assert result.failures == wanted


@pytest.mark.parametrize(
    ("text", "needle", "message"),
    [
        (
            _persona(BEGINNER, "{relaxd: false}"),
            "relaxd",
            "unknown key 'relaxd', did you mean 'relaxed'?",
        ),
        (
            _persona(BEGINNER, "{each_offer: {mian: {frame_size_cm: 56}}}"),
            "mian",
            "unknown key 'mian', did you mean 'main'?",
        ),
        (
            _persona("{usage: endurance, experiance: beginner}", "{}"),
            "experiance",
            "unknown question 'experiance', did you mean 'experience'?",
        ),
        (
            _persona("{usage: endurnce}", "{}"),
            "endurnce",
            "'endurnce' is not an option of question 'usage' (endurance, racing, commute), "
            "did you mean 'endurance'?",
        ),
        (
            _persona("{shoes_owned: [spd]}", "{}"),
            "[spd]",
            "['spd'] is not an option of question 'shoes_owned'",
        ),
        (_persona("{budget: '1500'}", "{}"), "'1500'", "budget is a number, not '1500'"),
        (
            _persona("{body_height_cm: 300}", "{}"),
            "300",
            "body_height_cm 300 is outside 120 to 220",
        ),
        (
            _persona(BEGINNER, "{each_offer: {total_price: {lte: 1500}}}"),
            "lte",
            "unknown operator 'lte'",
        ),
        (
            _persona(BEGINNER, "{each_offer: {main: {frame_sise: 56}}}"),
            "56}",
            "unknown attribute 'frame_sise', did you mean 'frame_size_cm'?",
        ),
        (
            _persona(BEGINNER, "{first_offer: {main: {geometry: {in: [endurence]}}}}"),
            "endurence",
            "'endurence' is not a value of geometry",
        ),
        (
            _persona(BEGINNER, "{each_offer: {required: {pedal: {cleat_system: flat}}}}"),
            "pedal:",
            "no requirement adds 'pedal' items, did you mean 'pedals'?",
        ),
        (
            _persona(BEGINNER, "{cross_sell: {includes: [helmets]}}"),
            "helmets",
            "no cross-sell rule suggests 'helmets', did you mean 'helmet'?",
        ),
        (
            _persona(BEGINNER, "{offers: {min: 3, max: 2}}"),
            "{min: 3",
            "offers: min (3) must not exceed max (2)",
        ),
        (
            _persona(BEGINNER, "{each_offer: {alerts: no}}"),
            "no}",
            "alerts: Input should be a valid boolean",
        ),
        (
            "personas:\n  - answers: {}\n",
            "answers",
            "missing required key 'name'",
        ),
    ],
    ids=[
        "unknown-key",
        "unknown-nested-key",
        "unknown-question",
        "bad-option",
        "option-not-a-word",
        "number-as-text",
        "number-out-of-range",
        "unknown-operator",
        "unknown-attribute",
        "bad-attribute-value",
        "unknown-required-category",
        "unknown-cross-sell-category",
        "min-above-max",
        "yaml-1.1-boolean",
        "missing-name",
    ],
)
def test_load_personas_reports_file_line_column(
    ruleset_dir: Path, text: str, needle: str, message: str
) -> None:
    path = _write(ruleset_dir, text)
    with pytest.raises(RuleSetError) as caught:
        load_personas(ruleset_dir, root=ruleset_dir.parent.parent)
    (problem,) = caught.value.problems
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if needle in s)
    column = path.read_text().splitlines()[line - 1].index(needle) + 1
    assert str(problem).startswith(f"rules/road_bike/personas.yml:{line}:{column}: {message}")


def test_load_personas_reports_yaml_syntax_error(ruleset_dir: Path) -> None:
    _write(ruleset_dir, _persona("{usage: [endurance}", "{}"))
    with pytest.raises(RuleSetError) as caught:
        load_personas(ruleset_dir, root=ruleset_dir.parent.parent)
    (problem,) = caught.value.problems
    assert problem.file == "rules/road_bike/personas.yml"
    assert problem.line == 3
    assert problem.message.startswith("invalid YAML")


def test_load_personas_reports_problems_of_every_file_in_order(ruleset_dir: Path) -> None:
    _write(ruleset_dir, _persona("{usage: endurnce}", "{relaxed: maybe}"), "personas_b.yml")
    _write(ruleset_dir, _persona("{colour: red, usage: racin}", "{}"), "personas.yml")
    with pytest.raises(RuleSetError) as caught:
        load_personas(ruleset_dir)
    found = [(Path(p.file).name, p.line, p.column) for p in caught.value.problems]
    assert found == [("personas.yml", 3, 15), ("personas.yml", 3, 35), ("personas_b.yml", 4, 23)]


def test_load_personas_reads_every_personas_file(ruleset_dir: Path) -> None:
    _write(ruleset_dir, _persona(BEGINNER, "{}"))
    _write(ruleset_dir, _persona(LOW_BUDGET, "{}").replace("case", "second"), "personas_more.yml")
    _write(ruleset_dir, _persona("{usage: racin}", "{}"), "_personas_draft.yml")  # not read
    personas = load_personas(ruleset_dir, root=ruleset_dir.parent.parent)
    assert [(p.name, p.file, p.line) for p in personas] == [
        ("case", "rules/road_bike/personas.yml", 2),
        ("second", "rules/road_bike/personas_more.yml", 2),
    ]
    assert personas[0].answers["budget"] == 1500


def test_load_personas_without_file_returns_nothing(ruleset_dir: Path) -> None:
    assert load_personas(ruleset_dir) == []


def test_run_personas_refuses_engine_of_another_ruleset(
    loaded: LoadedRuleSet, engine: AdviceEngine
) -> None:
    renamed = replace(loaded, ruleset=loaded.ruleset.model_copy(update={"id": "other"}))
    with pytest.raises(ValueError, match="engine runs 'road_bike', not 'other'"):
        run_personas(renamed, engine, [])


def test_format_results_lists_personas_and_summary() -> None:
    results = [
        PersonaResult("beginner", "rules/road_bike/personas.yml", 2, True),
        PersonaResult(
            "racer",
            "rules/road_bike/personas.yml",
            14,
            False,
            ["offer 2: main frame_size_cm is 58, expected 56", "cross_sell lacks helmet"],
        ),
    ]
    assert format_results(results) == (
        "PASS rules/road_bike/personas.yml:2 beginner\n"
        "FAIL rules/road_bike/personas.yml:14 racer\n"
        "    offer 2: main frame_size_cm is 58, expected 56\n"
        "    cross_sell lacks helmet\n"
        "1 passed, 1 failed"
    )


SHIPPED = [d for d in discover_rulesets(RULES) if any(d.glob("personas*.yml"))]


@pytest.mark.parametrize("directory", SHIPPED, ids=[d.name for d in SHIPPED])
def test_run_shipped_personas_pass(directory: Path, demo_db: Engine) -> None:
    item = load_ruleset(directory, root=RULES.parent)
    personas = load_personas(directory, root=RULES.parent, ruleset=item.ruleset)
    results = run_personas(item, AdviceEngine(item.ruleset, demo_db), personas)
    assert results, "a personas file with no persona"
    assert all(r.passed for r in results), format_results(results)
