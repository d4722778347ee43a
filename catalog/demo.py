"""The deterministic demo catalogue: a plausible bike webshop in about 700 product rows.

Bikes come from the hand-written tables in :mod:`catalog.demo_data`; the accessories
(pedals, shoes, helmets, lights, cages, locks, computers) are listed below. Anything that
is not written out (stock, margin, colour choice, small weight spread) is drawn from a
``random.Random`` seeded with :data:`DEMO_SEED` and the model's ``group_sku``, so every
call yields identical rows and editing one model never reshuffles the others.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from catalog.db import create_tables, make_engine
from catalog.demo_data import (
    BIKE_FAMILIES,
    BRANDS,
    CATEGORY_CODES,
    GROUPSETS,
    HELMET_FIT,
    HELMET_SIZES,
    SHOE_SIZES,
    SIZE_RUNS,
    SOLD_OUT,
    BikeFamily,
)
from catalog.models import Product, ProductRelation, RelationKind

__all__ = [
    "ACCESSORIES",
    "DEMO_SEED",
    "Accessory",
    "DemoStats",
    "build_demo_catalog",
    "build_demo_database",
    "demo_relations",
    "demo_rows",
]

#: Seed of every random draw in the demo catalogue.
DEMO_SEED = 20250601

AttrValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Accessory:
    """An accessory model: typed attributes, display extras and an optional size run."""

    category: str
    brand: str
    code: str
    name: str
    price: float
    description: str
    attrs: dict[str, AttrValue] = field(default_factory=dict)
    extra: dict[str, AttrValue] = field(default_factory=dict)
    sizes: str | None = None

    @property
    def group_sku(self) -> str:
        """The model's SKU, e.g. ``CDZ-PED-520``."""
        return f"{self.brand}-{CATEGORY_CODES[self.category]}-{self.code}"


# fmt: off
def _acc(category: str, brand: str, code: str, name: str, price: float, description: str,
         extra: dict[str, AttrValue] | None = None, sizes: str | None = None,
         **attrs: AttrValue) -> Accessory:
    return Accessory(category, brand, code, name, price, description, attrs, extra or {}, sizes)
