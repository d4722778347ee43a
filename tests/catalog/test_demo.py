from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine, func, select

from catalog.cli import main
from catalog.db import create_tables
from catalog.demo import DemoStats, build_demo_catalog, demo_relations, demo_rows
from catalog.models import Product, ProductRelation, RelationKind

ROAD_SIZES = {47, 49, 50, 52, 54, 56, 58, 60, 62}
CLEAT_SYSTEMS = {"flat", "spd", "spd_sl", "look_keo"}


def _memory_engine() -> Engine:
    return create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )


def _build(engine: Engine) -> DemoStats:
    create_tables(engine)
    with Session(engine) as session:
        return build_demo_catalog(session)


@pytest.fixture(scope="module")
def catalogue() -> Iterator[tuple[Engine, DemoStats]]:
    engine = _memory_engine()
    stats = _build(engine)
    yield engine, stats
    engine.dispose()


@pytest.fixture(scope="module")
def products(catalogue: tuple[Engine, DemoStats]) -> list[Product]:
    with Session(catalogue[0]) as session:
        return list(session.exec(select(Product).order_by(Product.sku)))


@pytest.fixture(scope="module")
def relations(catalogue: tuple[Engine, DemoStats]) -> list[ProductRelation]:
    with Session(catalogue[0]) as session:
        return list(session.exec(select(ProductRelation)))


def _models(products: list[Product], category: str) -> dict[str, list[Product]]:
    models: dict[str, list[Product]] = defaultdict(list)
    for product in products:
        if product.category == category:
            models[product.group_sku].append(product)
    return models


def _sku_price_stock(engine: Engine) -> list[tuple[str, float, int]]:
    with Session(engine) as session:
        query = select(Product.sku, Product.price, Product.stock).order_by(Product.sku)
        return list(session.exec(query))


# --- determinism and totals ---------------------------------------------------------


def test_build_identical_rows_every_time(catalogue: tuple[Engine, DemoStats]) -> None:
    second = _memory_engine()
    try:
        _build(second)
        assert _sku_price_stock(second) == _sku_price_stock(catalogue[0])
    finally:
        second.dispose()
    first, again = demo_rows(), demo_rows()
    assert [r.model_dump() for r in first] == [r.model_dump() for r in again]


def test_report_counts_matching_the_database(
    catalogue: tuple[Engine, DemoStats], products: list[Product], relations: list[ProductRelation]
) -> None:
    stats = catalogue[1]
    assert stats.products == len(products)
    assert stats.relations == len(relations)
    assert stats.total_rows == len(products) + len(relations)
    assert stats.products_per_category == dict(Counter(p.category for p in products))
    assert sum(stats.models_per_category.values()) == len({p.group_sku for p in products})


def test_keep_skus_unique_and_models_consistent(products: list[Product]) -> None:
    assert len({p.sku for p in products}) == len(products)
    by_model: dict[str, set[tuple[str, str, str, float]]] = defaultdict(set)
    for p in products:
        by_model[p.group_sku].add((p.name, p.brand, p.category, p.price))
    assert all(len(facts) == 1 for facts in by_model.values())


# --- counts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "minimum"),
    [
        ("road_bike", 44),
        ("gravel_bike", 10),
        ("city_bike", 8),
        ("mountain_bike", 8),
        ("e_bike", 6),
        ("pedals", 14),
        ("shoes", 8),
        ("helmet", 6),
        ("lights", 6),
        ("bottle_cage", 4),
        ("lock", 4),
        ("bike_computer", 3),
    ],
    ids=lambda value: str(value),
)
def test_count_models_per_category(products: list[Product], category: str, minimum: int) -> None:
    assert len(_models(products, category)) >= minimum


@pytest.mark.parametrize("geometry", ["race", "endurance", "aero"], ids=str)
def test_offer_many_road_models_per_geometry(products: list[Product], geometry: str) -> None:
    models = _models(products, "road_bike")
    assert sum(1 for v in models.values() if v[0].geometry == geometry) >= 8


def test_spread_road_bikes_over_brands_and_materials(products: list[Product]) -> None:
    road = [p for p in products if p.category == "road_bike"]
    assert len({p.brand for p in road}) >= 7
    assert {p.frame_material for p in road} == {"aluminium", "carbon", "steel", "titanium"}


# --- road bikes -------------------------------------------------------------------------


def test_cover_frame_sizes_47_to_62(products: list[Product]) -> None:
    assert {p.frame_size_cm for p in products if p.category == "road_bike"} == ROAD_SIZES


def test_give_every_road_model_five_to_eight_sizes(products: list[Product]) -> None:
    for group_sku, variants in _models(products, "road_bike").items():
        sizes = {v.frame_size_cm for v in variants}
        assert 5 <= len(sizes) == len(variants) <= 8, group_sku
        assert sizes <= ROAD_SIZES, group_sku
        assert all(v.sku == f"{group_sku}-{v.frame_size_cm}" for v in variants)


