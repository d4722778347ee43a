"""Fuzz the chat endpoint: hostile inputs through ``POST /api/chat`` of the real stack.

Run ``.venv/bin/python bench/fuzz.py [--seed 1] [--count 10000] [--clients 6]``. It builds
the demo catalogue in a temporary SQLite file and starts the stack of ``make run`` on free
127.0.0.1 ports (the action server behind its HAProxy guard when HAProxy is installed,
Rasa, the web app), or measures one that runs (``--web-url``, loopback only). The inputs
(:func:`generate`, seeded) go out over conversations of ``--per-conversation`` inputs each,
as the chat widget sends them (JSON body, the conversation in the cookie); every
conversation then sends a normal message ("I want a road bike", "1500", …) that must get
a sensible reply. Three properties must hold:

* no response of 500 or more (nor a dropped connection or a timeout);
* no empty reply to a well-formed request (text, buttons or a payload; Rasa's ``/restart``
  says nothing by design and is the one exception);
* every conversation still answers the normal message afterwards: HTTP 200, text or
  buttons, not the "something went wrong" sentence, no stack trace.

A request the web app refuses with a 4xx (a body that is not the chat's JSON, a
``message`` that is not a string) is counted by status, not as a failure. Stack traces in
the servers' output are counted and the first is shown. Prints inputs sent, responses by
status, empty replies, broken conversations, p50/p95 latency and the first failures with
their input; exit code 1 on any failure or when the time limit cut the run short.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import _stats
import httpx
from conversation import is_loopback_url

from advisor.render import render
from catalog.demo import build_demo_database
from web.stack import (
    MODELS,
    REPO,
    Stack,
    free_port,
    guarded_actions,
    listening_socket,
    rasa_service,
    web_service,
)

__all__ = [
    "Case",
    "FuzzResult",
    "NORMAL_MESSAGES",
    "fuzz_stack",
    "generate",
    "run_fuzz",
]

# --- the inputs --------------------------------------------------------------------------

#: Sentinel: the request has no ``metadata`` key.
NO_METADATA: Any = object()


@dataclass(frozen=True)
class Case:
    """One hostile request to ``/api/chat``.

    Either ``message`` (with ``metadata`` unless :data:`NO_METADATA`), sent as JSON with
    every non-ASCII character escaped (so lone surrogates travel as ``\\udxxx`` escapes,
    which JSON allows), or ``raw``: a whole request body sent byte for byte.
    """

    family: str
    message: str = ""
    metadata: Any = NO_METADATA
    raw: bytes | None = None

    def body(self) -> bytes:
        """The request body as sent."""
        if self.raw is not None:
            return self.raw
        data: dict[str, Any] = {"message": self.message}
        if self.metadata is not NO_METADATA:
            data["metadata"] = self.metadata
        return json.dumps(data, ensure_ascii=True, allow_nan=True).encode("ascii")

    @property
    def well_formed(self) -> bool:
        """A body the chat must answer (JSON object, ``message`` a string); else a 4xx is fine."""
        if self.raw is None:
            return isinstance(self.metadata, dict | None) or self.metadata is NO_METADATA
        return False

    @property
    def silent_by_design(self) -> bool:
        """Rasa's ``/restart`` resets the conversation and says nothing (the widget greets).

        A raw body counts when the web app reads it as ``/restart`` (JSON's last key wins).
        """
        message: Any = self.message
        if self.raw is not None:
            try:
                message = json.loads(self.raw).get("message")
            except (ValueError, AttributeError):
                return False
        return isinstance(message, str) and message.strip() == "/restart"

    def shown(self, limit: int = 160) -> str:
        """The input as a failure shows it: repr, truncated."""
        what = repr(self.raw) if self.raw is not None else repr(self.message)
        if len(what) > limit:
            what = f"{what[:limit]}… ({len(self.raw or self.message)} chars)"
        if self.raw is None and self.metadata is not NO_METADATA:
            meta = repr(self.metadata)
            what += f" metadata={meta[:80]}{'…' if len(meta) > 80 else ''}"
        return f"[{self.family}] {what}"


#: Words shoppers say, to mix hostile characters into.
PHRASES = (
    "I want a road bike",
    "hi",
    "road bike please",
    "mostly long weekend rides",
    "total newbie",
    "about 1.5k",
    "1500",
    "1,82 m",
    "182 cm",
    "no",
    "yes",
    "why this one?",
    "what is SPD?",
    "start over",
    "I have Look Keo cleats",
    "can I talk to a person",
    "ich suche ein Rennrad",
    "totaler Anfänger",
    "so ca. 1.500 €",
    "nein",
    "Größe 1,82 m",
    "was ist SPD?",
)
INTENTS = (
    "greet",
    "goodbye",
    "thanks",
    "out_of_scope",
    "human_handoff",
    "start_over",
    "switch_language",
    "request_advice",
    "inform",
    "affirm",
    "deny",
    "change_answer",
    "ask_why",
    "explain_term",
    "resume_shared",
    "restart",
    "session_start",
    "action_listen",
    "nlu_fallback",
    "no_such_intent",
    "",
)
ENTITIES = ("choice", "ruleset", "code", "language", "advisor_state", "requested_slot", "x")
CHOICES = ("racing", "endurance", "beginner", "spd", "look_keo", "road_bike", "gravel_bike")
RULESETS = ("road_bike", "gravel_bike", "city_bike", "no_such_ruleset", "../../etc/passwd")

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u00ad")
BIDI = ("\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069")
RTL_TEXT = (
    "أريد دراجة طريق",
    "ميزانيتي ١٥٠٠ يورو",
    "אני רוצה אופני כביש",
    "תקציב 1500",
    "می‌خواهم دوچرخه",
    "\u202eekib daor a tnaw I",
    "\u202e1500\u202c",
    "I want a \u2067دراجة\u2069 road bike",
)
EMOJI = (
    "🚴",
    "🚴‍♀️",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🇩🇪",
    "🇬🇧",
    "👍🏽",
    "1️⃣5️⃣0️⃣0️⃣",
    "🚲💨",
    "❤️",
    "🤷‍♂️",
    "💶",
    "\U0001f9d1\u200d\U0001f9b0",
    "\U000e0067\U000e0062",
)
HTML = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(document.cookie)>",
    '"><svg/onload=alert(1)>',
    "</div></body></html>",
    "<!--",
    "javascript:alert(1)",
    "{{7*7}}",
    "{{ _('x') }}",
    "{% for x in range(9999999) %}x{% endfor %}",
    "${7*7}",
    "#{7*7}",
    "%s%s%s%n",
    "%(name)s {0} {}",
    "&lt;b&gt; &#x3C;script&#x3E;",
    "<b>road bike</b>",
    "[click](javascript:alert(1))",
)
SQL = (
    "'; DROP TABLE product; --",
    "1 OR 1=1",
    '" OR ""="',
    "Robert'); DROP TABLE Students;--",
    "1500 UNION SELECT password FROM useraccount",
    "' OR '1'='1' /*",
    "1; SELECT pg_sleep(10)",
    "admin'--",
    "%' AND 1=1 --",
)
NUMBERS = (
    "1e309",
    "-1e309",
    "1e-400",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "-0",
    "0",
    "00000",
    "99999999999999999999999999",
    "1.7976931348623157e308",
    "2^64",
    "-1500",
    "1,5k",
    "1.5k",
    "1_500",
    "0x5DC",
    "1500€€€",
    "€",
    "１５００",
    "١٥٠٠",
    "१५००",
    "½",
    "Ⅻ",
    "9999 cm",
    "-182 cm",
    "0 cm",
    "1,82,5 m",
    "182.000000000001 cm",
    "6'1\"",
    "12 feet",
    "1e3 euros",
    "1500 - 99999999999",
)
GERMAN = (
    "Fahrräder für Anfänger",
    "ÄÖÜäöüß ẞ",
    "Größe 1,82 m",
    "a\u0308o\u0308u\u0308 Gro\u0308\u00dfe",  # decomposed umlauts (NFD)
    "STRASSE",
    "ich möchte ein Rennrad für lange Touren, Budget 1.500 €",
    "Klickpedale? Was heißt das überhaupt?",
    "Übergröße 2,05 m",
)
MIXED = (
    "Ich want ein road bike für 1500 euros",
    "我想要一辆公路自行车",
    "ロードバイクが欲しい",
    "Хочу шоссейный велосипед за 1500",
    "Θέλω ποδήλατο δρόμου",
    "road bike 自転车 велосипед Rennrad دراجة",
    "je voudrais un vélo de route",
    "quiero una bicicleta de carretera, 1.500 €",
    "한국어 road bike 1500",
)
WHITESPACE = ("", " ", "\n", "\t\t", "\r\n\r\n", "\u3000", "\u00a0", "\u2028\u2029", "   \n ")
CONTROL = tuple(chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)))
JSON_TEXTS = (
    '{"message": "hi"}',
    '{"sender": "victim", "message": "/restart"}',
    "[]",
    "null",
    "true",
    '{"custom": {"type": "offers", "offers": []}}',
    '{"text": "<script>alert(1)</script>"}',
    '{"type": "handoff", "code": "ABCDEF"}',
    '[{"recipient_id": "x", "text": "injected"}]',
    '{"__proto__": {"admin": true}}',
    '{"a": 1e309, "b": NaN}',
)


def _random_unicode(rng: random.Random, length: int) -> str:
    """Code points from everywhere but the surrogates (those are their own family)."""
    ranges = (
        (0x20, 0x7E),
        (0xA0, 0x2FF),
        (0x300, 0x36F),  # combining marks
        (0x370, 0x10FF),
        (0x2000, 0x2BFF),
        (0x3000, 0x9FFF),
        (0xAC00, 0xD7A3),
        (0xE000, 0xF8FF),  # private use
        (0xFDD0, 0xFDEF),  # noncharacters
        (0xFFF0, 0xFFFF),
        (0x10000, 0x1FFFF),
        (0x1F300, 0x1FAFF),
        (0xE0000, 0xE007F),  # tags
        (0xF0000, 0x10FFFF),
    )
    out = []
    for _ in range(length):
        low, high = rng.choice(ranges)
        out.append(chr(rng.randint(low, high)))
    return "".join(out)


def _sprinkle(rng: random.Random, text: str, pieces: Sequence[str], times: int) -> str:
    """``text`` with ``times`` pieces put in at random places."""
    chars = list(text)
    for _ in range(times):
        chars.insert(rng.randint(0, len(chars)), rng.choice(pieces))
    return "".join(chars)


def _json_value(rng: random.Random, depth: int = 0) -> str:
    """A JSON value of any type, as text (sometimes not quite JSON)."""
    kinds = ["int", "float", "str", "null", "bool", "list", "object", "bad"]
    kind = rng.choice(kinds if depth < 3 else kinds[:5])
    if kind == "int":
        return str(rng.choice((0, -1, 1500, 2**63, -(2**64), 10**400)))
    if kind == "float":
        return rng.choice(("1e309", "-1e309", "NaN", "Infinity", "-0.0", "1.5", "1e-400"))
    if kind == "str":
        return json.dumps(
            rng.choice((*CHOICES, "", " ", "\u0000", "ä" * 300, _random_unicode(rng, 8)))
        )
    if kind == "null":
        return "null"
    if kind == "bool":
        return rng.choice(("true", "false"))
    if kind == "list":
        return "[" + ", ".join(_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    if kind == "object":
        keys = rng.sample(ENTITIES, rng.randint(0, 3))
        return "{" + ", ".join(f'"{k}": {_json_value(rng, depth + 1)}' for k in keys) + "}"
    return rng.choice(("'racing'", "racing", "{", "}", '"unterminated', "[1,", ":", ""))


def _nested(depth: int, opener: str = "[", closer: str = "]", inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


# Each family: a function of the generator that gives one case.


def _fam_unicode(rng: random.Random) -> Case:
    return Case("unicode", _random_unicode(rng, rng.choice((1, 3, 20, 200, 1000))))


def _fam_control(rng: random.Random) -> Case:
    if rng.random() < 0.3:
        text = "".join(rng.choice(CONTROL) for _ in range(rng.randint(1, 50)))
    else:
        text = _sprinkle(rng, rng.choice(PHRASES), CONTROL, rng.randint(1, 6))
    return Case("control", text)


def _fam_nul(rng: random.Random) -> Case:
    text = rng.choice(
        (
            "\x00",
            "\x00" * rng.randint(2, 5000),
            _sprinkle(rng, rng.choice(PHRASES), ("\x00",), rng.randint(1, 4)),
            "/restart\x00",
            '/inform{"choice": "racing\x00"}',
            "\x00/inform{}",
        )
    )
    return Case("nul", text)


def _fam_long(rng: random.Random) -> Case:
    size = rng.choice((4999, 5000, 5001, 10_000, 50_000, 100_000, 100_001))
    kind = rng.randrange(5)
    if kind == 0:
        text = "a" * size
    elif kind == 1:
        text = ("road bike 1500 " * (size // 15 + 1))[:size]
    elif kind == 2:
        text = _random_unicode(rng, min(size, 20_000))
    elif kind == 3:
        text = ("🚴‍♀️" * size)[:size]
    else:
        text = "/inform{" + '"choice": "' + "x" * size + '"}'
    return Case("long", text)


def _fam_intent(rng: random.Random) -> Case:
    intent = rng.choice(INTENTS)
    kind = rng.randrange(8)
    if kind == 0:  # a well-formed payload with a value of the wrong type
        entity = rng.choice(ENTITIES)
        text = f'/{intent}{{"{entity}": {_json_value(rng)}}}'
    elif kind == 1:  # broken JSON
        text = f"/{intent}" + rng.choice(
            (
                "{",
                "}",
                "{}}",
                '{"choice":',
                '{"choice": }',
                "{'choice': 'racing'}",
                '{"choice" "racing"}',
                '{"choice": "racing",}',
                "{choice: racing}",
                '{"choice": "racing"',
                '}{"choice": "racing"}',
                "{{}}",
                '{"": ""}',
                '{"choice": "racing"}{"choice": "beginner"}',
            )
        )
    elif kind == 2:  # confidences
        conf = rng.choice(("0.5", "2", "-1", "NaN", "1e309", "x", "", "0.5.5"))
        text = f'/{intent}@{conf}{{"choice": "{rng.choice(CHOICES)}"}}'
    elif kind == 3:  # odd slashes and spacing
        text = rng.choice(("/", "//", "///inform", "/ inform", " /inform ", "/inform /inform"))
        text += rng.choice(("", '{"choice": "racing"}', " hello"))
    elif kind == 4:  # names that are not intents, or path-like
        text = "/" + rng.choice(
            (
                "../../etc/passwd",
                "restart" * 50,
                "INFORM",
                "inform.choice",
                "inform$",
                _random_unicode(rng, 6),
                "utter_goodbye",
                "action_restart_advice",
                "action_handoff",
            )
        )
    elif kind == 5:  # request_advice and resume_shared with hostile values
        text = rng.choice(
            (
                f'/request_advice{{"ruleset": "{rng.choice(RULESETS)}"}}',
                f'/request_advice{{"ruleset": {_json_value(rng)}}}',
                f'/resume_shared{{"code": {_json_value(rng)}}}',
                '/resume_shared{"code": "AAAAAA"}',
                '/resume_shared{"code": "\' OR 1=1 --"}',
            )
        )
    elif kind == 6:
        text = rng.choice(("/restart", "/restart ", " /restart", "/restart{}", "/RESTART"))
    else:  # several entities, duplicates, many of them
        pairs = [f'"{rng.choice(ENTITIES)}": {_json_value(rng)}' for _ in range(rng.randint(2, 40))]
        text = f"/{intent}{{{', '.join(pairs)}}}"
    return Case("intent", text)


def _fam_json(rng: random.Random) -> Case:
    if rng.random() < 0.6:
        return Case("json", rng.choice(JSON_TEXTS))
    return Case("json", _json_value(rng))


def _fam_brackets(rng: random.Random) -> Case:
    depth = rng.choice((10, 100, 1000, 2400, 10_000))
    opener, closer = rng.choice((("[", "]"), ("{", "}"), ("(", ")"), ("<", ">"), ("{{", "}}")))
    text = rng.choice(
        (
            _nested(depth, opener, closer),
            opener * depth,
            closer * depth,
            "/inform" + _nested(depth, opener, closer),
            '/inform{"choice": ' + _nested(depth) + "}",
            "road bike " + _nested(depth // 10 or 1, "(", ")", "1500"),
        )
    )
    return Case("brackets", text)


def _fam_deep_json(rng: random.Random) -> Case:
    depth = rng.choice((50, 500, 1100, 2400))
    inner = _nested(depth, '{"a": ', "}", '"racing"')
    text = rng.choice((inner, f'/inform{{"choice": {inner}}}', f'/inform{{"x": {inner}}}'))
    return Case("deep_json", text)


def _fam_rtl(rng: random.Random) -> Case:
    text = rng.choice(RTL_TEXT)
    if rng.random() < 0.5:
        text = _sprinkle(rng, rng.choice(PHRASES), BIDI, rng.randint(1, 5))
    return Case("rtl", text)


def _fam_emoji(rng: random.Random) -> Case:
    if rng.random() < 0.4:
        text = "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 30)))
    else:
        text = _sprinkle(rng, rng.choice(PHRASES), EMOJI, rng.randint(1, 4))
    return Case("emoji", text)


def _fam_zero_width(rng: random.Random) -> Case:
    if rng.random() < 0.25:
        text = "".join(rng.choice(ZERO_WIDTH) for _ in range(rng.randint(1, 200)))
    else:
        base = rng.choice((*PHRASES, '/inform{"choice": "racing"}', "/restart"))
        text = _sprinkle(rng, base, ZERO_WIDTH, rng.randint(1, 4))
    return Case("zero_width", text)


def _fam_surrogate(rng: random.Random) -> Case:
    lone = tuple(chr(c) for c in (0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xD83D, 0xDE00))
    text = rng.choice(
        (
            rng.choice(lone),
            "\udc00\ud800",  # a pair the wrong way round
            _sprinkle(rng, rng.choice(PHRASES), lone, rng.randint(1, 3)),
            f'/inform{{"choice": "{rng.choice(lone)}"}}',
            "🚴" + rng.choice(lone),
        )
    )
    return Case("surrogate", text)


def _fam_html(rng: random.Random) -> Case:
    text = rng.choice(HTML)
    if rng.random() < 0.3:
        text = f"{rng.choice(PHRASES)} {text}"
    return Case("html", text)


def _fam_sql(rng: random.Random) -> Case:
    return Case("sql", rng.choice(SQL))


def _fam_numbers(rng: random.Random) -> Case:
    text = rng.choice(NUMBERS)
    if rng.random() < 0.3:
        text = rng.choice(("budget ", "about ", "I'm ", "ca. ", "")) + text
    return Case("numbers", text)


def _fam_german(rng: random.Random) -> Case:
    return Case("german", rng.choice(GERMAN), rng.choice((NO_METADATA, {"language": "de"})))


def _fam_mixed(rng: random.Random) -> Case:
    return Case("mixed", rng.choice(MIXED))


def _fam_whitespace(rng: random.Random) -> Case:
    return Case("whitespace", rng.choice(WHITESPACE))


def _fam_combining(rng: random.Random) -> Case:
    marks = [chr(c) for c in range(0x300, 0x370)]
    base = rng.choice(PHRASES)
    text = "".join(ch + "".join(rng.choices(marks, k=rng.randint(1, 12))) for ch in base)
    if rng.random() < 0.2:
        text = "a" + "".join(rng.choices(marks, k=3000))
    return Case("combining", text)


def _fam_metadata(rng: random.Random) -> Case:
    message = rng.choice((*PHRASES, '/inform{"choice": "racing"}'))
    metadata: Any = rng.choice(
        (
            {"language": 5},
            {"language": None},
            {"language": "de\x00"},
            {"language": ["de"]},
            {"language": {"de": True}},
            {"language": "xx"},
            {"language": "DE"},
            {"language": " de "},
            {"language": "\ud800"},
            {"language": "de" * 10_000},
            {"sender": "victim"},
            {"conversation": "other"},
            {"budget": math.inf},
            {"budget": math.nan},
            {"language": "en", "x": -math.inf},
            {"a": _deep_dict(rng.choice((10, 200, 900)))},
            {f"k{i}": i for i in range(2000)},
            {"\ud800": "x"},
            {"": ""},
            {},
            None,
        )
    )
    return Case("metadata", message, metadata)


def _deep_dict(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"language": "de"}
    for _ in range(depth):
        inner = {"a": inner}
    return inner


def _fam_raw(rng: random.Random) -> Case:
    """Whole bodies that are not the chat's JSON: the web app may refuse them (4xx)."""
    raw = rng.choice(
        (
            b'{"message": "\xff\xfe road bike"}',  # not UTF-8
            b'{"message": "caf\xc3"}',
            b'\xef\xbb\xbf{"message": "hi"}',  # a BOM first
            b'{"message": "hi"',
            b'{"message": 1500}',
            b'{"message": 1e309}',
            b'{"message": NaN}',
            b'{"message": null}',
            b'{"message": ["hi"]}',
            b'{"message": {"text": "hi"}}',
            b'{"message": true}',
            b"{}",
            b"[]",
            b"null",
            b"",
            b'"hi"',
            b'{"message": "hi", "metadata": "de"}',
            b'{"message": "hi", "metadata": [1, 2]}',
            b'{"message": "hi", "metadata": 1e309}',
            b'{"message": "hi", "metadata": {"budget": 1e309}}',
            b'{"message": "hi", "metadata": {"language": NaN}}',
            b'{"message": "a", "message": "/restart"}',
            b'{"message": "hi", "sender": "victim"}',
            b'{"message": "\\ud800"}',
            b'{"message": "hi", "metadata": ' + _nested(3000).encode() + b"}",
            b'{"message": "hi", "metadata": {"a": ' + _nested(3000, '{"a": ', "}").encode() + b"}}",
            b'{"message": ' + _nested(5000).encode() + b"}",
            b'{"message": "' + b"a" * 2_000_000 + b'"}',
        )
    )
    return Case("raw", raw=raw)


def _fam_mutant(rng: random.Random) -> Case:
    """A normal phrase with pieces of every family in it."""
    pieces = (
        *ZERO_WIDTH,
        *BIDI,
        *EMOJI,
        "\x00",
        "\ud800",
        "{",
        "}",
        "/",
        "@",
        '"',
        "\\",
        "<script>",
        "'",
        "1e309",
        "\n",
        "ß",
        "é",
    )
    return Case("mutant", _sprinkle(rng, rng.choice(PHRASES), pieces, rng.randint(1, 8)))


#: Family, weight, generator.
FAMILIES: tuple[tuple[str, int, Callable[[random.Random], Case]], ...] = (
    ("unicode", 7, _fam_unicode),
    ("control", 6, _fam_control),
    ("nul", 3, _fam_nul),
    ("long", 4, _fam_long),
    ("intent", 14, _fam_intent),
    ("json", 5, _fam_json),
    ("brackets", 5, _fam_brackets),
    ("deep_json", 3, _fam_deep_json),
    ("rtl", 5, _fam_rtl),
    ("emoji", 6, _fam_emoji),
    ("zero_width", 5, _fam_zero_width),
    ("surrogate", 4, _fam_surrogate),
    ("html", 5, _fam_html),
    ("sql", 3, _fam_sql),
    ("numbers", 7, _fam_numbers),
    ("german", 3, _fam_german),
    ("mixed", 4, _fam_mixed),
    ("whitespace", 3, _fam_whitespace),
    ("combining", 3, _fam_combining),
    ("metadata", 4, _fam_metadata),
    ("raw", 2, _fam_raw),
    ("mutant", 8, _fam_mutant),
)


def generate(seed: int, count: int, families: Sequence[str] | None = None) -> list[Case]:
    """``count`` hostile cases, the same for the same seed; every family at least once.

    ``families`` restricts the cases to those families (default: all of :data:`FAMILIES`).
    """
    rng = random.Random(seed)
    wanted = [f for f in FAMILIES if families is None or f[0] in families]
    if not wanted:
        raise ValueError(f"no such families: {families}; known: {[f[0] for f in FAMILIES]}")
    names = [name for name, _, _ in wanted]
    weights = [weight for _, weight, _ in wanted]
    makers = {name: make for name, _, make in FAMILIES}
    chosen = names[:count] + rng.choices(names, weights, k=max(0, count - len(names)))
    rng.shuffle(chosen)
    return [makers[name](rng) for name in chosen]


# --- the normal messages afterwards ------------------------------------------------------

#: What a conversation says after its fuzz inputs, and the page language it says it in.
NORMAL_MESSAGES: tuple[tuple[str, str], ...] = (
    ("I want a road bike", "en"),
    ("1500", "en"),
    ("hi", "en"),
    ("ich suche ein Rennrad", "de"),
    ("I'm a beginner looking for a road bike for about 1.5k", "en"),
)

#: The sentence the web app says when Rasa gave nothing (a failed action call).
FAILURE_SENTENCES = frozenset(render("failure", language=lang) for lang in ("en", "de"))


def _heard(messages: list[dict[str, Any]]) -> bool:
    return any(m.get("text") or m.get("buttons") or m.get("custom") for m in messages)


def _texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text")) for m in messages if m.get("text"))


# --- running -----------------------------------------------------------------------------


@dataclass
class Failure:
    """One broken promise, with the input that broke it (and the one before it)."""

    kind: str
    case: str
    detail: str
    input: Case | None = None
    previous: Case | None = None


@dataclass
class FuzzResult:
    """What a run found."""

    planned: int = 0
    sent: int = 0
    conversations: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    by_family: Counter[str] = field(default_factory=Counter)
    empty: int = 0
    errors_5xx: int = 0
    no_response: int = 0
    failure_sentences: int = 0
    refused_well_formed: int = 0
    broken_conversations: int = 0
    normal_checked: int = 0
    #: Normal messages sent a second time after "something went wrong" (they then passed
    #: or count as broken).
    normal_retried: int = 0
    fuzz_latency: list[float] = field(default_factory=list)
    normal_latency: list[float] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    notes: list[Failure] = field(default_factory=list)
    server_tracebacks: int = 0
    #: ``service: ExceptionType`` of each stack trace in the servers' output, counted.
    traceback_kinds: Counter[str] = field(default_factory=Counter)
    first_traceback: str = ""
    #: Messages Rasa's REST channel failed on (it logs them as JSON, no stack trace), by
    #: exception type, and the first such message.
    rasa_failures: Counter[str] = field(default_factory=Counter)
    first_rasa_failure: str = ""
    seconds: float = 0.0
    cut_short: bool = False

    @property
    def ok(self) -> bool:
        """No 5xx, no empty reply, every conversation answered normally, run complete."""
        return not self.failures and not self.cut_short and self.sent == self.planned

    def fail(
        self, kind: str, case: Case | str, detail: str, *, previous: Case | None = None
    ) -> None:
        shown = case.shown() if isinstance(case, Case) else case
        found = case if isinstance(case, Case) else None
        self.failures.append(Failure(kind, shown, detail[:400], found, previous))

    def note(self, kind: str, case: Case, detail: str) -> None:
        if len(self.notes) < 50:
            self.notes.append(Failure(kind, case.shown(), detail[:300]))


def percentile(samples: Sequence[float], q: float) -> float | None:
    """``bench/_stats.py``'s percentile (``q`` 0 to 100, linear); None for no samples."""
    return _stats.percentile(samples, q) if samples else None


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, timeout: float
) -> tuple[httpx.Response | None, float, str]:
    start = time.perf_counter()
    try:
        response = await client.post(
            url, content=body, headers={"Content-Type": "application/json"}, timeout=timeout
        )
        return response, time.perf_counter() - start, ""
    except httpx.HTTPError as exc:
        return None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"


