"""``catalog import``: each sample feed end to end, as a merchandiser would check it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from catalog.cli import main
from catalog.db import make_engine
from catalog.importing import MappingError, default_mapping, import_feed, load_mapping
from catalog.models import Product, ProductRelation, RelationKind

DATA = Path(__file__).resolve().parent / "data"
SHOPIFY = DATA / "shopify_products.csv"
MERCHANT_TSV = DATA / "merchant_feed.tsv"
MERCHANT_XML = DATA / "merchant_feed.xml"
ARTIKEL = DATA / "artikel.csv"
ARTIKEL_MAPPING = DATA / "artikel_mapping.yml"


@pytest.fixture()
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def _products(url: str) -> dict[str, Product]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return {p.sku: p for p in session.exec(select(Product))}
    finally:
        engine.dispose()


def _relations(url: str) -> set[tuple[str, str, RelationKind]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return {(r.source, r.target, r.kind) for r in session.exec(select(ProductRelation))}
    finally:
        engine.dispose()


def _dump(url: str) -> list[dict[str, Any]]:
    return [p.model_dump() for _, p in sorted(_products(url).items())]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- each format end to end ----------------------------------------------------------


def test_import_shopify_variants_with_their_options(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, "import", "shopify", str(SHOPIFY), "--database-url", url)

    assert status == 3, "rows were left out: the documented status says so"
    products = _products(url)
    tempo = [p for p in products.values() if p.group_sku == "velora-tempo-3"]
    # The first row carries the product, the three continuation rows only variant fields.
    assert sorted(p.frame_size_cm or 0 for p in tempo) == [52, 54, 56, 58]
    assert {p.name for p in tempo} == {"Velora Tempo 3"}
    assert {p.category for p in tempo} == {"road_bike"}
    assert {p.geometry for p in tempo} == {"endurance"}
    assert {p.frame_material for p in tempo} == {"aluminium"}
    assert products["VEL-TMP3-56"].stock == 0 and products["VEL-TMP3-54"].stock == 5
    # The multi-line HTML body is one line of text, tags gone.
    assert products["VEL-TMP3-58"].description.startswith("Ein Aluminium-Endurance-Rennrad")
    assert "<" not in products["VEL-TMP3-58"].description
    assert "Shimano Tiagra 2x10" in products["VEL-TMP3-58"].description
    # Margin from "Cost per item": (1099 - 820) / 1099.
    assert products["VEL-TMP3-52"].margin_pct == pytest.approx(25.4)
    # German decimals, with and without the euro sign.
    assert products["VEL-SPR6-54"].price == 3299.0
    assert products["BGW-TR5-M"].price == 1899.0
    # "M" through the mapping's size table for mountain bikes.
    assert (products["BGW-TR5-M"].size, products["BGW-TR5-M"].frame_size_cm) == ("M", 44)
    # Cleat system from the tags; shoe sizes from the option.
    assert products["CDZ-520"].cleat_system == "spd"
    assert products["TGR-CMT"].cleat_system == "flat"
    assert products["CDZ-TRK-42"].shoe_size_eu == 42.0
    assert products["CDZ-TRK-42"].cleat_system == "spd"
    assert _relations(url) == {
        ("clipper-520", "velora-tempo-3", RelationKind.ACCESSORY_OF),
        ("cadenza-trekk", "clipper-520", RelationKind.COMPATIBLE_WITH),
    }
    # The draft is left out on purpose, the image-only row is no variant.
    assert "VEL-TMP9-56" not in products
    assert len(products) == 13
    assert "13 mapped" in out and "1 ignored" in out


@pytest.mark.parametrize("feed", [MERCHANT_TSV, MERCHANT_XML], ids=["tsv", "xml"])
def test_import_merchant_feed(url: str, feed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, _ = _run(capsys, "import", "merchant", str(feed), "--database-url", url)

    assert status == 3
    products = _products(url)
    assert set(products) == {
        "NV-TUN6-54",
        "NV-TUN6-56",
        "NV-TUN6-58",
        "ARD-TMP1-52",
        "ARD-TMP1-56",
        "KTR-SCE-M",
        "CLQ-RT1",
        "CDZ-520",
        "HWK-CMM-M",
    }
    gravel = products["NV-TUN6-58"]
    assert (gravel.category, gravel.group_sku, gravel.frame_size_cm) == (
        "gravel_bike",
        "NV-TUN6",
        58,
    )
    assert gravel.price == 1899.0, "1.899,00 EUR"
    # availability to stock: preorder and backorder cannot ship now.
    assert products["NV-TUN6-54"].stock == 1 and products["NV-TUN6-56"].stock == 0
    assert gravel.stock == 0 and gravel.extra["availability"] == "preorder"
    assert products["ARD-TMP1-56"].extra["availability"] == "backorder"
    # Category from google_product_category when product_type is empty.
    road = products["ARD-TMP1-52"]
    assert (road.category, road.price, road.pedals_included) == ("road_bike", 699.0, True)
    assert products["CLQ-RT1"].cleat_system == "look_keo"
    assert products["KTR-SCE-M"].frame_size_cm == 44
    assert products["NV-TUN6-54"].extra["gtin"] == "4012345678901"


def test_merchant_tsv_and_xml_give_the_same_catalogue(tmp_path: Path) -> None:
    dumps = []
    for feed in (MERCHANT_TSV, MERCHANT_XML):
        url = f"sqlite:///{tmp_path / (feed.suffix[1:] + '.db')}"
        assert main(["import", "merchant", str(feed), "--database-url", url]) == 3
        dumps.append([{k: v for k, v in d.items() if k != "id"} for d in _dump(url)])
    assert dumps[0] == dumps[1]


def test_import_generic_csv_with_a_mapping(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys,
        "import",
        "csv",
        str(ARTIKEL),
        "--mapping",
        str(ARTIKEL_MAPPING),
        "--database-url",
        url,
    )

    assert status == 3
    products = _products(url)
    assert set(products) == {"RAD-100-52", "RAD-100-56", "PED-FLAT", "PED-SPD", "HLM-S"}
    city = products["RAD-100-52"]
    assert (city.category, city.price, city.frame_size_cm) == ("city_bike", 749.0, 52)
    assert city.pedals_included is True and city.weight_kg == 16.8
    assert "Licht, Ständer und Gepäckträger" in city.description
    assert products["HLM-S"].price == 1049.0
    assert products["PED-SPD"].cleat_system == "spd"
    assert _relations(url) == {("PED-FLAT", "RAD-100", RelationKind.ACCESSORY_OF)}
    assert "artikel_relations.csv:3: relation accessory_of names 'RAD-999'" in out


# --- what cannot be mapped is reported with its line -----------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["shopify", str(SHOPIFY)],
            [
                "shopify_products.csv:21: no SKU (Variant SKU empty)",
                "shopify_products.csv:22: price 'neunundvierzig' is not a number",
                "shopify_products.csv:24: no category for Type 'Gutschein'",
            ],
        ),
        (
            ["merchant", str(MERCHANT_TSV)],
            [
                "merchant_feed.tsv:12: no price",
                "merchant_feed.tsv:13: availability 'vielleicht' is none of in_stock",
                "merchant_feed.tsv:14: price '1,299' is ambiguous",
            ],
        ),
        (
            ["merchant", str(MERCHANT_XML)],
            [
                "merchant_feed.xml:116: no price",
                "merchant_feed.xml:126: availability 'vielleicht'",
                "merchant_feed.xml:135: price '1,299' is ambiguous",
            ],
        ),
        (
            ["csv", str(ARTIKEL), "--mapping", str(ARTIKEL_MAPPING)],
            ["artikel.csv:7: cleat_system 'Magnet' is none of flat, spd, spd_sl, look_keo"],
        ),
    ],
    ids=["shopify", "merchant-tsv", "merchant-xml", "csv"],
)
def test_report_rows_left_out_with_their_physical_line(
    url: str, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
) -> None:
    status, out, err = _run(capsys, "import", *argv, "--dry-run", "--database-url", url)

    assert status == 3
    problems = [line for line in out.splitlines() if line.split(":")[1].isdigit()]
    assert len([p for p in problems if not p.startswith("artikel_relations")]) == len(expected)
    for line, wanted in zip(problems, expected, strict=False):
        assert line.startswith(wanted), line
    assert "left out (listed above as file:line: reason)" in err


def test_line_numbers_count_quoted_newlines(tmp_path: Path, url: str) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "sku,name,category,price\n"
        'A-1,"Zwei\nZeilen",pedals,"10,00"\n'
        'A-2,"Drei\nganze\nZeilen",pedals,zehn\n'
        "A-3,Eine,pedals,12.00\n"
        "A-4,,pedals,12.00\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "map.yml"
    mapping.write_text("fields: {sku: sku, name: name, price: price}\ncategory: {from: category}\n")
    report = import_feed(make_engine(url), feed, "csv", load_mapping(mapping), dry_run=True)
    assert [str(p) for p in report.problems] == [
        "feed.csv:4: price 'zehn' is not a number (field 'price')",
        "feed.csv:8: no name (name empty)",
    ]


# --- re-import, disappearance, dry run -------------------------------------------------


def test_reimport_changes_nothing(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "import", "shopify", str(SHOPIFY), "--database-url", url)
    before = _dump(url)

    status, out, _ = _run(capsys, "import", "shopify", str(SHOPIFY), "--database-url", url)

    assert status == 3
    assert "0 new, 0 updated, 13 unchanged, 0 now unavailable" in out
    assert _dump(url) == before


def test_update_changed_rows_by_sku(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "import", "shopify", str(SHOPIFY), "--database-url", url)
    ids = {sku: p.id for sku, p in _products(url).items()}
    changed = tmp_path / SHOPIFY.name
    changed.write_bytes(SHOPIFY.read_bytes().replace(b",44.90,", b",39.90,"))

    status, out, _ = _run(capsys, "import", "shopify", str(changed), "--database-url", url)

    assert status == 3
    assert "0 new, 1 updated, 12 unchanged" in out
    products = _products(url)
    assert products["CDZ-520"].price == 39.90
    assert {sku: p.id for sku, p in products.items()} == ids, "upserted in place, ids kept"


def test_products_gone_from_the_feed_become_unavailable(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "import", "shopify", str(SHOPIFY), "--database-url", url)
    lines = SHOPIFY.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    # Drop the Clipper pedal (lines 15-17: its body spans three lines).
    smaller = tmp_path / "smaller.csv"
    smaller.write_text("".join(lines[:14] + lines[17:]), encoding="utf-8")

    status, out, _ = _run(capsys, "import", "shopify", str(smaller), "--database-url", url)

    assert status == 3
    assert "0 new, 0 updated, 12 unchanged, 1 now unavailable" in out
    products = _products(url)
    assert products["CDZ-520"].available is False, "kept (offers may name it), not offered"
    assert sum(p.available for p in products.values()) == 12
    # Its relation came from its own tags: gone with it.
    assert ("clipper-520", "velora-tempo-3", RelationKind.ACCESSORY_OF) not in _relations(url)

    capsys.readouterr()
    assert main(["stats", "--database-url", url]) == 0
    stats = capsys.readouterr().out
    assert re.search(r"^pedals\s+1\s+1\s+1$", stats, re.MULTILINE), "only the flat pedal counts"
    assert "and 1 products no longer in the shop's feed (unavailable, never offered)" in stats

    # Back in the feed: available again.
    _run(capsys, "import", "shopify", str(SHOPIFY), "--database-url", url)
    assert _products(url)["CDZ-520"].available is True


def test_dry_run_changes_nothing(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "import", "merchant", str(MERCHANT_TSV), "--database-url", url)
    before, relations = _dump(url), _relations(url)

    status, out, _ = _run(
        capsys, "import", "shopify", str(SHOPIFY), "--dry-run", "--database-url", url
    )

    assert status == 3
    assert "12 new, 1 updated, 0 unchanged, 8 would be unavailable" in out
    assert "dry run: nothing was changed" in out
    assert _dump(url) == before and _relations(url) == relations


def test_refuse_a_feed_of_which_nothing_maps(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "import", "merchant", str(MERCHANT_TSV), "--database-url", url)
    before = _dump(url)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Handle,Title\nfoo,Bar\n", encoding="utf-8")

    status, out, err = _run(capsys, "import", "shopify", str(wrong), "--database-url", url)

    assert status == 1
    assert "wrong.csv:2: no SKU" in out
    assert "nothing was imported and the catalogue is unchanged" in err
    assert _dump(url) == before


# --- bad input: one clear line, non-zero ------------------------------------------------


def test_refuse_a_mapping_with_an_unknown_attribute(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "map.yml"
    mapping.write_text(
        "fields:\n  sku: id\n  name: title\n  price: price\n"
        "category:\n  from: product_type\n"
        "attributes:\n  frame_sise_cm: size\n"
    )
    status, _, err = _run(
        capsys, "import", "csv", str(MERCHANT_TSV), "--mapping", str(mapping), "--database-url", url
    )
    assert status == 1
    assert f"{mapping}:8: unknown attribute 'frame_sise_cm', did you mean 'frame_size_cm'?" in err


def test_refuse_a_mapping_value_outside_the_closed_set(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yml"
    mapping.write_text(
        "fields: {sku: id, name: title, price: price}\ncategory: {from: product_type}\n"
        "attributes:\n  cleat_system:\n    from: [Tags]\n    values:\n      SPD: spd\n"
        "      Keo: look-keo-ish\n"
    )
    with pytest.raises(MappingError, match=r"map.yml:8: cleat_system 'look-keo-ish' is none of"):
        load_mapping(mapping)


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["import", "csv", str(ARTIKEL)], 2, "--mapping MAP.yml is required for csv"),
        (["import", "shopify", "missing.csv"], 1, "missing.csv: no such feed file"),
        (["import", "excel", str(ARTIKEL)], 2, "invalid choice: 'excel'"),
    ],
    ids=["csv-without-mapping", "missing-file", "unknown-format"],
)
def test_reject_bad_import_usage(
    url: str, capsys: pytest.CaptureFixture[str], argv: list[str], status: int, message: str
) -> None:
    code, _, err = _run(capsys, *argv, "--database-url", url)
    assert code == status
    assert message in err


def test_refuse_a_feed_that_is_not_utf8(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "latin1.csv"
    shutil.copy(SHOPIFY, feed)
    feed.write_bytes(
        SHOPIFY.read_bytes().replace("Rahmenhöhe".encode(), "Rahmenhöhe".encode("latin-1"))
    )
    status, _, err = _run(capsys, "import", "shopify", str(feed), "--database-url", url)
    assert status == 1
    assert "latin1.csv:" in err and "is not UTF-8" in err and "save it as UTF-8" in err
    assert not _products(url), "nothing imported"


def test_import_all_clean_rows_exits_zero(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from catalog.demo import DEMO_FEED, DEMO_MAPPING

    status, out, _ = _run(
        capsys,
        "import",
        "csv",
        str(DEMO_FEED),
        "--mapping",
        str(DEMO_MAPPING),
        "--database-url",
        url,
    )
    assert status == 0
    assert "692 mapped, 0 left out" in out


def test_show_a_progress_bar_when_asked(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(
        capsys, "import", "merchant", str(MERCHANT_XML), "--progress", "--database-url", url
    )
    assert status == 3
    assert "reading merchant_feed.xml" in err and "B/s" in err
    assert "switching: 9 new, 0 updated, 0 unavailable, in one transaction…" in err


def test_default_mappings_load() -> None:
    for kind in ("shopify", "merchant"):
        path = default_mapping(kind)
        assert path is not None
        assert load_mapping(path).category.values, kind


def test_import_an_atom_merchant_feed(tmp_path: Path, url: str) -> None:
    feed = tmp_path / "feed.atom"
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">\n'
        "<title>Shop</title>\n"
        "<entry>\n"
        "  <g:id>CDZ-520</g:id><title>Clipper 520</title>\n"
        '  <link href="https://shop.example.de/p/cdz-520"/>\n'
        "  <g:price>44,90 EUR</g:price><g:availability>in stock</g:availability>\n"
        "  <g:product_type>Zubehör &gt; Pedale</g:product_type>\n"
        "  <g:custom_label_0>SPD</g:custom_label_0>\n"
        "</entry>\n"
        "</feed>\n",
        encoding="utf-8",
    )
    assert main(["import", "merchant", str(feed), "--database-url", url]) == 0
    pedal = _products(url)["CDZ-520"]
    assert (pedal.category, pedal.price, pedal.cleat_system) == ("pedals", 44.9, "spd")
    assert pedal.extra["link"] == "https://shop.example.de/p/cdz-520"


def test_refuse_xml_that_is_not_well_formed(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "broken.xml"
    feed.write_text("<rss>\n<channel>\n<item><id>A</id>\n</channel>\n", encoding="utf-8")
    status, _, err = _run(capsys, "import", "merchant", str(feed), "--database-url", url)
    assert status == 1
    assert "broken.xml:4: not well-formed XML: mismatched tag" in err
