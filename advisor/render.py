"""The advisor's words: Jinja2 templates in ``advisor/templates/<area>/``.

Every sentence a person reads comes from a template; the code only chooses which one
and with what. Chat text is plain text (the widget shows it with ``textContent``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from product_rules.text import money

__all__ = ["TEMPLATES", "render", "with_article"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["money"] = money
    env.filters["with_article"] = with_article
    return env


def with_article(noun: str) -> str:
    """Put 'a' or 'an' before a noun, by its first letter (right for our titles)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def render(name: str, **context: Any) -> str:
    """Render ``templates/chat/<name>.j2`` (or ``<area>/<name>`` when a slash is given)."""
    path = name if "/" in name else f"chat/{name}"
    return _environment().get_template(f"{path}.j2").render(**context).strip()
