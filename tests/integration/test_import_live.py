"""A shop's own catalogue with the real Rasa and action servers.

The catalogue of this module is not the demo: it is the Shopify sample
(``tests/catalog/data/shopify_products.csv``) imported with ``catalog import`` into a
fresh database. A shopper is advised on it through to offers; then a large feed is
imported while shoppers keep chatting, and every reply must come.
"""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

from catalog.cli import main as catalog
from catalog.db import make_engine
from catalog.importing import ImportReport, default_mapping, import_feed, load_mapping
from catalog.models import Product
from tests.integration.conftest import RunningBot, ask, offers_payload, texts
from web.stack import Stack, action_service, free_port, rasa_service

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[1] / "catalog" / "data" / "shopify_products.csv"
USAGE = ask("road_bike", "usage")
SHOES = ask("road_bike", "shoes_owned")
BEGINNER_TURNS = [
    ("I want a road bike", USAGE),
    ("mostly long weekend rides", ask("road_bike", "experience")),
    ("total newbie", ask("road_bike", "budget")),
    ("about 1.5k", ask("road_bike", "body_height_cm")),
    ("1,82 m", SHOES),
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    from tests.integration.conftest import _missing

    reason = _missing()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("shop")
    database_url = f"sqlite:///{base / 'catalog.db'}"
    # Exit status 3: the sample has three rows that cannot be mapped, on purpose.
    assert catalog(["import", "shopify", str(SAMPLE), "--database-url", database_url]) == 3

    action_port, rasa_port = free_port(), free_port()
    actions = action_service(action_port, env={"DATABASE_URL": database_url})
    rasa = rasa_service(
        rasa_port, action_port, env={"TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}"}
    )
    log = io.StringIO()
    with Stack([actions, rasa], log=log).running(timeout=240), httpx.Client(timeout=60) as client:
        yield RunningBot(
            rasa.url, actions.url, base, database_url, log, client, rasa_token=rasa.token
        )


def _sample_skus() -> set[str]:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as file:
        return {row["Variant SKU"] for row in csv.DictReader(file) if row["Variant SKU"]}


def _advise(bot: RunningBot) -> dict[str, Any]:
    sender = f"test-{uuid.uuid4().hex[:12]}"
    bot.talk(sender, BEGINNER_TURNS)
    reply = bot.send(sender, "no, just normal trainers", expect_offers=True)
    payload = offers_payload(reply)
    assert payload is not None, texts(reply)
    return payload


def test_advise_on_an_imported_shopify_catalogue(shop: RunningBot) -> None:
    payload = _advise(shop)

    known = _sample_skus()
    items = [item for offer in payload["offers"] for item in offer["items"]]
    assert items and {item["sku"] for item in items} <= known
    main = payload["offers"][0]["items"][0]
    # The Velora Tempo 3 in 56 cm (182 cm tall), imported from "56 cm" of Rahmenhöhe.
    assert (main["sku"], main["category"], main["price"]) == ("VEL-TMP3-56", "road_bike", 1099.0)
    assert main["attributes"]["frame_size_cm"] == 56
    pedals = [i for i in payload["offers"][0]["items"] if i["role"] == "required"]
    assert [p["category"] for p in pedals] == ["pedals"]
    assert pedals[0]["attributes"]["cleat_system"] in {"flat", "spd"}
    assert {c["sku"] for c in payload["cross_sell"]} <= known


def _big_feed(path: Path, copies: int) -> int:
    """The sample plus ``copies`` more road bikes of four sizes each (new handles, SKUs)."""
    text = SAMPLE.read_text(encoding="utf-8-sig")
    header, _, rest = text.partition("\r\n")
    records = list(csv.DictReader(io.StringIO(text)))
    tempo = [r for r in records if r["Handle"] == "velora-tempo-3" and r["Variant SKU"]]
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(header + "\r\n" + rest)
        writer = csv.DictWriter(file, fieldnames=list(records[0]))
        for n in range(copies):
            for row in tempo:
                writer.writerow(
                    {
                        **row,
                        "Handle": f"velora-tempo-copy-{n}",
                        "Variant SKU": f"{row['Variant SKU']}-C{n}",
                        "Variant Price": f"{1400 + n % 90}.00",
                    }
                )
    return copies * len(tempo)


def test_keep_answering_during_an_import(shop: RunningBot, tmp_path: Path) -> None:
    feed = tmp_path / "big.csv"
    added = _big_feed(feed, 8000)
    mapping_path = default_mapping("shopify")
    assert mapping_path is not None
    reports: list[ImportReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        engine = make_engine(shop.database_url)
        try:
            reports.append(import_feed(engine, feed, "shopify", load_mapping(mapping_path)))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)
        finally:
            engine.dispose()

    importer = threading.Thread(target=run, name="import")
    importer.start()
    conversations = during = 0
    try:
        # Whole conversations while the import reads, stages and switches: each turn
        # must be answered (RunningBot.send fails on silence), each ends in offers.
        while importer.is_alive() or conversations == 0:
            during += importer.is_alive()
            payload = _advise(shop)
            assert payload["offers"], "offers during the import"
            conversations += 1
    finally:
        importer.join(timeout=300)
    assert not failures, failures
    assert during >= 1, "no conversation ran while the import did: make the feed bigger"
    assert reports and reports[0].new == added
    engine = make_engine(shop.database_url)
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Product)).one()
    engine.dispose()
    assert total == 13 + added
    # And after the switch the shopper is advised on the bigger catalogue.
    assert _advise(shop)["offers"]