def _messages(response: httpx.Response) -> list[dict[str, Any]] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return None
    return messages


async def _conversation(
    web_url: str,
    cases: Sequence[Case],
    normal: tuple[str, str],
    result: FuzzResult,
    timeout: float,
) -> None:
    url = f"{web_url}/api/chat"
    client = httpx.AsyncClient()  # keeps the conversation cookie
    try:
        previous: Case | None = None
        for case in cases:
            before, previous = previous, case
            response, seconds, error = await _post(client, url, case.body(), timeout)
            result.sent += 1
            result.by_family[case.family] += 1
            result.fuzz_latency.append(seconds)
            if response is None:
                result.no_response += 1
                result.statuses["no response"] += 1
                if before is not None:
                    error += f" (the input before it on this connection: {before.shown(80)})"
                result.fail("no response", case, error, previous=before)
                continue
            status = response.status_code
            result.statuses[str(status)] += 1
            if status >= 500:
                result.errors_5xx += 1
                result.fail(f"HTTP {status}", case, response.text)
                # uvicorn closes the connection after an unhandled exception; reusing it
                # would lose the next request (a race), which is this failure's, not the
                # next input's. A new connection, the same conversation cookie.
                cookies = client.cookies
                await client.aclose()
                client = httpx.AsyncClient(cookies=cookies)
                continue
            if status >= 400:
                if case.well_formed:
                    result.refused_well_formed += 1
                    result.note(f"HTTP {status} to a well-formed body", case, response.text)
                continue
            messages = _messages(response)
            if messages is None:
                result.fail("not the chat's JSON", case, response.text)
                continue
            if not _heard(messages):
                if case.silent_by_design:
                    continue
                live = response.json().get("live")
                if isinstance(live, dict) and live.get("status") == "accepted":
                    continue  # a person is in the chat: the message went to them
                result.empty += 1
                result.fail("empty reply", case, response.text)
                continue
            said = _texts(messages)
            if "Traceback" in said:
                result.fail("stack trace in the chat", case, said)
            elif said.strip() in FAILURE_SENTENCES:
                result.failure_sentences += 1
                result.note("the 'something went wrong' sentence", case, said)
        text, language = normal
        body = json.dumps({"message": text, "metadata": {"language": language}}).encode()
        response, seconds, error = await _post(client, url, body, timeout)
        result.normal_checked += 1
        result.normal_latency.append(seconds)
        problem = _normal_problem(response, error)
        if problem.startswith(_SEND_AGAIN):
            # The sentence asks the shopper to send it again (an action call timed out on
            # a busy machine, say): once more, as they would; a broken conversation fails
            # again, a slow moment does not.
            result.normal_retried += 1
            response, seconds, error = await _post(client, url, body, timeout)
            result.normal_latency.append(seconds)
            problem = _normal_problem(response, error)
        after = " / ".join(c.shown(60) for c in cases)
        if problem:
            result.broken_conversations += 1
            result.fail(
                "no normal answer afterwards",
                f"{text!r} after {after}",
                problem,
                previous=cases[-1] if cases else None,
            )
    finally:
        await client.aclose()