@pytest.mark.parametrize(
    ("low", "high", "minimum"),
    [(600, 899.99, 3), (1000, 1800, 5), (2000, 4000, 5), (5000.01, 8000, 2)],
    ids=["under-900", "1000-1800", "2000-4000", "over-5000"],
)
def test_spread_road_bike_prices(
    products: list[Product], low: float, high: float, minimum: int
) -> None:
    prices = [v[0].price for v in _models(products, "road_bike").values()]
    assert all(600 <= price <= 8000 for price in prices)
    assert sum(1 for price in prices if low <= price <= high) >= minimum


def test_keep_road_bike_specs_plausible(products: list[Product]) -> None:
    road = [p for p in products if p.category == "road_bike"]
    assert all(p.wheel_size == "700c" and 25 <= (p.tyre_width_mm or 0) <= 32 for p in road)
    assert all(p.brake_type in {"rim", "disc", "hydraulic_disc"} for p in road)
    assert all(p.price < 2500 for p in road if p.brake_type == "rim")
    assert Counter(p.brake_type for p in road).most_common(1)[0][0] == "hydraulic_disc"
    assert all(6.5 <= (p.weight_kg or 0) <= 11 and 18 <= p.margin_pct <= 38 for p in road)
    with_pedals = {p.group_sku for p in road if p.pedals_included}
    assert 1 <= len(with_pedals) <= 6
    assert all(p.price < 1000 for p in road if p.pedals_included)


def test_sell_some_sizes_out_of_stock(products: list[Product]) -> None:
    road = _models(products, "road_bike")
    stocks = [v.stock for variants in road.values() for v in variants]
    assert 0 in stocks
    assert sum(1 for s in stocks if 1 <= s <= 12) > 0.75 * len(stocks)
    assert max(stocks) <= 12
    assert any(sum(1 for v in variants if v.stock == 0) >= 2 for variants in road.values())


def test_find_beginner_endurance_bikes_in_size_56(products: list[Product]) -> None:
    # A beginner at 182 cm rides a 56 cm frame; with 1500 EUR and about €50 for
    # pedals, the bike itself may cost up to 1450 EUR.
    matches = {
        p.group_sku
        for p in products
        if p.category == "road_bike"
        and p.geometry == "endurance"
        and p.frame_size_cm == 56
        and p.in_stock
        and p.price <= 1450
    }
    assert len(matches) >= 3


# --- other bikes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "geometries", "pedals"),
    [
        ("gravel_bike", {"allroad"}, False),
        ("city_bike", {"comfort"}, True),
        ("mountain_bike", {"trail"}, False),
        ("e_bike", {"comfort", "trail"}, True),
    ],
    ids=["gravel", "city", "mountain", "e-bike"],
)
def test_give_other_bikes_their_geometry_and_pedals(
    products: list[Product], category: str, geometries: set[str], pedals: bool
) -> None:
    models = _models(products, category)
    assert {v[0].geometry for v in models.values()} <= geometries
    assert all(v.frame_size_cm is not None for variants in models.values() for v in variants)
    assert all(len(variants) >= 3 for variants in models.values())
    # "Mostly": a few entry models may differ for gravel and mountain bikes.
    matching = sum(1 for v in models.values() if v[0].pedals_included is pedals)
    assert matching >= len(models) - (0 if pedals else 2)


def test_keep_other_bike_specs_plausible(products: list[Product]) -> None:
    assert all(38 <= (p.tyre_width_mm or 0) <= 50 for p in products if p.category == "gravel_bike")
    for p in (p for p in products if p.category == "mountain_bike"):
        assert 100 <= (p.suspension_travel_mm or 0) <= 160
        assert p.wheel_size in {"27.5", "29"} and p.size in {"XS", "S", "M", "L", "XL"}
    for p in (p for p in products if p.category == "e_bike"):
        assert p.motor is True and 400 <= (p.battery_wh or 0) <= 750


# --- accessories -----------------------------------------------------------------------


@pytest.mark.parametrize("category", ["pedals", "shoes"], ids=str)
def test_offer_all_cleat_systems(products: list[Product], category: str) -> None:
    assert {p.cleat_system for p in products if p.category == category} == CLEAT_SYSTEMS


def test_offer_beginner_pedals(products: list[Product]) -> None:
    pedals = [p for p in products if p.category == "pedals"]
    per_system = Counter(p.cleat_system for p in pedals)
    assert per_system["flat"] >= 4 and per_system["spd"] >= 4
    assert per_system["spd_sl"] >= 3 and per_system["look_keo"] >= 3
    assert any(p.cleat_system == "flat" and 20 <= p.price <= 35 and p.in_stock for p in pedals)
    assert any(p.cleat_system == "spd" and 40 <= p.price <= 50 and p.in_stock for p in pedals)
    assert all(p.pedals_included is None and p.frame_size_cm is None for p in pedals)


def test_size_shoes_39_to_47(products: list[Product]) -> None:
    for group_sku, variants in _models(products, "shoes").items():
        assert sorted(v.shoe_size_eu or 0 for v in variants) == list(range(39, 48)), group_sku
        assert 60 <= variants[0].price <= 350


