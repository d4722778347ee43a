"""What the advisor answers: text parts with buttons, plus payloads for the widget.

The reply names no channel: the Rasa adapter turns buttons into ``/intent{...}``
payloads and payloads into ``json_message``; the console renders them as HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from product_rules.engine import Recommendation

__all__ = ["Button", "Reply", "TextPart"]


@dataclass(frozen=True, slots=True)
class Button:
    """A choice the person can click: what it says and the turn it stands for."""

    title: str
    intent: str
    entities: dict[str, str] = field(default_factory=dict)

    def payload(self) -> str:
        """The button as a Rasa message: ``/inform{"choice":"beginner"}``."""
        return f"/{self.intent}{json.dumps(self.entities, separators=(',', ':'))}"


@dataclass(frozen=True, slots=True)
class TextPart:
    """One message bubble."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(slots=True)
class Reply:
    """The advisor's answer to one turn.

    Attributes:
        parts: The message bubbles, in order; never empty after a step.
        payloads: Custom payloads for the widget (offers, handoff), in order.
        recommendation: The engine's full result when offers were computed (the console
            reads candidates, exclusions and violations from it).
    """

    parts: list[TextPart] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    recommendation: Recommendation | None = None

    def say(self, text: str, buttons: list[Button] | tuple[Button, ...] = ()) -> None:
        """Add a bubble."""
        self.parts.append(TextPart(text, tuple(buttons)))

    @property
    def text(self) -> str:
        """All text, joined (logs and tests)."""
        return "\n".join(p.text for p in self.parts)
