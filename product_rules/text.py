"""Rendering of the short texts written in rule files (reasons), with a sandboxed Jinja2.

Merchandisers write reasons like ``Within your budget of {{ answer | money }}``; the
sandbox keeps a rule file from reaching into Python.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["CLEAT_NAMES", "compile_text", "money", "render_text", "TemplateError"]

CLEAT_NAMES = {"flat": "Flat", "spd": "SPD", "spd_sl": "SPD-SL", "look_keo": "Look Keo"}


def money(value: Any, currency: str = "EUR") -> str:
    """Format an amount the way the shop shows prices: ``1,479 EUR`` or ``49.90 EUR``."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    if amount == int(amount):
        return f"{int(amount):,} {currency}"
    return f"{amount:,.2f} {currency}"


def _cleat(value: Any) -> str:
    return CLEAT_NAMES.get(str(value), str(value))


@cache
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["money"] = money
    env.filters["cleat"] = _cleat
    return env


@cache
def compile_text(source: str) -> Template:
    """Compile a rule text once; raises :class:`jinja2.TemplateError` when it is broken."""
    return _environment().from_string(source)


def render_text(source: str, **context: Any) -> str:
    """Render a rule text; a name the text needs but the context lacks renders the raw text."""
    try:
        return compile_text(source).render(**context).strip()
    except TemplateError:
        # The checker refuses texts that do not compile; a missing value at run time
        # (an optional answer) should not cost the shopper the offer.
        return source
