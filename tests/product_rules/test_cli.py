"""``product-rules`` as merchandisers and CI run it, on the shipped rules and demo catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.demo import build_demo_database
from product_rules.cli import main

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'catalog.db'}"
    build_demo_database(url)
    return url


def test_check_shipped_rulesets_clean(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", database_url, "check", str(RULES)]) == 0
    err = capsys.readouterr().err
    for ruleset in ("road_bike", "gravel_bike", "city_bike", "e_bike"):
        assert f"checked {ruleset}" in err
    assert err.rstrip().endswith("ok")


def test_test_shipped_personas_pass(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--database-url", database_url, "test", str(RULES)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    assert out.rstrip().endswith(" 0 failed")


def test_check_broken_rule_exits_nonzero_with_location(
    database_url: str, rules_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    filters = rules_copy / "road_bike" / "filters.yml"
    filters.write_text(
        filters.read_text().replace("attribute: frame_size_cm", "attribute: frame_sise")
    )
    assert main(["--database-url", database_url, "check", str(rules_copy)]) == 1
    out = capsys.readouterr().out
    line = next(
        i for i, text in enumerate(filters.read_text().splitlines(), 1) if "frame_sise" in text
    )
    assert (
        f"rules/road_bike/filters.yml:{line}:16: unknown attribute 'frame_sise', "
        "did you mean 'frame_size_cm'?" in out
    )


def test_explain_prints_offers_and_trace(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = (
        '{"usage": "endurance", "experience": "beginner", "budget": 1500, "body_height_cm": 182}'
    )
    assert main(["--database-url", database_url, "explain", "--answers", answers]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["type"] == "offers" and output["offers"] and output["trace"]


def test_diff_identical_rules_reports_no_change(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["--database-url", database_url, "diff", str(RULES), str(RULES), "--samples", "20"])
        == 0
    )
    assert "0 of 20 answer sets change" in capsys.readouterr().out


def test_publish_versions_rollback(
    database_url: str, rules_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = rules_copy / "city_bike"
    assert (
        main(
            ["--database-url", database_url, "publish", str(folder), "--author", "mia", "-m", "go"]
        )
        == 0
    )
    (folder / "ruleset.yml").write_text((folder / "ruleset.yml").read_text() + "\n# tweak\n")
    assert main(["--database-url", database_url, "publish", str(folder), "--author", "tom"]) == 0
    assert (
        main(["--database-url", database_url, "rollback", "city_bike", "1", "--author", "lead"])
        == 0
    )
    assert main(["--database-url", database_url, "versions", "city_bike"]) == 0
    out = capsys.readouterr().out
    assert "published city_bike v1 (new version)" in out
    assert (
        "published city_bike v2 (new version)" in out and "changed ruleset.yml: +2 -0 lines" in out
    )
    assert "city_bike v1  rollback by lead" in out
    broken = rules_copy / "city_bike" / "filters.yml"
    broken.write_text(broken.read_text().replace("attribute:", "atribute:", 1))
    assert main(["--database-url", database_url, "publish", str(folder), "--author", "mia"]) == 1
    assert "refused city_bike; the version in service stays:" in capsys.readouterr().out


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"Question", "Filter", "Requirement", "CrossSellRule", "Compatibility", "Alert"} <= set(
        schema["$defs"]
    )