def test_size_helmets_s_m_l(products: list[Product]) -> None:
    for variants in _models(products, "helmet").values():
        assert sorted(v.size or "" for v in variants) == ["L", "M", "S"]
        assert 40 <= variants[0].price <= 280


def test_describe_lights_by_mounting_and_output(products: list[Product]) -> None:
    lights = [p for p in products if p.category == "lights"]
    assert {p.mounting for p in lights} == {"front", "rear", "set"}
    assert all((p.light_lumen or 0) > 0 for p in lights)


# --- texts and relations ----------------------------------------------------------------


def test_use_no_filler_text(products: list[Product]) -> None:
    filler = re.compile(r"lorem|ipsum|\bproduct \d+|\btest\b|todo", re.IGNORECASE)
    for p in products:
        assert not filler.search(f"{p.name} {p.description}"), p.sku
        assert 1 <= len(re.findall(r"[.!?](?:\s|$)", p.description)) <= 2, p.sku
        assert "colour" in p.extra or p.category not in {"road_bike", "gravel_bike"}


def test_link_shoes_to_pedals_of_same_cleat_system(
    products: list[Product], relations: list[ProductRelation]
) -> None:
    cleat = {p.group_sku: p.cleat_system for p in products if p.cleat_system}
    category = {p.group_sku: p.category for p in products}
    shoe_links = [r for r in relations if category[r.source] == "shoes"]
    assert {r.kind for r in shoe_links} == {RelationKind.COMPATIBLE_WITH}
    assert all(cleat[r.source] == cleat[r.target] for r in shoe_links)
    pedals = Counter(cleat[g] for g, c in category.items() if c == "pedals")
    linked = Counter(r.source for r in shoe_links)
    assert all(linked[shoe] == pedals[cleat[shoe]] for shoe in cleat if category[shoe] == "shoes")


def test_link_e_bikes_to_a_lock_or_light(
    products: list[Product], relations: list[ProductRelation]
) -> None:
    category = {p.group_sku: p.category for p in products}
    targets = {category[r.target] for r in relations if category[r.source] == "e_bike"}
    assert targets and targets <= {"lock", "lights"}
    assert all(r.source in category and r.target in category for r in relations)
    assert len(relations) == len(demo_relations())


# --- command line -------------------------------------------------------------------


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(Product)).one()
    finally:
        engine.dispose()


def test_build_demo_once_then_report_it_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'catalog.db'}"
    total = len(demo_rows())
    assert main(["build-demo", "--database-url", url]) == 0
    err = capsys.readouterr().err
    assert "creating tables…" in err and f"inserting {total} products…" in err
    assert re.search(r"done: .* in \d+\.\d\d s", err)

    assert main(["build-demo", "--database-url", url]) == 0
    expected = f"catalogue already built: {total} products (use --force to rebuild)"
    assert expected in capsys.readouterr().err
    assert _count(url) == total


def test_rebuild_demo_with_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    assert main(["build-demo", "--database-url", url]) == 0
    engine = create_engine(url)
    with Session(engine) as session:
        for product in session.exec(select(Product).where(Product.category == "helmet")):
            session.delete(product)
        session.commit()
    engine.dispose()
    assert _count(url) < len(demo_rows())

    assert main(["build-demo", "--database-url", url, "--force"]) == 0
    assert "inserting" in capsys.readouterr().err
    assert _count(url) == len(demo_rows())


def test_print_stats_per_category(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    assert main(["build-demo", "--database-url", url]) == 0
    capsys.readouterr()
    assert main(["stats", "--database-url", url]) == 0
    out = capsys.readouterr().out
    road = re.search(r"^road_bike\s+(\d+)\s+(\d+)\s+(\d+)$", out, re.MULTILINE)
    assert road and int(road.group(1)) >= 44
    assert re.search(rf"^total\s+\d+\s+{len(demo_rows())}\s+\d+$", out, re.MULTILINE)


@pytest.mark.parametrize(
    "make_url",
    [
        lambda tmp: f"sqlite:///{tmp / 'a-file' / 'catalog.db'}",
        lambda tmp: "postgresql://shop:s3cret@127.0.0.1:1/catalog",
        lambda tmp: "not a url",
    ],
    ids=["sqlite-dir-is-a-file", "postgres-refused", "unparseable"],
)
@pytest.mark.parametrize("command", ["build-demo", "stats"], ids=str)
def test_report_database_errors_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_url: Callable[[Path], str],
    command: str,
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    assert main([command, "--database-url", make_url(tmp_path)]) == 1
    *progress, last = capsys.readouterr().err.strip().splitlines()
    assert all(line.endswith("…") for line in progress)
    assert last.startswith(("catalog: database error at ", "no catalogue at "))
    assert "s3cret" not in last


def test_refuse_stats_without_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    assert main(["stats", "--database-url", url]) == 1
    assert "catalog build-demo" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("argv", [[], ["bogus"]], ids=["no-command", "unknown-command"])
def test_reject_bad_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: catalog" in capsys.readouterr().err