_SEND_AGAIN = "the 'something went wrong' sentence"


def _normal_problem(response: httpx.Response | None, error: str) -> str:
    """What is wrong with the reply to a normal message; empty when it is a sensible one."""
    if response is None:
        return f"no response: {error}"
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    messages = _messages(response) or []
    said = _texts(messages)
    if not any(m.get("text") or m.get("buttons") for m in messages):
        return f"no text or buttons: {response.text[:200]}"
    if "Traceback" in said:
        return f"a stack trace: {said[:200]}"
    if said.strip() in FAILURE_SENTENCES:
        return f"{_SEND_AGAIN}, twice: {said[:120]}"
    return ""


def plan(
    cases: Sequence[Case], per_conversation: int, seed: int
) -> list[tuple[list[Case], tuple[str, str]]]:
    """The cases cut into conversations, each with the normal message it ends on."""
    rng = random.Random(seed + 1)
    return [
        (list(cases[i : i + per_conversation]), rng.choice(NORMAL_MESSAGES))
        for i in range(0, len(cases), per_conversation)
    ]


async def _run(
    web_url: str,
    conversations: list[tuple[list[Case], tuple[str, str]]],
    result: FuzzResult,
    *,
    clients: int,
    time_limit: float,
    timeout: float,
    progress: IO[str] | None,
) -> None:
    queue: asyncio.Queue[tuple[list[Case], tuple[str, str]]] = asyncio.Queue()
    for item in conversations:
        queue.put_nowait(item)
    start = time.monotonic()
    deadline = start + time_limit

    async def worker() -> None:
        while not queue.empty():
            if time.monotonic() > deadline:
                result.cut_short = True
                return
            cases, normal = queue.get_nowait()
            await _conversation(web_url, cases, normal, result, timeout)
            result.conversations += 1

    async def report() -> None:
        while True:
            await asyncio.sleep(10)
            if progress is not None:
                elapsed = time.monotonic() - start
                progress.write(
                    f"  {elapsed:6.0f} s  sent {result.sent}/{result.planned}  "
                    f"conversations {result.conversations}  5xx {result.errors_5xx}  "
                    f"empty {result.empty}  broken {result.broken_conversations}  "
                    f"({result.sent / max(elapsed, 1e-9):.1f} inputs/s)\n"
                )
                progress.flush()

    reporter = asyncio.create_task(report())
    try:
        await asyncio.gather(*(worker() for _ in range(clients)))
    finally:
        reporter.cancel()
    result.seconds = time.monotonic() - start


