"""After an import, products gone from the feed are never offered, and the rule checks say
which values the rules use that the catalogue now lacks."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from catalog.db import make_engine
from catalog.demo import DEMO_FEED, DEMO_MAPPING, build_demo_database
from catalog.importing import import_feed, load_mapping
from product_rules.cli import main as product_rules
from product_rules.engine import AdviceEngine
from product_rules.loader import load_all
from tests.product_rules.test_engine import BEGINNER, RACER_LOOK

RULES = Path(__file__).resolve().parents[2] / "product_rules" / "rules"


def _feed_without(tmp_path: Path, leave_out: Any) -> Path:
    """The demo data file without the rows ``leave_out(row)`` picks (with its mapping)."""
    with DEMO_FEED.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    feed = tmp_path / "demo_products.csv"
    with feed.open("w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if not leave_out(r))
    for name in ("demo_mapping.yml", "demo_relations.csv"):
        (tmp_path / name).write_bytes((DEMO_MAPPING.parent / name).read_bytes())
    return feed


def _skus(recommendation: Any) -> set[str]:
    items = {i["sku"] for offer in recommendation.offers for i in offer["items"]}
    return items | {c["sku"] for c in recommendation.cross_sell}


def test_never_offer_a_product_gone_from_the_feed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    build_demo_database(url)
    engine = make_engine(url)
    ruleset = load_all(RULES)[0]["road_bike"].ruleset
    first = AdviceEngine(ruleset, engine).recommend(BEGINNER)
    offered = _skus(first)
    main_model = first.offers[0]["items"][0]["sku"].rsplit("-", 1)[0]
    models = {main_model} | {s for s in offered if s.count("-") == 2}  # one-size accessories
    feed = _feed_without(tmp_path, lambda r: r["group_sku"] in models)

    report = import_feed(engine, feed, "csv", load_mapping(tmp_path / "demo_mapping.yml"))

    assert report.unavailable > 0
    # Their relations name models the feed no longer has: reported, left out.
    assert report.problems and {p.file for p in report.problems} == {"demo_relations.csv"}
    again = AdviceEngine(ruleset, engine).recommend(BEGINNER)
    assert again.offers, "the rest of the catalogue still gives offers"
    gone = {s for s in _skus(again) if s.rsplit("-", 1)[0] in models or s in models}
    assert not gone, f"offered products that left the feed: {gone}"
    engine.dispose()


def test_check_names_the_values_the_catalogue_lacks_after_an_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    build_demo_database(url)
    assert product_rules(["--database-url", url, "check", str(RULES)]) == 0
    capsys.readouterr()
    engine = make_engine(url)
    feed = _feed_without(tmp_path, lambda r: r["cleat_system"] == "look_keo")
    import_feed(engine, feed, "csv", load_mapping(tmp_path / "demo_mapping.yml"))
    engine.dispose()

    product_rules(["--database-url", url, "check", str(RULES)])
    out, err = capsys.readouterr()

    report = out + err
    assert "no pedals has cleat_system 'look_keo'" in report
    assert "no shoes has cleat_system 'look_keo'" in report
    # And the racer who owns Keo shoes is no longer offered Keo pedals.
    ruleset = load_all(RULES)[0]["road_bike"].ruleset
    engine = make_engine(url)
    offers = AdviceEngine(ruleset, engine).recommend(RACER_LOOK).offers
    cleats = {i["attributes"].get("cleat_system") for o in offers for i in o["items"]}
    assert "look_keo" not in cleats
    engine.dispose()