ACCESSORIES: tuple[Accessory, ...] = (
    # Pedals: four cleat systems.
    _acc("pedals", "TGR", "CMT", "Commuter Platform", 24.90,
         "Wide nylon platform pedals with moulded pins: a cheap, grippy first pair of pedals.",
         {"body": "nylon"}, cleat_system="flat", weight_kg=0.36),
    _acc("pedals", "PWK", "FLC", "Flatline Composite", 34.90,
         "Thin composite flat pedals with replaceable pins for trail riding and commuting.",
         {"body": "composite"}, cleat_system="flat", weight_kg=0.34),
    _acc("pedals", "TGR", "GRP", "Grip Pro Alloy", 54.90,
         "CNC-machined aluminium flat pedals with ten steel pins a side for bike-park grip.",
         {"body": "aluminium"}, cleat_system="flat", weight_kg=0.39),
    _acc("pedals", "PWK", "FLM", "Flatline Magnesium", 89.00,
         "Lightweight magnesium flat pedals on sealed bearings, at home on trail and gravel.",
         {"body": "magnesium"}, cleat_system="flat", weight_kg=0.31),
    _acc("pedals", "KTR", "SLB", "Slab Enduro", 119.00,
         "Large, concave enduro flats with a thin profile and a serviceable axle.",
         {"body": "aluminium"}, cleat_system="flat", weight_kg=0.42),
    _acc("pedals", "CDZ", "520", "Clipper 520", 44.90,
         "The trusted two-sided SPD pedal: easy entry, adjustable release, cleats included.",
         {"cleats_included": True}, cleat_system="spd", weight_kg=0.38),
    _acc("pedals", "CDZ", "DUO", "Clipper Duo", 59.90,
         "One side SPD, one side flat platform: clip in on the road, ride in trainers to work.",
         {"cleats_included": True}, cleat_system="spd", weight_kg=0.41),
    _acc("pedals", "TGR", "HYB", "Hybrid Cage SPD", 69.00,
         "SPD pedals in a supportive cage for touring, commuting and beginner trail riding.",
         {"cleats_included": True}, cleat_system="spd", weight_kg=0.45),
    _acc("pedals", "PWK", "TRL", "Trail SPD", 79.00,
         "Mud-shedding double-sided SPD pedals with a small platform for trail and gravel.",
         {"cleats_included": True}, cleat_system="spd", weight_kg=0.37),
    _acc("pedals", "CDZ", "XCR", "Clipper XC Race", 129.00,
         "Minimal cross-country race pedals with a steel axle and very quick clip-in.",
         {"cleats_included": True}, cleat_system="spd", weight_kg=0.31),
    _acc("pedals", "CDZ", "RS1", "Route SL 1", 64.90,
         "Entry-level SPD-SL road pedals with a wide platform and easy-release cleats.",
         {"cleats_included": True}, cleat_system="spd_sl", weight_kg=0.32),
    _acc("pedals", "CDZ", "RS5", "Route SL 5", 119.00,
         "Composite SPD-SL road pedals with a stainless steel wear plate and low stack.",
         {"cleats_included": True}, cleat_system="spd_sl", weight_kg=0.27),
    _acc("pedals", "CDZ", "RSC", "Route SL Carbon", 179.00,
         "Carbon-bodied SPD-SL pedals with adjustable spring tension for racing.",
         {"cleats_included": True}, cleat_system="spd_sl", weight_kg=0.25),
    _acc("pedals", "CDZ", "RSP", "Route SL Pro Carbon", 239.00,
         "The top SPD-SL pedal: wide carbon platform and a lighter, longer axle for pros.",
         {"cleats_included": True}, cleat_system="spd_sl", weight_kg=0.23),
    _acc("pedals", "CLQ", "RT1", "Route 1", 54.90,
         "Keo-compatible road pedals with a composite body: a solid first clipless pedal.",
         {"cleats_included": True}, cleat_system="look_keo", weight_kg=0.30),
    _acc("pedals", "CLQ", "EZY", "Route Easy", 69.00,
         "Keo-compatible pedals with low release tension for riders new to clipless pedals.",
         {"cleats_included": True}, cleat_system="look_keo", weight_kg=0.29),
    _acc("pedals", "CLQ", "RTC", "Route Carbon", 119.00,
         "A carbon Keo-compatible road pedal with a large contact area for power transfer.",
         {"cleats_included": True}, cleat_system="look_keo", weight_kg=0.25),
    _acc("pedals", "CLQ", "RTT", "Route Carbon Ti", 199.00,
         "Titanium axle and carbon body: the lightest Keo-compatible pedal in the range.",
         {"cleats_included": True}, cleat_system="look_keo", weight_kg=0.21),
    # Shoes: one model per row, sizes 39..47 as variants.
    _acc("shoes", "CDZ", "TRK", "Trekk SPD", 89.00,
         "Walkable touring shoes with a recessed two-bolt SPD cleat and a rubber sole.",
         {"closure": "laces"}, "shoe", cleat_system="spd"),
    _acc("shoes", "CDZ", "XC3", "XC 3", 139.00,
         "Cross-country shoes with a stiff nylon sole and a grippy tread for hike-a-bike.",
         {"closure": "dial"}, "shoe", cleat_system="spd"),
    _acc("shoes", "KTR", "TRC", "Trail Clip", 159.00,
         "Trail shoes with a reinforced toe box and a sticky sole around the SPD cleat.",
         {"closure": "dial and strap"}, "shoe", cleat_system="spd"),
    _acc("shoes", "CDZ", "RC3", "RC 3 Road", 119.00,
         "Road shoes with a fibre-reinforced sole, drilled for three-bolt SPD-SL cleats.",
         {"closure": "dial"}, "shoe", cleat_system="spd_sl"),
    _acc("shoes", "CDZ", "RC7", "RC 7 Carbon", 279.00,
         "A stiff carbon-soled road shoe with two dials, supplied with SPD-SL cleats.",
         {"closure": "two dials"}, "shoe", cleat_system="spd_sl"),
    _acc("shoes", "CLQ", "RTS", "Route Shoe", 99.00,
         "Comfortable three-bolt road shoes supplied with Keo-compatible cleats.",
         {"closure": "straps"}, "shoe", cleat_system="look_keo"),
    _acc("shoes", "CLQ", "RCS", "Route Carbon Shoe", 329.00,
         "A race shoe with a full carbon sole and a heat-mouldable insole, Keo cleats supplied.",
         {"closure": "two dials"}, "shoe", cleat_system="look_keo"),
    _acc("shoes", "TGR", "SKT", "Skate Flat", 79.00,
         "Flat-pedal shoes with a soft, sticky rubber sole that locks onto pinned pedals.",
         {"closure": "laces"}, "shoe", cleat_system="flat"),
    _acc("shoes", "TGR", "CMF", "Commuter Flat", 64.00,
         "Casual-looking cycling shoes with a stiffened sole for commuting on flat pedals.",
         {"closure": "laces"}, "shoe", cleat_system="flat"),
    # Helmets: S/M/L variants.
    _acc("helmet", "HWK", "URB", "Urban", 49.00,
         "A city helmet with a built-in rear light and a magnetic buckle.",
         {"mips": False, "use": "city"}, "helmet", weight_kg=0.38),
    _acc("helmet", "HWK", "CMM", "Commute MIPS", 79.00,
         "A well-vented commuter helmet with MIPS rotational protection and a visor.",
         {"mips": True, "use": "city"}, "helmet", weight_kg=0.34),
    _acc("helmet", "NVL", "ALV", "Allväder", 99.00,
         "An all-weather road and gravel helmet with a removable rain cover.",
         {"mips": True, "use": "road"}, "helmet", weight_kg=0.31),
    _acc("helmet", "AEO", "TRL", "Trail MIPS", 139.00,
         "A trail helmet with extended rear coverage, adjustable visor and MIPS.",
         {"mips": True, "use": "mtb"}, "helmet", weight_kg=0.36),
    _acc("helmet", "HWK", "RDP", "Road Pro MIPS", 189.00,
         "A light, well-ventilated road helmet with MIPS and a slim retention system.",
         {"mips": True, "use": "road"}, "helmet", weight_kg=0.26),
    _acc("helmet", "AEO", "VNT", "Vento Aero", 279.00,
         "A wind-tunnel-developed aero road helmet that still keeps your head cool.",
         {"mips": True, "use": "road"}, "helmet", weight_kg=0.29),
    # Lights.
    _acc("lights", "LUM", "CMS", "Commuter Set USB", 29.90,
         "A compact USB-rechargeable front and rear set, road-legal for city riding.",
         {"stvzo": True, "rear_lumen": 15}, mounting="set", light_lumen=100),
    _acc("lights", "LUM", "T50", "Tail 50", 24.90,
         "A bright rear light with a wide side beam and a six-hour battery.",
         {"stvzo": True}, mounting="rear", light_lumen=50),
    _acc("lights", "LUM", "TBS", "Tail Brake Sense", 44.90,
         "A rear light that flares brighter when you brake, charged via USB-C.",
         {"stvzo": False}, mounting="rear", light_lumen=100),
    _acc("lights", "LUM", "B40", "Beam 400", 39.90,
         "A road-legal front light with a shaped beam that does not dazzle oncoming traffic.",
         {"stvzo": True}, mounting="front", light_lumen=400),
    _acc("lights", "LUM", "DUO", "Duo 400/50 Set", 59.90,
         "The Beam 400 and Tail 50 together: a complete road-legal set at a set price.",
         {"stvzo": True, "rear_lumen": 50}, mounting="set", light_lumen=400),
    _acc("lights", "LUM", "B80", "Beam 800", 69.00,
         "A powerful front light for unlit lanes, with a daytime flash mode.",
         {"stvzo": False}, mounting="front", light_lumen=800),
    _acc("lights", "LUM", "NTR", "Night Trail 1600", 129.00,
         "A 1600-lumen trail light with a remote switch and a bar or helmet mount.",
         {"stvzo": False}, mounting="front", light_lumen=1600),
    # Bottle cages.
    _acc("bottle_cage", "ARD", "ESS", "Essential Cage", 8.90,
         "A simple, secure aluminium bottle cage that fits every standard bottle.",
         {"material": "aluminium"}, mounting="frame", weight_kg=0.05),
    _acc("bottle_cage", "TGR", "CMP", "Composite Cage", 12.90,
         "A glass-fibre reinforced cage with a firm grip for rough roads.",
         {"material": "composite"}, mounting="frame", weight_kg=0.04),
    _acc("bottle_cage", "PWK", "SDE", "Side Entry Cage", 19.90,
         "A side-loading cage for small frames where a bottle will not fit from the top.",
         {"material": "composite"}, mounting="frame", weight_kg=0.04),
    _acc("bottle_cage", "NVL", "CRG", "Cargo Cage", 24.90,
         "A fork-mounted cage with a strap for large bottles or a dry bag on gravel trips.",
         {"material": "aluminium"}, mounting="frame", weight_kg=0.09),
    _acc("bottle_cage", "FAL", "CRB", "Carbon Cage", 39.90,
         "A one-piece carbon cage weighing barely 20 grams, finished in Falcata team colours.",
         {"material": "carbon"}, mounting="frame", weight_kg=0.02),
    # Locks.
    _acc("lock", "RGL", "CBL", "Cable Lock Mini", 19.90,
         "A light coiled cable lock for a quick café stop.", {"security_level": 3},
         weight_kg=0.25),
    _acc("lock", "RGL", "RNG", "Ring Frame Lock", 39.90,
         "A frame-mounted ring lock for city and e-bikes, keyed alike with many battery locks.",
         {"security_level": 6}, mounting="frame", weight_kg=0.45),
    _acc("lock", "RGL", "U23", "U-Lock 230", 49.90,
         "A hardened steel U-lock with a frame bracket, rated for city parking.",
         {"security_level": 9}, mounting="frame", weight_kg=1.2),
    _acc("lock", "RGL", "CHN", "Chain Lock 110", 79.90,
         "A 110 cm hardened chain lock in a fabric sleeve to lock to almost anything.",
         {"security_level": 10}, weight_kg=1.9),
    _acc("lock", "RGL", "F85", "Folding Lock 850", 89.90,
         "A compact folding lock that carries in its frame holster and locks to posts and racks.",
         {"security_level": 8}, mounting="frame", weight_kg=1.1),
    # Bike computers.
    _acc("bike_computer", "TRK", "MIN", "Mini Wireless", 29.90,
         "A wireless speedometer showing speed, distance and ride time.", {"gps": False},
         mounting="bar"),
    _acc("bike_computer", "TRK", "P20", "Pulse 200", 129.00,
         "A GPS bike computer that records rides and pairs with heart-rate straps.",
         {"gps": True}, mounting="bar"),
    _acc("bike_computer", "TRK", "N52", "Navigator 520", 249.00,
         "A colour-screen GPS computer with turn-by-turn navigation and climb profiles.",
         {"gps": True}, mounting="bar"),
    _acc("bike_computer", "TRK", "N83", "Navigator 830", 399.00,
         "A touchscreen navigator with offline maps, power-meter support and a 24-hour battery.",
         {"gps": True}, mounting="bar"),
)