#: The last line of a stack trace in the stack's output: ``[service] SomeError: …``.
_EXCEPTION_LINE = re.compile(
    r"^\[(\w+)\s*\] ((?:\w+\.)*\w*(?:Error|Exception|Exit|Interrupt))(?::|$)", re.MULTILINE
)


def run_fuzz(
    web_url: str,
    cases: Sequence[Case],
    *,
    seed: int = 1,
    per_conversation: int = 4,
    clients: int = 6,
    time_limit: float = 3600.0,
    timeout: float = 30.0,
    progress: IO[str] | None = None,
    server_log: Callable[[], str] | None = None,
) -> FuzzResult:
    """Send ``cases`` to ``web_url``'s ``/api/chat`` and check the three properties."""
    conversations = plan(cases, per_conversation, seed)
    result = FuzzResult(planned=len(cases))
    asyncio.run(
        _run(
            web_url.rstrip("/"),
            conversations,
            result,
            clients=clients,
            time_limit=time_limit,
            timeout=timeout,
            progress=progress,
        )
    )
    if server_log is not None:
        logged = server_log()
        result.server_tracebacks = logged.count("Traceback (most recent call last)")
        result.traceback_kinds.update(
            f"{service}: {kind}" for service, kind in _EXCEPTION_LINE.findall(logged)
        )
        for line in logged.splitlines():
            if "rest.message.received.failure" not in line or '{"text"' not in line:
                continue
            try:
                event = json.loads(line[line.index('{"text"') :])
            except ValueError:
                continue
            kinds = " / ".join(str(e.get("exc_type")) for e in event.get("exception") or [])
            result.rasa_failures[kinds or "?"] += 1
            if not result.first_rasa_failure:
                result.first_rasa_failure = f"{str(event.get('text'))[:120]!r}: {kinds}"
        if result.server_tracebacks:
            at = logged.index("Traceback (most recent call last)")
            at = logged.rfind("\n", 0, logged.rfind("\n", 0, at)) + 1  # with the line before
            result.first_traceback = logged[at : at + 4000]
    return result


