r"""Read amounts of money and body heights from a shopper's free text, English or German.

The text is split into small tokens (numerals, words, single symbols); number words
("fifteen hundred", "six foot", "zweitausend", "fünfzehnhundert") become numerals; every
numeral then becomes a *mention* classified by its neighbours: money ("1.5k", "€1,500",
"2 grand", "1500,-"), a length ("1,82 m", "6'1\"", "182cm", "I'm 182", "ich bin 1,82",
"eins zweiundachtzig"), bare ("1800", "ca. 2 Tsd.") or something else ("5 years",
"2-bolt", "5 Jahre"). A range ("1000-1500", "between 1000 and 1500", "zwischen 1000 und
1500", "1000 bis 1500") collapses into its upper bound, because the top of a range is
what a budget means: the shopper who says "zwischen 1000 und 1500" is shown bikes up to
1500.

The word tables hold both languages at once: no English number or unit word means
something else in German, and a German shopper may write "2k" as readily as "2 Tsd.".

Nothing here raises on junk: unreadable input gives no mention and ``None``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = [
    "MAX_CHARS",
    "has_length_cue",
    "has_money_cue",
    "parse_length_cm",
    "parse_money",
]

MAX_CHARS = 1000
"""Only this many characters of a message are read; answers are short, junk can be huge."""

Kind = Literal["money", "length", "bare", "other"]

# Numerals keep their separators so "1.500" and "1,82" can be told apart later; "''" is
# one token because it is a common way to type the inch mark.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|''|[^\s\w]")
_IM = re.compile(r"\bi\s*'\s*m\b|\bim\b")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "′": "'", "´": "'", "”": '"', "“": '"', "″": '"'})

_EN_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
)
_DE_UNITS = (
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn "
    "vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn"
)
_DE_UNITS_ASCII = _DE_UNITS.replace("ü", "ue").replace("ö", "oe")
_UNITS = {
    w: i for words in (_EN_UNITS, _DE_UNITS, _DE_UNITS_ASCII) for i, w in enumerate(words.split())
}
_UNITS |= {"ein": 1, "eine": 1, "zwo": 2}  # only as parts of numbers, never alone
_TENS = {
    w: 10 * i
    for words in (
        "twenty thirty forty fifty sixty seventy eighty ninety",
        "zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig",
        "zwanzig dreissig vierzig fuenfzig sechzig siebzig achtzig neunzig",
    )
    for i, w in enumerate(words.split(), 2)
}
_SCALES = {"hundred": 100.0, "thousand": 1000.0, "hundert": 100.0, "tausend": 1000.0}
_SCALES |= {"tsd": 1000.0}
# "between 1000 and 1500", "zwischen 1000 und 1500"; "1000 to 1500", "1000 bis 1500".
_RANGE_FROM = frozenset({"between", "zwischen"})
_RANGE_AND = frozenset({"and", "und"})
_RANGE_TO = frozenset({"-", "to", "bis"})

_CURRENCY_AFTER = frozenset(
    "€ eur euro euros eu $ usd dollar dollars bucks quid £ gbp pounds teuro".split()
)
_CURRENCY_BEFORE = frozenset("€ eur euro euros $ usd £ gbp".split())
_MONEY_CONTEXT = frozenset(
    "budget spend spending pay paying afford cost costs price priced "
    "ausgeben kosten kostet preis zahlen bezahlen investieren".split()
)
_CM = frozenset("cm cms centimeter centimeters centimetre centimetres zentimeter".split())
_METRES = frozenset("m meter meters metre metres mtr mtrs".split())
_FEET = frozenset("' ft foot feet".split())
_INCHES = frozenset("\" '' in inch inches".split())
_LENGTH_CONTEXT = frozenset(
    "height tall high groß gross größe groesse körpergröße koerpergroesse".split()
)
_I_AM = (["i", "am"], ["ich", "bin"])
_APPROX = frozenset(
    "about around roughly approx approximately like ca circa nearly almost maybe ~ "
    "etwa ungefähr ungefaehr rund zirka knapp so".split()
)
# A number with one of these after it counts something else than money or height.
_OTHER_UNITS = frozenset(
    "years year yrs yr months month weeks week days day hours hour h hrs min minutes km kms "
    "kilometers kilometres miles mi kg kgs kilos lbs times x % percent kids bikes speed "
    "speeds gears mm rides st nd rd th "
    "jahre jahren jahr monate monaten monat wochen woche tage tagen tag stunden stunde std "
    "kilometer kilo mal gänge gang fahrten prozent kinder räder".split()
)
# Words next to which a lone number word ("six foot", "foot one") is read as a number.
_NUMBER_WORD_NEIGHBOURS = (
    _FEET | _CM | _METRES | _CURRENCY_AFTER | {"grand", "k", "inch", "inches", "tall"}
)

Item = str | float


@dataclass(frozen=True, slots=True)
class Mention:
    """A number read from text: its value (already in EUR or cm) and what it measures."""

    value: float
    kind: Kind
    start: int
    end: int


def parse_money(text: str) -> float | None:
    """Read an amount of money, in the currency the shopper wrote it in.

    Money-marked numbers ("1.5k", "€1,500", "2 grand", "900 bucks") win over bare ones
    ("up to 1800"); a range gives its upper bound; lengths and counts are skipped.

    Args:
        text: The shopper's message.

    Returns:
        The amount, or ``None`` when the text holds no plausible amount.
    """
    mentions = _mentions(_prepare(text))
    for kind in ("money", "bare"):
        for mention in mentions:
            if mention.kind == kind and mention.value > 0:
                return round(mention.value, 2)
    return None


def parse_length_cm(text: str, *, bare_ok: bool) -> float | None:
    """Read a body height in centimetres ("1,82 m", "6 ft 1", "182cm", "I'm 182").

    Args:
        text: The shopper's message.
        bare_ok: Also read a number without any cue: 120..230 as centimetres, 1.2..2.3
            as metres. Set it when the shopper was just asked for their height.

    Returns:
        The length in centimetres rounded to 0.1, or ``None`` when none is found.
    """
    mentions = _mentions(_prepare(text))
    for mention in mentions:
        if mention.kind == "length" and mention.value > 0:
            return round(mention.value, 1)
    if bare_ok:
        for mention in mentions:
            if mention.kind == "bare" and (cm := _plausible_height(mention.value)) is not None:
                return round(cm, 1)
    return None


def has_money_cue(text: str) -> bool:
    """Tell whether the text marks a number as money (currency, "k", "grand", "budget")."""
    return any(m.kind == "money" for m in _mentions(_prepare(text)))


def has_length_cue(text: str) -> bool:
    """Tell whether the text marks a number as a length (cm, m, feet, "tall", "I'm 182")."""
    return any(m.kind == "length" for m in _mentions(_prepare(text)))


def _prepare(text: str) -> str:
    # Truncate before caching so a huge message costs (and occupies) no more than a short one.
    if not isinstance(text, str):
        return ""
    text = text[:MAX_CHARS].lower().translate(_QUOTES)
    # "I'm" would otherwise leave an "m" that looks like metres.
    return _IM.sub("i am", text)


@lru_cache(maxsize=512)
def _mentions(text: str) -> tuple[Mention, ...]:
    items = _numberise(_TOKEN.findall(text))
    mentions: list[Mention] = []
    i = 0
    while i < len(items):
        if isinstance(items[i], float):
            mention = _read_mention(items, i)
            mentions.append(mention)
            i = mention.end
        else:
            i += 1
    return tuple(m for m in _merge_ranges(items, mentions) if math.isfinite(m.value))


def _numeral(token: str) -> float:
    """Value of a numeral, telling thousands separators from decimal marks."""
    groups = re.split(r"[.,]", token)
    if len(groups) == 1:
        return float(token)
    # "1.500" and "1,500,000" group thousands; "1,82", "1.5" and "1.499,99" end in decimals.
    if len(groups[-1]) == 3 and all(len(g) == 3 for g in groups[1:]):
        return float("".join(groups))
    return float("".join(groups[:-1]) + "." + groups[-1])


def _numberise(tokens: list[str]) -> list[Item]:
    """Turn numerals and runs of number words into floats."""
    items: list[Item] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token[0].isdigit():
            # Some digits Python's isdigit() knows are no numerals float() reads ("²",
            # "⓵"): those stay words.
            try:
                items.append(_numeral(token))
            except ValueError:
                items.append(token)
            i += 1
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        cm = _german_number(nxt) if token == "eins" else None
        if cm is not None and 10 <= cm < 100:
            # "eins zweiundachtzig": one metre eighty-two, how Germans say a height.
            items.extend((1 + cm / 100, "m"))
            i += 2
            continue
        end, value, scaled = _number_words(tokens, i)
        if end == i and (compound := _german_number(token)) is not None:
            end, value, scaled = i + 1, compound, "hundert" in token or "tausend" in token
        prev = tokens[i - 1] if i else ""
        nxt = tokens[end] if end < len(tokens) else ""
        # A lone "one" is usually not a number ("the one with discs"); take it only
        # when a scale or unit makes it one.
        if end > i and (end - i > 1 or scaled or {prev, nxt} & _NUMBER_WORD_NEIGHBOURS):
            items.append(value)
            i = end
        else:
            items.append(token)
            i += 1
    return items


def _number_words(tokens: list[str], i: int) -> tuple[int, float, bool]:
    """Read number words from ``i``: (end index, value, whether a scale word was read)."""
    total, current, j, scaled = 0.0, 0.0, i, False
    last = ""  # kind of the previous word: "", "unit", "tens" or "scale"
    while j < len(tokens):
        token = tokens[j]
        nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
        # "twenty five" adds up; "six one" is two numbers (six foot one), not seven.
        if token in _UNITS and (last in ("", "scale") or (last == "tens" and _UNITS[token] < 10)):
            current, last = current + _UNITS[token], "unit"
        elif token in _TENS and last in ("", "scale"):
            current, last = current + _TENS[token], "tens"
        elif token in ("a", "an") and not last and nxt in ("hundred", "thousand", "grand"):
            current, last = 1.0, "unit"
        elif token in _SCALES and last in ("unit", "tens"):
            scaled, last = True, "scale"
            if _SCALES[token] == 100:
                current *= 100
            else:
                total, current = total + current * 1000, 0.0
        elif token == "and" and last == "scale" and (nxt in _UNITS or nxt in _TENS):
            j += 1
            continue
        else:
            break
        j += 1
    return j, total + current, scaled


@lru_cache(maxsize=4096)
def _german_number(word: str) -> float | None:
    """Value of a German number written as one word: "zweiundachtzig", "zweitausend"."""
    if not word.isalpha():
        return None
    if "tausend" in word:
        left, _, right = word.partition("tausend")
        high = 1.0 if left in ("", "ein") else _below_thousand(left)
        low = _below_thousand(right.removeprefix("und")) if right else 0.0
        return None if high is None or low is None else high * 1000 + low
    return _below_thousand(word)


def _below_thousand(word: str) -> float | None:
    if "hundert" in word:
        left, _, right = word.partition("hundert")
        high = 1.0 if left in ("", "ein") else _below_hundred(left)
        low = _below_hundred(right.removeprefix("und")) if right else 0.0
        return None if high is None or low is None else high * 100 + low
    return _below_hundred(word)


def _below_hundred(word: str) -> float | None:
    if word in _UNITS:
        return float(_UNITS[word])
    if word in _TENS:
        return float(_TENS[word])
    unit, joined, tens = word.partition("und")
    if joined and tens in _TENS and unit in _UNITS and 1 <= _UNITS[unit] <= 9:
        return float(_UNITS[unit] + _TENS[tens])
    return None


def _word(items: list[Item], i: int) -> str:
    if 0 <= i < len(items):
        item = items[i]
        return item if isinstance(item, str) else ""
    return ""


def _read_mention(items: list[Item], i: int) -> Mention:
    """Classify the numeral at ``i`` by the tokens around it."""
    value = items[i]
    assert isinstance(value, float)
    j = i + 1
    kind: Kind = "bare"
    nxt = _word(items, j)
    if nxt in ("k", "grand"):
        value, kind, j = value * 1000, "money", j + 1
    elif nxt in _SCALES:
        value, j = value * _SCALES[nxt], j + 1
    nxt = _word(items, j)
    if nxt in _CURRENCY_AFTER:
        return Mention(value, "money", i, j + 1)
    if nxt in (",", ".") and _word(items, j + 1) == "-":
        # "1500,-" and "1.500,--": how German prices are written.
        j += 2
        while _word(items, j) == "-":
            j += 1
        return Mention(value, "money", i, j)
    if _word(items, i - 1) in _CURRENCY_BEFORE:
        return Mention(value, "money", i, j)
    if kind == "money":
        return Mention(value, kind, i, j)
    if nxt in _CM:
        return Mention(value, "length", i, j + 1)
    if nxt in _METRES:
        return _metres(items, value, i, j + 1)
    if nxt in _FEET and 3 <= value <= 8:
        return _feet(items, value, i, j + 1)
    if nxt in ("inch", "inches", '"', "''"):
        return Mention(value * 2.54, "length", i, j + 1)
    if nxt in _OTHER_UNITS or (nxt == "-" and _word(items, j + 1)[:1].isalpha()):
        return Mention(value, "other", i, j)
    kind = _context_kind(items, i, j, value)
    if kind == "length":
        value = _plausible_height(value) or value
    return Mention(value, kind, i, j)


def _metres(items: list[Item], value: float, i: int, j: int) -> Mention:
    # "1m82": whole metres, then centimetres after the unit.
    rest = items[j] if j < len(items) else None
    if isinstance(rest, float) and value.is_integer() and 0 <= rest < 100:
        return Mention(value * 100 + rest, "length", i, j + 1)
    return Mention(value * 100, "length", i, j)


def _feet(items: list[Item], feet: float, i: int, j: int) -> Mention:
    inches = items[j] if j < len(items) else None
    if isinstance(inches, float) and 0 <= inches < 12:
        j += 1
        if _word(items, j) in _INCHES:
            j += 1
        return Mention(feet * 30.48 + inches * 2.54, "length", i, j)
    return Mention(feet * 30.48, "length", i, j)


def _context_kind(items: list[Item], i: int, j: int, value: float) -> Kind:
    """Kind of a unit-less number from the words before and after it."""
    before = [_word(items, k) for k in range(max(0, i - 4), i)]
    while before and before[-1] in _APPROX:
        before.pop()
    height = _plausible_height(value)
    if height is not None and (
        before[-2:] in _I_AM or _LENGTH_CONTEXT & set(before) or _word(items, j) in _LENGTH_CONTEXT
    ):
        return "length"
    if _MONEY_CONTEXT & set(before):
        return "money"
    return "bare"


def _plausible_height(value: float) -> float | None:
    if 120 <= value <= 230:
        return value
    if 1.2 <= value <= 2.3:
        return value * 100
    return None


def _merge_ranges(items: list[Item], mentions: list[Mention]) -> list[Mention]:
    """Collapse "1000-1500", "1000 to 1500", "between 1000 and 1500" into the upper bound."""
    merged: list[Mention] = []
    for mention in mentions:
        low = merged[-1] if merged else None
        joiner = _word(items, mention.start - 1)
        if (
            low is not None
            and low.end == mention.start - 1
            and (
                joiner in _RANGE_TO
                or (joiner in _RANGE_AND and _RANGE_FROM.intersection(_before(items, low)))
            )
            and {low.kind, mention.kind} != {"money", "length"}
            and "other" not in (low.kind, mention.kind)
        ):
            kinds = {low.kind, mention.kind}
            kind: Kind = "money" if "money" in kinds else "length" if "length" in kinds else "bare"
            value = mention.value
            if kind == "length" and mention.kind == "bare":
                value = _plausible_height(value) or value
            merged[-1] = Mention(value, kind, low.start, mention.end)
        else:
            merged.append(mention)
    return merged


def _before(items: list[Item], mention: Mention) -> list[str]:
    return [_word(items, k) for k in range(max(0, mention.start - 2), mention.start)]