# fmt: on

#: Relations besides shoe-pedal compatibility (which is derived): (source, target, kind, note).
ACCESSORY_LINKS: tuple[tuple[str, str, str, str], ...] = (
    ("GRW-EOM-7", "RGL-LCK-RNG", "compatible_with", "Fits the frame's ring-lock mounts."),
    ("NVL-KVE-5", "RGL-LCK-RNG", "compatible_with", "Fits the frame's ring-lock mounts."),
    ("BRW-PRE-7", "RGL-LCK-RNG", "compatible_with", "Fits the frame's ring-lock mounts."),
    ("PDL-STE-7", "RGL-LCK-F85", "compatible_with", "Holster fits the bottle-cage bosses."),
    ("KTR-SCE-7", "LUM-LGT-NTR", "compatible_with", "Bar mount fits the 35 mm handlebar."),
    ("RTW-HGE-5", "LUM-LGT-NTR", "compatible_with", "Bar mount fits the 35 mm handlebar."),
    ("MTA-CRE-3", "LUM-LGT-B80", "compatible_with", "Bar mount fits the 31.8 mm handlebar."),
    ("NVL-CAG-CRG", "NVL-TUN-6", "accessory_of", "Fits the fork's three-bolt mounts."),
    ("NVL-CAG-CRG", "NVL-TUN-8", "accessory_of", "Fits the fork's three-bolt mounts."),
)