# --- the stack ---------------------------------------------------------------------------


@contextmanager
def fuzz_stack(log: IO[str], *, timeout: float = 240.0) -> Iterator[str]:
    """The stack of ``make run`` on free loopback ports; yields the web app's URL.

    Demo catalogue, advisor database and tracker store in a temporary folder; the action
    server behind HAProxy when installed (:func:`web.stack.guarded_actions`).
    """
    base = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        database_url = f"sqlite:///{base / 'catalog.db'}"
        build_demo_database(database_url)
        action_port, rasa_port = free_port(), free_port()
        actions = guarded_actions(action_port, env={"DATABASE_URL": database_url})
        rasa = rasa_service(
            rasa_port, action_port, env={"TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}"}
        )
        web = web_service(
            listening_socket(),
            rasa.url,
            rasa_token=rasa.token,
            env={"DATABASE_URL": database_url},
        )
        with Stack([*actions, rasa, web], log=log).running(timeout=timeout):
            yield web.url
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- the report --------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def report(result: FuzzResult, out: IO[str], *, failures_shown: int = 8) -> None:
    """Print the figures and the first failures."""
    w = out.write
    complete = "" if result.sent == result.planned else f" of {result.planned} planned"
    w(f"\ninputs sent: {result.sent}{complete}, over {result.conversations} conversations")
    w(f" in {result.seconds:.0f} s ({result.sent / max(result.seconds, 1e-9):.1f} inputs/s)\n")
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
    w(f"responses by status: {statuses}\n")
    w(f"responses of 500 or more: {result.errors_5xx}, no response: {result.no_response}\n")
    w(f"empty replies: {result.empty}\n")
    w(
        f"conversations that no longer answer normally: {result.broken_conversations}"
        f" of {result.normal_checked} (sent again after 'something went wrong': "
        f"{result.normal_retried})\n"
    )
    w(
        f"latency, fuzz inputs: p50 {_ms(percentile(result.fuzz_latency, 50))}, "
        f"p95 {_ms(percentile(result.fuzz_latency, 95))}, "
        f"max {_ms(max(result.fuzz_latency, default=None))}\n"
    )
    w(
        f"latency, normal messages: p50 {_ms(percentile(result.normal_latency, 50))}, "
        f"p95 {_ms(percentile(result.normal_latency, 95))}\n"
    )
    w(
        f"4xx to a well-formed body: {result.refused_well_formed}; "
        f"'something went wrong' replies to fuzz inputs: {result.failure_sentences}; "
        f"stack traces in the servers' output: {result.server_tracebacks}\n"
    )
    if result.rasa_failures:
        kinds = ", ".join(f"{k} {v}" for k, v in result.rasa_failures.most_common())
        w(f"messages Rasa failed on: {kinds}; the first: {result.first_rasa_failure}\n")
    if result.traceback_kinds:
        kinds = ", ".join(f"{k} {v}" for k, v in result.traceback_kinds.most_common())
        w(f"exceptions in the servers' output: {kinds}\n")
    families = ", ".join(f"{k} {v}" for k, v in sorted(result.by_family.items()))
    w(f"inputs per family: {families}\n")
    if result.cut_short:
        w("the time limit cut the run short\n")
    if result.failures:
        kinds = Counter(f.kind for f in result.failures)
        w(f"\n{len(result.failures)} failures: {dict(kinds)}; the first {failures_shown}:\n")
        for failure in result.failures[:failures_shown]:
            w(f"- {failure.kind}: {failure.case}\n    {failure.detail}\n")
    if result.notes:
        w("\nnotes (not failures), the first few:\n")
        for note in result.notes[:5]:
            w(f"- {note.kind}: {note.case}\n    {note.detail}\n")
    if result.first_traceback:
        w("\nthe first stack trace in the servers' output:\n" + result.first_traceback + "\n")
    w("\nOK\n" if result.ok else "\nFAILED\n")


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=10_000, help="fuzz inputs (max 100000)")
    parser.add_argument("--per-conversation", type=int, default=4, help="fuzz inputs each")
    parser.add_argument("--clients", type=int, default=6, help="concurrent conversations (1-16)")
    parser.add_argument("--time-limit", type=float, default=3600.0, help="seconds for sending")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--start-timeout", type=float, default=240.0)
    parser.add_argument("--web-url", help="a running web app to fuzz (loopback only)")
    parser.add_argument("--failures-shown", type=int, default=8, help="failures printed")
    parser.add_argument("--out", type=Path, help="write the figures and every failure as JSON")
    parser.add_argument(
        "--families",
        nargs="+",
        choices=[name for name, _, _ in FAMILIES],
        help="only these input families (default: all)",
    )
    parser.add_argument(
        "--server-log",
        type=Path,
        default=REPO / "bench" / "results" / "fuzz-server.log",
        help="where the started servers' output goes",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 100_000:
        parser.error("--count is 1 to 100000")
    if not 1 <= args.clients <= 16:
        parser.error("--clients is 1 to 16")
    if not 1 <= args.per_conversation <= 50:
        parser.error("--per-conversation is 1 to 50")
    if args.web_url and not is_loopback_url(args.web_url):
        parser.error(f"only loopback addresses may be fuzzed, not {args.web_url}")
    # SIGTERM stops the servers we started, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    cases = generate(args.seed, args.count, args.families)
    print(
        f"fuzz: {len(cases)} inputs (seed {args.seed}), {args.per_conversation} per "
        f"conversation, {args.clients} clients, time limit {args.time_limit:.0f} s",
        flush=True,
    )
    options = {
        "seed": args.seed,
        "per_conversation": args.per_conversation,
        "clients": args.clients,
        "time_limit": args.time_limit,
        "timeout": args.request_timeout,
        "progress": sys.stdout,
    }
    try:
        if args.web_url:
            result = run_fuzz(args.web_url, cases, **options)  # type: ignore[arg-type]
        else:
            if not list(MODELS.glob("*.tar.gz")):
                print("no trained model in bot/models (make train)", file=sys.stderr)
                return 1
            args.server_log.parent.mkdir(parents=True, exist_ok=True)
            log = io.StringIO()
            print("starting the action server, Rasa and the web app…", flush=True)
            try:
                with fuzz_stack(log, timeout=args.start_timeout) as web_url:
                    print(f"web app at {web_url}", flush=True)
                    result = run_fuzz(web_url, cases, server_log=log.getvalue, **options)  # type: ignore[arg-type]
            finally:
                args.server_log.write_text(log.getvalue(), encoding="utf-8")
                print(f"servers' output: {args.server_log}", flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    except (RuntimeError, TimeoutError) as exc:
        print(f"could not start the stack: {exc}", file=sys.stderr)
        return 1
    report(result, sys.stdout, failures_shown=args.failures_shown)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(as_json(result, args), indent=1), encoding="utf-8")
        print(f"figures and failures: {args.out}")
    return 0 if result.ok else 1


def as_json(result: FuzzResult, args: argparse.Namespace) -> dict[str, Any]:
    """The figures and every failure, for ``--out``."""
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seed": args.seed,
        "count": args.count,
        "clients": args.clients,
        "per_conversation": args.per_conversation,
        "sent": result.sent,
        "conversations": result.conversations,
        "seconds": round(result.seconds, 1),
        "statuses": dict(result.statuses),
        "errors_5xx": result.errors_5xx,
        "no_response": result.no_response,
        "empty": result.empty,
        "broken_conversations": result.broken_conversations,
        "failure_sentences": result.failure_sentences,
        "normal_retried": result.normal_retried,
        "refused_well_formed": result.refused_well_formed,
        "fuzz_p50_ms": (percentile(result.fuzz_latency, 50) or 0) * 1000,
        "fuzz_p95_ms": (percentile(result.fuzz_latency, 95) or 0) * 1000,
        "normal_p50_ms": (percentile(result.normal_latency, 50) or 0) * 1000,
        "normal_p95_ms": (percentile(result.normal_latency, 95) or 0) * 1000,
        "server_tracebacks": result.server_tracebacks,
        "traceback_kinds": dict(result.traceback_kinds),
        "rasa_failures": dict(result.rasa_failures),
        "by_family": dict(result.by_family),
        "failures": [{"kind": f.kind, "case": f.case, "detail": f.detail} for f in result.failures],
        "notes": [{"kind": n.kind, "case": n.case, "detail": n.detail} for n in result.notes],
        "ok": result.ok,
    }


if __name__ == "__main__":
    raise SystemExit(main())
