"""Data tables of the demo catalogue: brands, groupsets, size runs and bike families.

Everything here is plain, hand-written data; :mod:`catalog.demo` (which also holds the
smaller accessory table) turns it into product rows. Brands are invented so the demo
raises no trademark questions; components (groupsets, motors) keep their real names
because shoppers search for them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BIKE_FAMILIES",
    "BRANDS",
    "CATEGORY_CODES",
    "GROUPSETS",
    "HELMET_FIT",
    "HELMET_SIZES",
    "SHOE_SIZES",
    "SIZE_RUNS",
    "SOLD_OUT",
    "BikeFamily",
    "Build",
    "Groupset",
]

#: Brand code (first part of every SKU) -> brand name.
BRANDS: dict[str, str] = {
    "ARD": "Ardent",
    "KSR": "Kestrel Row",
    "NVL": "Nordvelo",
    "BRW": "Brightwater",
    "FAL": "Falcata",
    "MTA": "Monte Alto",
    "LQV": "Lindqvist",
    "OST": "Ostwind",
    "GRW": "Grachtwerk",
    "PDL": "Pendla",
    "KTR": "Kettle Ridge",
    "RTW": "Rotwald",
    "TGR": "Trailgrip",
    "PWK": "Pedalwerk",
    "CDZ": "Cadenza",
    "CLQ": "Cliquet",
    "HWK": "Helmwerk",
    "AEO": "Aeolis",
    "LUM": "Lumara",
    "RGL": "Riegel",
    "TRK": "Trackline",
}

#: Accessory category -> the middle part of its group SKU.
CATEGORY_CODES: dict[str, str] = {
    "pedals": "PED",
    "shoes": "SHO",
    "helmet": "HLM",
    "lights": "LGT",
    "bottle_cage": "CAG",
    "lock": "LCK",
    "bike_computer": "CMP",
}

SizeRun = tuple[tuple[str | None, int], ...]


def _cm(*sizes: int) -> SizeRun:
    return tuple((None, s) for s in sizes)


#: Size runs by key: (letter size or None, frame size in cm). Road brands key theirs by
#: brand code, because each brand cuts its own run (together they cover 47..62 cm).
SIZE_RUNS: dict[str, SizeRun] = {
    "ARD": _cm(49, 52, 54, 56, 58, 60),
    "KSR": _cm(47, 50, 52, 54, 56, 58, 60),
    "NVL": _cm(50, 52, 54, 56, 58, 60, 62),
    "BRW": _cm(47, 49, 52, 54, 56, 58),
    "FAL": _cm(50, 52, 54, 56, 58),
    "MTA": _cm(47, 49, 52, 54, 56, 58, 60, 62),
    "LQV": _cm(49, 52, 54, 56, 58, 60, 62),
    "OST": _cm(49, 52, 54, 56, 58, 60),
    "city": _cm(46, 50, 54, 58),
    "city_tall": _cm(46, 50, 54, 57, 60),
    "city_sml": (("S", 46), ("M", 52), ("L", 58)),
    # Mountain bikes are sold by letter; the cm value approximates the seat tube so
    # the same height rules can reason about both.
    "mtb": (("S", 40), ("M", 44), ("L", 48), ("XL", 52)),
    "mtb_small": (("XS", 36), ("S", 40), ("M", 44), ("L", 48)),
}

#: Shoe sizes every shoe model comes in.
SHOE_SIZES: tuple[int, ...] = tuple(range(39, 48))

#: Helmet sizes and the head circumference printed next to each.
HELMET_SIZES: tuple[str, ...] = ("S", "M", "L")
HELMET_FIT: dict[str, str] = {"S": "51-55 cm", "M": "54-58 cm", "L": "57-61 cm"}


@dataclass(frozen=True, slots=True)
class Groupset:
    """A drivetrain: shown name, total gears and a 0 (entry) .. 7 (top) tier."""

    label: str
    gears: int
    tier: int


GROUPSETS: dict[str, Groupset] = {
    "Shimano Claris": Groupset("Shimano Claris 2x8", 16, 0),
    "Shimano Sora": Groupset("Shimano Sora 2x9", 18, 1),
    "Shimano Tiagra": Groupset("Shimano Tiagra 2x10", 20, 2),
    "Shimano 105": Groupset("Shimano 105 2x11", 22, 3),
    "Shimano 105 Di2": Groupset("Shimano 105 Di2 2x12", 24, 4),
    "Shimano Ultegra Di2": Groupset("Shimano Ultegra Di2 2x12", 24, 5),
    "Shimano Dura-Ace Di2": Groupset("Shimano Dura-Ace Di2 2x12", 24, 7),
    "SRAM Apex AXS": Groupset("SRAM Apex AXS 1x12", 12, 3),
    "SRAM Rival AXS": Groupset("SRAM Rival AXS 2x12", 24, 4),
    "SRAM Force AXS": Groupset("SRAM Force AXS 2x12", 24, 6),
    "SRAM Red AXS": Groupset("SRAM Red AXS 2x12", 24, 7),
    "Campagnolo Centaur": Groupset("Campagnolo Centaur 2x11", 22, 3),
    "Campagnolo Chorus": Groupset("Campagnolo Chorus 2x12", 24, 5),
    "Campagnolo Super Record": Groupset("Campagnolo Super Record Wireless 2x12", 24, 7),
    "Campagnolo Ekar": Groupset("Campagnolo Ekar 1x13", 13, 5),
    "Shimano GRX 400": Groupset("Shimano GRX 400 2x10", 20, 2),
    "Shimano GRX 610": Groupset("Shimano GRX 610 1x12", 12, 3),
    "Shimano GRX 820": Groupset("Shimano GRX 820 1x12", 12, 5),
    "SRAM Apex XPLR": Groupset("SRAM Apex XPLR AXS 1x12", 12, 3),
    "SRAM Rival XPLR": Groupset("SRAM Rival XPLR AXS 1x12", 12, 4),
    "SRAM Force XPLR": Groupset("SRAM Force XPLR AXS 1x12", 12, 6),
    "Shimano Nexus 3": Groupset("Shimano Nexus 3-speed hub", 3, 0),
    "Shimano Nexus 5": Groupset("Shimano Nexus 5-speed hub", 5, 1),
    "Shimano Nexus 7": Groupset("Shimano Nexus 7-speed hub", 7, 1),
    "Shimano Nexus 8": Groupset("Shimano Nexus 8-speed hub", 8, 2),
    "Shimano Alivio": Groupset("Shimano Alivio 1x9", 9, 1),
    "Shimano Cues": Groupset("Shimano Cues 1x10", 10, 1),
    "Shimano Deore": Groupset("Shimano Deore 1x12", 12, 2),
    "Shimano SLX": Groupset("Shimano SLX 1x12", 12, 3),
    "Shimano XT": Groupset("Shimano XT 1x12", 12, 5),
    "SRAM NX Eagle": Groupset("SRAM NX Eagle 1x12", 12, 2),
    "SRAM GX Eagle": Groupset("SRAM GX Eagle Transmission 1x12", 12, 4),
    "SRAM X0 Eagle": Groupset("SRAM X0 Eagle Transmission 1x12", 12, 6),
}


@dataclass(frozen=True, slots=True)
class Build:
    """One model (``group_sku``) of a bike family: a trim level at a price."""

    trim: str
    groupset: str
    price: float
    brake: str = "hydraulic_disc"
    tyre_mm: int | None = None
    pedals: bool = False
    travel_mm: int | None = None


@dataclass(frozen=True, slots=True)
class BikeFamily:
    """A frame platform sold in several builds; each build becomes one model."""

    category: str
    brand: str
    code: str
    name: str
    geometry: str
    material: str
    base_kg: float
    tyre_mm: int
    pitch: str
    feature: str
    colours: tuple[str, ...]
    builds: tuple[Build, ...]
    size_run: str = ""
    wheel: str = "700c"
    travel_mm: int | None = None
    battery_wh: int | None = None
    motor: str | None = None


# fmt: off
# The tables below are laid out by hand (one family or product per paragraph); the
# formatter would spread every call over a dozen lines.


def _road(brand: str, code: str, name: str, geometry: str, material: str, base_kg: float,
          pitch: str, feature: str, colours: tuple[str, ...], *builds: Build,
          tyre_mm: int = 28) -> BikeFamily:
    return BikeFamily("road_bike", brand, code, name, geometry, material, base_kg, tyre_mm,
                      pitch, feature, colours, builds, size_run=brand)


B = Build
RIM = "rim"
MECH = "disc"

_ROAD: tuple[BikeFamily, ...] = (
    # Ardent: an all-round brand with a broad aluminium entry range.
    _road("ARD", "END", "Tempo", "endurance", "aluminium", 9.7,
        "An aluminium endurance bike with a relaxed, upright position for first club rides.",
        "mudguard and rack mounts", ("Slate Grey", "Racing Green"),
        B("1", "Shimano Claris", 699, RIM, 25, pedals=True),
        B("2", "Shimano Sora", 849, RIM, pedals=True),
        B("3", "Shimano Tiagra", 1099, MECH, 30), B("4", "Shimano 105", 1349, tyre_mm=30)),
    _road("ARD", "ENC", "Tempo Carbon", "endurance", "carbon", 8.6,
        "The Tempo geometry in a compliant carbon frame that takes the sting out of rough tarmac.",
        "clearance for 32 mm tyres", ("Midnight Blue", "Sand"),
        B("5", "Shimano 105 Di2", 2499), B("7", "Shimano Ultegra Di2", 3999), tyre_mm=30),
    _road("ARD", "RCE", "Sprint", "race", "carbon", 8.3,
        "A stiff, low-slung race frame built for criteriums and fast group rides.",
        "integrated cockpit", ("Signal Red", "Gloss Black"),
        B("6", "SRAM Rival AXS", 3299), B("8", "SRAM Force AXS", 5499)),
    # Kestrel Row: British, steel heritage plus a modern carbon line.
    _road("KSR", "ASH", "Ashby", "endurance", "steel", 10.3,
        "A hand-brazed Reynolds steel frame with the lively, forgiving ride steel is loved for.",
        "traditional round tubes and a threaded bottom bracket", ("British Racing Green", "Cream"),
        B("2", "Shimano Tiagra", 1299, MECH, 30), B("4", "Shimano 105", 1799, tyre_mm=32)),
    _road("KSR", "FEN", "Fenwick", "endurance", "aluminium", 9.7,
        "A dependable aluminium all-rounder for weekday commutes and long weekend rides.",
        "mudguard mounts", ("Storm Grey", "Teal"),
        B("1", "Shimano Sora", 999, MECH), B("3", "Shimano 105", 1399, tyre_mm=30)),
    _road("KSR", "HAR", "Harrier", "race", "carbon", 8.3,
        "A light carbon race bike with quick, precise handling for hilly road races.",
        "frame weight under 900 g", ("Electric Blue", "Matte Black"),
        B("5", "Shimano 105 Di2", 2899), B("7", "Shimano Ultegra Di2", 4299)),
    _road("KSR", "GYR", "Gyr", "aero", "carbon", 8.6,
        "A wind-tunnel-shaped aero frame with deep carbon wheels for riders who measure in watts.",
        "50 mm deep carbon wheels", ("Prism Silver",),
        B("8", "Shimano Dura-Ace Di2", 7499)),
    # Nordvelo: Scandinavian, year-round riding.
    _road("NVL", "FJD", "Fjord", "endurance", "aluminium", 9.8,
        "Built for wet Nordic roads: relaxed geometry, mudguard mounts and room for wide tyres.",
        "full mudguard mounts", ("Fjord Blue", "Birch White"),
        B("1", "Shimano Claris", 649, RIM, 25, pedals=True),
        B("2", "Shimano Tiagra", 1049, MECH, 30), B("3", "Shimano 105", 1299, tyre_mm=30)),
    _road("NVL", "FJC", "Fjord CF", "endurance", "carbon", 8.6,
        "The Fjord's all-weather geometry in a carbon frame for long days in the saddle.",
        "hidden mudguard mounts", ("Pine Green", "Graphite"),
        B("5", "Shimano 105 Di2", 2399), B("7", "Shimano Ultegra Di2", 3899), tyre_mm=32),
    _road("NVL", "NRD", "Nordlys", "aero", "carbon", 8.7,
        "An aero road bike that stays calm in crosswinds thanks to moderate tube profiles.",
        "aero handlebar with internal routing", ("Aurora Green", "Black Chrome"),
        B("6", "SRAM Rival AXS", 3499), B("8", "SRAM Red AXS", 7999)),
    # Brightwater: value-led, direct to consumer.
    _road("BRW", "CST", "Coastline", "endurance", "aluminium", 9.6,
        "A friendly aluminium road bike with a tall head tube, ideal for riders new to drop bars.",
        "compact 50/34 chainset for easy climbing", ("Ocean Blue", "Coral"),
        B("1", "Shimano Claris", 629, RIM, 25, pedals=True),
        B("2", "Shimano Sora", 879, RIM, pedals=True),
        B("3", "Shimano Tiagra", 1199, tyre_mm=30), B("4", "Shimano 105", 1449, tyre_mm=30)),
    _road("BRW", "RIP", "Riptide", "race", "aluminium", 9.3,
        "A sharp aluminium race frame with a carbon fork that punches well above its price.",
        "carbon fork and tapered head tube", ("Neon Yellow", "Black"),
        B("3", "Shimano 105", 1599, tyre_mm=25), B("4", "SRAM Apex AXS", 2099)),
    _road("BRW", "UND", "Undertow", "aero", "carbon", 8.8,
        "An accessible carbon aero bike for triathletes and fast solo efforts.",
        "aero seatpost with integrated clamp", ("Deep Teal",),
        B("6", "Shimano 105 Di2", 2999, tyre_mm=26)),
    # Falcata: Spanish racing brand.
    _road("FAL", "TOL", "Toledo", "race", "carbon", 8.2,
        "Falcata's climbing bike: a featherweight carbon frame made for the long mountain passes.",
        "sub-7 kg top build", ("Team Red", "Raw Carbon"),
        B("5", "Shimano 105 Di2", 2699), B("7", "Shimano Ultegra Di2", 4499),
        B("9", "Shimano Dura-Ace Di2", 7999, tyre_mm=26)),
    _road("FAL", "ESP", "Espada", "aero", "carbon", 8.6,
        "A pro-level aero platform with a fully integrated cockpit and deep-section wheels.",
        "fully integrated cockpit", ("Blade Silver", "Black Gold"),
        B("6", "SRAM Force AXS", 5799), B("9", "SRAM Red AXS", 7899)),
    _road("FAL", "SIE", "Sierra", "endurance", "carbon", 8.8,
        "A carbon endurance bike with a taller stack for comfortable all-day mountain rides.",
        "flip-chip for two fork offsets", ("Sierra Orange", "Stone"),
        B("4", "Shimano 105", 1999, tyre_mm=30), B("6", "SRAM Rival AXS", 3199, tyre_mm=30)),
    _road("FAL", "RON", "Ronda", "race", "aluminium", 9.4,
        "A smooth-welded aluminium race bike for the first season of racing or quick club runs.",
        "smooth-welded joints", ("Falcata Red", "White"),
        B("2", "Shimano Tiagra", 1249, tyre_mm=25), B("3", "Shimano 105", 1499, tyre_mm=25)),
    # Monte Alto: Italian, Campagnolo-heavy.
    _road("MTA", "DOL", "Dolomiti", "race", "carbon", 8.2,
        "Hand-finished in Italy: a classic race bike with precise, thoroughbred steering.",
        "hand-painted finish", ("Celeste", "Nero"),
        B("7", "Campagnolo Chorus", 4699, tyre_mm=26),
        B("9", "Campagnolo Super Record", 7799, tyre_mm=26)),
    _road("MTA", "STV", "Stelvio", "endurance", "carbon", 8.7,
        "Named after the famous pass: a carbon endurance frame for long climbs and fast descents.",
        "compact gearing for steep gradients", ("Alpine White", "Bordeaux"),
        B("4", "Campagnolo Centaur", 2199), B("7", "Campagnolo Chorus", 3899, tyre_mm=30)),
    _road("MTA", "VNT", "Vento", "aero", "carbon", 8.7,
        "An aero race bike with truncated tube shapes that save watts without punishing comfort.",
        "truncated aerofoil tubes", ("Azzurro", "Carbon Black"),
        B("6", "Shimano Ultegra Di2", 4599), B("8", "Campagnolo Chorus", 4999), tyre_mm=26),
    _road("MTA", "CLS", "Classica", "race", "steel", 10.1,
        "A lugged Columbus steel race frame with rim brakes, true to the Italian tradition.",
        "lugged Columbus steel frame", ("Verde Chiaro", "Chrome"),
        B("3", "Campagnolo Centaur", 1999, RIM, 25)),
    _road("MTA", "STR", "Strada", "endurance", "aluminium", 9.7,
        "An aluminium endurance bike with Italian looks and an easy-going, stable ride.",
        "internal cable routing", ("Rosso", "Grigio"),
        B("1", "Shimano Sora", 929, MECH)),
    # Lindqvist: Swedish boutique, titanium and steel.
    _road("LQV", "VIN", "Vinter", "endurance", "titanium", 9.1,
        "A brushed titanium endurance frame that will outlast every component you hang on it.",
        "brushed titanium, no paint to chip", ("Brushed Titanium",),
        B("5", "Shimano 105 Di2", 3799), B("7", "Shimano Ultegra Di2", 5299), tyre_mm=32),
    _road("LQV", "STL", "Stål", "endurance", "steel", 10.2,
        "A modern steel endurance bike with tapered head tube and thru-axles.",
        "Columbus Zona steel tubing", ("Oxblood", "Forest"),
        B("3", "Shimano 105", 1699, tyre_mm=30)),
    _road("LQV", "SOM", "Sommar", "race", "titanium", 8.9,
        "A titanium race frame with oversized tubes: stiff in sprints, smooth on chip seal.",
        "oversized 3Al/2.5V titanium tubes", ("Bead-blasted Titanium",),
        B("6", "SRAM Force AXS", 6499)),
    _road("LQV", "VNG", "Vinge", "aero", "carbon", 8.7,
        "Lindqvist's carbon aero bike, drawn with Scandinavian restraint and no wasted lines.",
        "integrated seat clamp", ("Glacier White",),
        B("6", "Shimano Ultegra Di2", 4899)),
    # Ostwind: German direct-to-consumer brand, strong on aero.
    _road("OST", "BRS", "Brise", "endurance", "aluminium", 9.6,
        "Ostwind's aluminium endurance bike: honest parts, hydraulic brakes and a relaxed fit.",
        "hydraulic disc brakes at entry level", ("Anthracite", "Petrol"),
        B("2", "Shimano Tiagra", 1099, tyre_mm=30), B("3", "Shimano 105", 1399, tyre_mm=30)),
    _road("OST", "STM", "Sturm", "aero", "carbon", 8.7,
        "A deep-section carbon aero bike with a one-piece bar for fast riding on flat roads.",
        "one-piece aero cockpit", ("Stealth Black", "Ice Blue"),
        B("5", "Shimano 105 Di2", 2599), B("7", "Shimano Ultegra Di2", 3799),
        B("9", "Shimano Dura-Ace Di2", 6999)),
    _road("OST", "ORK", "Orkan", "race", "carbon", 8.3,
        "A race-bred carbon frame with aggressive geometry and an appetite for attacks.",
        "race geometry with low stack", ("Orange Fade", "Black"),
        B("6", "SRAM Rival AXS", 2999), B("8", "SRAM Force AXS", 4999)),
)


def _bike(category: str, brand: str, code: str, name: str, geometry: str, material: str,
          base_kg: float, tyre_mm: int, size_run: str, pitch: str, feature: str,
          colours: tuple[str, ...], *builds: Build, wheel: str, travel_mm: int | None = None,
          battery_wh: int | None = None, motor: str | None = None) -> BikeFamily:
    return BikeFamily(category, brand, code, name, geometry, material, base_kg, tyre_mm, pitch,
                      feature, colours, builds, size_run, wheel, travel_mm, battery_wh, motor)


_OTHER_BIKES: tuple[BikeFamily, ...] = (
    # Gravel: allroad geometry, wide tyres, road brands' size runs.
    _bike("gravel_bike", "ARD", "GRV", "Switchback", "allroad", "aluminium", 10.4, 40, "ARD",
        "An aluminium gravel bike as happy on forest roads as on the daily commute.",
        "three bottle mounts and rack eyelets", ("Olive", "Desert Tan"),
        B("1", "Shimano GRX 400", 1299), B("3", "Shimano GRX 610", 1799, tyre_mm=45),
        wheel="700c"),
    _bike("gravel_bike", "KSR", "BRM", "Bramble", "allroad", "steel", 11.2, 42, "KSR",
        "A steel adventure bike for loaded bikepacking trips and muddy winter lanes.",
        "bikepacking mounts on fork and top tube", ("Moss", "Rust"),
        B("2", "Shimano GRX 400", 1499), B("4", "Shimano GRX 820", 2199, tyre_mm=50),
        wheel="700c"),
    _bike("gravel_bike", "NVL", "TUN", "Tundra", "allroad", "carbon", 9.0, 45, "NVL",
        "A carbon gravel racer with room for 50 mm tyres and a calm, confident front end.",
        "internal frame storage", ("Lichen", "Charcoal"),
        B("6", "SRAM Rival XPLR", 3299), B("8", "SRAM Force XPLR", 4799, tyre_mm=42),
        wheel="700c"),
    _bike("gravel_bike", "BRW", "OUT", "Outback", "allroad", "aluminium", 10.6, 38, "BRW",
        "An affordable gravel bike that opens up bridleways and towpaths to road riders.",
        "rack and mudguard mounts", ("Sage", "Sandstone"),
        B("1", "Shimano Sora", 949, MECH, pedals=True), B("3", "SRAM Apex XPLR", 1399, tyre_mm=45),
        wheel="700c"),
    _bike("gravel_bike", "MTA", "STE", "Sterrato", "allroad", "carbon", 8.9, 40, "MTA",
        "Inspired by the white roads of Tuscany: a fast carbon gravel bike with road manners.",
        "Campagnolo Ekar 13-speed", ("Bianco Strada",),
        B("7", "Campagnolo Ekar", 3499), wheel="700c"),
    _bike("gravel_bike", "LQV", "SKG", "Skog", "allroad", "titanium", 9.6, 50, "LQV",
        "A titanium gravel bike for multi-day forest trips, with mounts for everything.",
        "dropper-post compatible", ("Brushed Titanium",),
        B("7", "Shimano GRX 820", 4299), wheel="700c"),
    _bike("gravel_bike", "OST", "FLD", "Feldweg", "allroad", "aluminium", 10.3, 42, "OST",
        "A no-nonsense aluminium gravel bike with a 1x drivetrain and tubeless-ready wheels.",
        "tubeless-ready wheels", ("Clay", "Anthracite"),
        B("3", "Shimano GRX 610", 1599), B("5", "SRAM Rival XPLR", 2399, tyre_mm=45),
        wheel="700c"),
    # City: upright comfort geometry, always sold with pedals.
    _bike("city_bike", "GRW", "OMA", "Omafiets", "comfort", "steel", 19.0, 40, "city",
        "A classic Dutch step-through with an upright seat, full chain case and rear carrier.",
        "fully enclosed chain case", ("Matte Black", "Bottle Green"),
        B("3", "Shimano Nexus 3", 549, RIM), B("7", "Shimano Nexus 7", 699, RIM), wheel="28"),
    _bike("city_bike", "GRW", "HER", "Herenfiets", "comfort", "steel", 18.5, 40, "city_tall",
        "A Dutch gentleman's bike with a diamond frame, hub dynamo lights and a sturdy carrier.",
        "hub dynamo with automatic lights", ("Navy",),
        B("8", "Shimano Nexus 8", 849, RIM), wheel="28"),
    _bike("city_bike", "BRW", "PRM", "Promenade", "comfort", "aluminium", 16.0, 42, "city",
        "A light aluminium city bike with a low step-over and a suspension seat post.",
        "suspension seat post", ("Pearl White", "Sky Blue"),
        B("7", "Shimano Nexus 7", 749, MECH), B("9", "Shimano Alivio", 899), wheel="28"),
    _bike("city_bike", "NVL", "KVT", "Kvarter", "comfort", "aluminium", 14.5, 40, "city_tall",
        "A clean Scandinavian commuter with integrated lights and a low-maintenance drivetrain.",
        "integrated front and rear lights", ("Snow", "Slate"),
        B("8", "Shimano Nexus 8", 1199), B("10", "Shimano Cues", 999), wheel="28"),
    _bike("city_bike", "PDL", "STD", "Stad", "comfort", "aluminium", 15.5, 42, "city_sml",
        "An easy-going step-through commuter delivered with kickstand, mudguards and rack.",
        "kickstand, mudguards and rack fitted", ("Mint", "Graphite"),
        B("3", "Shimano Nexus 3", 499, RIM), B("7", "Shimano Nexus 7", 649, MECH), wheel="28"),
    # Mountain: trail geometry, letter sizes with an approximate frame size in cm.
    _bike("mountain_bike", "MTA", "CRS", "Cresta", "trail", "aluminium", 13.8, 60, "mtb",
        "An aluminium hardtail for cross-country loops and first trail adventures.",
        "tapered head tube and Boost axles", ("Verde", "Grigio"),
        B("1", "Shimano Deore", 999, travel_mm=100), B("3", "Shimano SLX", 1399, travel_mm=120),
        wheel="29"),
    _bike("mountain_bike", "KTR", "SCR", "Scree", "trail", "aluminium", 15.6, 60, "mtb",
        "A full-suspension trail bike that climbs efficiently and descends with composure.",
        "dropper post and tubeless tyres", ("Granite", "Moss Green"),
        B("5", "Shimano Deore", 2499), B("7", "Shimano XT", 3699), wheel="29", travel_mm=140),
    _bike("mountain_bike", "KTR", "TAL", "Talus", "trail", "carbon", 15.2, 63, "mtb",
        "A long-travel carbon enduro bike for bike parks and steep, rough descents.",
        "coil-shock compatible rear end", ("Lava Orange", "Black"),
        B("8", "SRAM GX Eagle", 4799), wheel="29", travel_mm=160),
    _bike("mountain_bike", "RTW", "LIC", "Lichtung", "trail", "aluminium", 13.9, 60, "mtb_small",
        "A nimble hardtail sized for smaller riders who want agile handling on forest trails.",
        "short-reach brake levers", ("Forest Green", "Ruby"),
        B("2", "SRAM NX Eagle", 1099), wheel="27.5", travel_mm=120),
    _bike("mountain_bike", "RTW", "HNG", "Hang", "trail", "aluminium", 15.4, 62, "mtb",
        "A trail bike for all-day rides in the Alps, as good on long climbs as on the way down.",
        "flip chip for high and low geometry", ("Alpine Blue", "Anthracite"),
        B("5", "SRAM GX Eagle", 2999), wheel="29", travel_mm=130),
    _bike("mountain_bike", "RTW", "HNC", "Hang CF", "trail", "carbon", 13.9, 62, "mtb",
        "The Hang trail platform in carbon, with wireless shifting and a lighter build.",
        "SRAM Transmission wireless shifting", ("Raw Carbon",),
        B("9", "SRAM X0 Eagle", 5999), wheel="29", travel_mm=140),
    _bike("mountain_bike", "BRW", "BSH", "Bushline", "trail", "aluminium", 14.6, 57, "mtb_small",
        "An entry-level hardtail with a lockout fork, ready for bridleways and beginner trails.",
        "fork with handlebar lockout", ("Eucalyptus", "Black"),
        B("1", "Shimano Cues", 749, pedals=True), wheel="27.5", travel_mm=100),
    # E-bikes: always sold with pedals.
    _bike("e_bike", "GRW", "EOM", "E-Omafiets", "comfort", "aluminium", 25.5, 42, "city",
        "The classic Dutch step-through with a quiet mid-drive motor for effortless commuting.",
        "rear carrier rated to 27 kg", ("Matte Black", "Cream"),
        B("7", "Shimano Nexus 7", 2499, RIM), wheel="28", battery_wh=500,
        motor="Bosch Active Line Plus"),
    _bike("e_bike", "NVL", "KVE", "Kvarter E", "comfort", "aluminium", 23.0, 42, "city_tall",
        "A belt-driven e-commuter with a strong motor and integrated lights for year-round use.",
        "Gates carbon belt drive", ("Snow", "Slate"),
        B("5", "Shimano Nexus 5", 3299), wheel="28", battery_wh=625,
        motor="Bosch Performance Line"),
    _bike("e_bike", "BRW", "PRE", "Promenade E", "comfort", "aluminium", 24.0, 42, "city",
        "The Promenade with a light mid-drive motor: low step-over, upright and easy to handle.",
        "removable frame battery", ("Pearl White",),
        B("7", "Shimano Nexus 7", 2199), wheel="28", battery_wh=400, motor="Shimano E5100"),
    _bike("e_bike", "PDL", "STE", "Stad E", "comfort", "aluminium", 24.5, 42, "city_sml",
        "An affordable step-through e-bike with kickstand, rack and mudguards fitted.",
        "kickstand, mudguards and rack fitted", ("Mint",),
        B("7", "Shimano Nexus 7", 1999), wheel="28", battery_wh=418,
        motor="Bafang M420"),
    _bike("e_bike", "KTR", "SCE", "Scree E", "trail", "aluminium", 25.5, 63, "mtb",
        "A full-power electric trail bike that turns steep climbs into a warm-up.",
        "750 Wh battery for long alpine days", ("Granite",),
        B("7", "SRAM GX Eagle", 5499), wheel="29", travel_mm=150, battery_wh=750,
        motor="Bosch Performance Line CX"),
    _bike("e_bike", "RTW", "HGE", "Hang E", "trail", "aluminium", 24.5, 62, "mtb",
        "The Hang trail bike with a compact motor that keeps the handling natural.",
        "compact Shimano EP801 motor", ("Alpine Blue",),
        B("5", "Shimano Deore", 4299), wheel="29", travel_mm=140, battery_wh=630,
        motor="Shimano EP801"),
    _bike("e_bike", "MTA", "CRE", "Cresta E", "trail", "aluminium", 22.5, 60, "mtb",
        "An electric hardtail for forest tracks and commutes with a few hills in them.",
        "integrated down-tube battery", ("Verde",),
        B("3", "Shimano Cues", 2799), wheel="29", travel_mm=100, battery_wh=500,
        motor="Bosch Performance Line"),
)

BIKE_FAMILIES: tuple[BikeFamily, ...] = _ROAD + _OTHER_BIKES

#: Variants that are sold out, by model; None means every size.
SOLD_OUT: dict[str, tuple[str, ...] | None] = {
    "KSR-GYR-8": None,  # limited flagship: a whole model the shop cannot deliver
    "NVL-FJD-3": ("54", "56"),  # popular middle sizes gone
    "MTA-DOL-9": ("47", "49"),
    "RTW-HNG-5": ("M",),
    "LUM-LGT-TBS": None,  # an accessory that cannot be offered right now
}
# fmt: on