#: Gross margin range in percent by kind of product: bikes are sold on thinner margins.
_MARGINS: dict[str, tuple[float, float]] = {"bike": (18.0, 28.0), "accessory": (30.0, 38.0)}

_BRAKES = {
    "rim": "rim brakes",
    "disc": "mechanical disc brakes",
    "hydraulic_disc": "hydraulic disc brakes",
}

_CLEATS = {
    "flat": "Grippy flat sole made for flat pedals.",
    "spd": "Both use two-bolt SPD cleats.",
    "spd_sl": "Both use three-bolt SPD-SL cleats.",
    "look_keo": "Both use three-bolt Keo cleats.",
}


@dataclass(frozen=True, slots=True)
class DemoStats:
    """What :func:`build_demo_catalog` inserted."""

    products_per_category: dict[str, int]
    models_per_category: dict[str, int]
    products: int
    relations: int

    @property
    def total_rows(self) -> int:
        """Product rows plus relation rows."""
        return self.products + self.relations


def _rng(group_sku: str) -> random.Random:
    # A string seed is hashed with SHA-512, so this does not depend on PYTHONHASHSEED.
    return random.Random(f"{DEMO_SEED}:{group_sku}")


def _margin(rng: random.Random, kind: str) -> float:
    low, high = _MARGINS[kind]
    return round(rng.uniform(low, high) * 2) / 2


