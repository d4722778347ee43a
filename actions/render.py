"""Jinja2 templates of the messages the actions send (``actions/templates``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from product_rules.text import money

__all__ = ["render"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _environment() -> Environment:
    # Chat text is plain text: the widget shows it with textContent, so no HTML escaping.
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
    """Render ``templates/<name>.j2`` to a chat message."""
    return _environment().get_template(f"{name}.j2").render(**context).strip()