def _stock(rng: random.Random, index: int, count: int, *, deep: bool = False) -> int:
    """Units on hand for the ``index``-th of ``count`` sizes.

    The smallest and largest sizes sell less and are stocked thinly, so they run out more
    often; ``deep`` is for cheap accessories kept by the dozen. One-size items are never
    drawn out of stock, so the demo's key accessories stay buyable (``SOLD_OUT`` still
    removes some on purpose).
    """
    edge = count > 1 and index in (0, count - 1)
    if count > 1 and rng.random() < (0.16 if edge else 0.06):
        return 0
    if deep:
        return rng.randint(3, 15 if edge else 40)
    return rng.randint(1, 4 if edge else 12)


def _sold_out(group_sku: str, label: str) -> bool:
    if group_sku not in SOLD_OUT:
        return False
    labels = SOLD_OUT[group_sku]
    return labels is None or label in labels


def _bike_sentence(
    family: BikeFamily, groupset: str, brake: str, tyre: int, pedals: bool, travel: int | None
) -> str:
    if family.motor is not None:
        return (
            f"It pairs a {family.motor} motor and a {family.battery_wh} Wh battery "
            f"with {groupset} and {_BRAKES[brake]}."
        )
    if family.category == "mountain_bike":
        return (
            f"This build comes with {groupset}, {travel} mm of travel "
            f"and {family.wheel}-inch wheels."
        )
    text = f"This build comes with {groupset}, {_BRAKES[brake]} and {tyre} mm tyres"
    return text + (", with flat pedals included." if pedals else ".")


def _bike_rows(family: BikeFamily) -> Iterator[Product]:
    brand = BRANDS[family.brand]
    run = SIZE_RUNS[family.size_run]
    for build in family.builds:
        group_sku = f"{family.brand}-{family.code}-{build.trim}"
        rng = _rng(group_sku)
        groupset = GROUPSETS[build.groupset]
        tyre = build.tyre_mm or family.tyre_mm
        travel = build.travel_mm or family.travel_mm
        # City and e-bikes ship ready to ride; sport bikes leave the pedal choice to the
        # rider, except a few entry road bikes that come with flats.
        pedals = build.pedals or family.category in ("city_bike", "e_bike")
        # Better groupsets save weight; rim brakes save the weight of rotors and callipers.
        weight = family.base_kg - 0.18 * groupset.tier - (0.3 if build.brake == "rim" else 0.0)
        weight = round(weight + rng.uniform(-0.1, 0.1), 2)
        colour = family.colours[rng.randrange(len(family.colours))]
        model = {
            "colour": colour,
            "model_year": 2024 if rng.random() < 0.15 else 2025,
            "groupset_label": groupset.label,
            "highlights": [groupset.label, family.feature, f"{family.material} frame"],
        }
        if pedals:
            model["pedals"] = "flat pedals included"
        if family.motor is not None:
            model["motor"] = family.motor
        description = (
            f"{family.pitch} "
            f"{_bike_sentence(family, groupset.label, build.brake, tyre, pedals, travel)}"
        )
        margin = _margin(rng, "bike")
        for index, (letter, cm) in enumerate(run):
            label = letter or str(cm)
            stock = _stock(rng, index, len(run))
            yield Product(
                sku=f"{group_sku}-{label}",
                group_sku=group_sku,
                name=f"{brand} {family.name} {build.trim}",
                brand=brand,
                category=family.category,
                price=float(build.price),
                stock=0 if _sold_out(group_sku, label) else stock,
                margin_pct=margin,
                description=description,
                frame_size_cm=cm,
                size=letter,
                geometry=family.geometry,
                frame_material=family.material,
                groupset=build.groupset,
                gears=groupset.gears,
                brake_type=build.brake,
                tyre_width_mm=tyre,
                weight_kg=weight,
                pedals_included=pedals,
                suspension_travel_mm=travel,
                wheel_size=family.wheel,
                motor=True if family.motor is not None else None,
                battery_wh=family.battery_wh,
                extra={**model, "variant_label": f"{letter} ({cm} cm)" if letter else f"{cm} cm"},
            )


def _accessory_rows(accessory: Accessory) -> Iterator[Product]:
    group_sku = accessory.group_sku
    rng = _rng(group_sku)
    brand = BRANDS[accessory.brand]
    variants: list[tuple[str | None, dict[str, Any]]]
    if accessory.sizes == "shoe":
        variants = [(str(s), {"shoe_size_eu": float(s)}) for s in SHOE_SIZES]
    elif accessory.sizes == "helmet":
        variants = [(s, {"size": s}) for s in HELMET_SIZES]
    else:
        variants = [(None, {})]
    margin = _margin(rng, "accessory")
    for index, (label, variant_columns) in enumerate(variants):
        columns: dict[str, Any] = {**accessory.attrs, **variant_columns}
        extra: dict[str, Any] = dict(accessory.extra)
        if label is not None:
            fit = HELMET_FIT.get(label) if accessory.sizes == "helmet" else None
            extra["variant_label"] = f"{label} ({fit})" if fit else f"EU {label}"
        stock = _stock(rng, index, len(variants), deep=accessory.price < 100)
        yield Product(
            sku=group_sku if label is None else f"{group_sku}-{label}",
            group_sku=group_sku,
            name=f"{brand} {accessory.name}",
            brand=brand,
            category=accessory.category,
            price=accessory.price,
            stock=0 if _sold_out(group_sku, label or "") else stock,
            margin_pct=margin,
            description=accessory.description,
            extra=extra,
            **columns,
        )


def demo_rows() -> list[Product]:
    """Return fresh, unsaved product rows of the demo catalogue, always the same ones."""
    rows = [row for family in BIKE_FAMILIES for row in _bike_rows(family)]
    rows += [row for accessory in ACCESSORIES for row in _accessory_rows(accessory)]
    return rows


def demo_relations() -> list[ProductRelation]:
    """Return the demo relations, by ``group_sku``.

    Every shoe model is compatible with every pedal model of its cleat system; a few
    e-bikes name a lock or light that fits them, and one cage is an accessory of the
    bikes whose fork mounts it needs.
    """
    pedals = [a for a in ACCESSORIES if a.category == "pedals"]
    relations = [
        ProductRelation(
            source=shoe.group_sku,
            target=pedal.group_sku,
            kind=RelationKind.COMPATIBLE_WITH,
            note=_CLEATS[str(shoe.attrs["cleat_system"])],
        )
        for shoe in ACCESSORIES
        if shoe.category == "shoes"
        for pedal in pedals
        if pedal.attrs["cleat_system"] == shoe.attrs["cleat_system"]
    ]
    relations += [
        ProductRelation(source=source, target=target, kind=RelationKind(kind), note=note)
        for source, target, kind, note in ACCESSORY_LINKS
    ]
    return relations


def build_demo_catalog(session: Session) -> DemoStats:
    """Insert the demo catalogue into an empty catalogue and commit, in one transaction.

    Args:
        session: An open session on a database whose tables exist and hold no products
            yet (a second build would collide on the unique SKUs).

    Returns:
        Counts of the inserted rows.

    Raises:
        ValueError: A relation in the data tables names a model that does not exist.
    """
    rows = demo_rows()
    relations = demo_relations()
    models = {row.group_sku for row in rows}
    pairs = {(row.category, row.group_sku) for row in rows}
    named = {r.source for r in relations} | {r.target for r in relations}
    dangling = sorted(named - models)
    if dangling:
        raise ValueError(f"demo relations name unknown models: {', '.join(dangling)}")
    # Count before committing: the commit expires the objects and reading them back
    # would cost one query per row.
    stats = DemoStats(
        products_per_category=dict(sorted(Counter(row.category for row in rows).items())),
        models_per_category=dict(sorted(Counter(category for category, _ in pairs).items())),
        products=len(rows),
        relations=len(relations),
    )
    session.add_all(rows)
    session.add_all(relations)
    session.commit()
    return stats


def build_demo_database(url: str) -> DemoStats:
    """Create the tables at ``url`` and fill them with the demo catalogue.

    For a fresh, empty database (tests, benchmarks); ``catalog build-demo`` is the
    command for a database that may already hold a catalogue.
    """
    engine = make_engine(url)
    try:
        create_tables(engine)
        with Session(engine) as session:
            return build_demo_catalog(session)
    finally:
        engine.dispose()
