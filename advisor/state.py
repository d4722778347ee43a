"""The conversation state: everything the advisor knows about one conversation.

One typed state serves every face: Rasa keeps it in one slot (``advisor_state``), the
staff console in its session table, the rule preview in memory. It travels as plain
JSON (:meth:`ConversationState.to_dict` / :meth:`ConversationState.from_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["STATE_SLOT", "Channel", "ConversationState", "LastOffers", "Source"]

#: The Rasa slot that carries the state (``bot/domain/advice.yml``); the action server
#: writes it, the live desk sets it through Rasa's HTTP API when staff change an answer.
STATE_SLOT = "advisor_state"

Channel = Literal["chat", "console", "preview"]
#: Who gave an answer: the customer (chat, or told to staff) or staff on their behalf.
Source = Literal["customer", "staff"]

#: Texts kept while no rule set is chosen ("long rides" before "a road bike").
MAX_PENDING = 5


@dataclass(slots=True)
class LastOffers:
    """What was offered last, enough to answer "why?" and to take a relaxation button."""

    offers: list[dict[str, Any]] = field(default_factory=list)  # rank, title, reasons
    relaxed: list[str] = field(default_factory=list)
    relax_choices: list[dict[str, Any] | None] = field(default_factory=list)


@dataclass(slots=True)
class ConversationState:
    """One conversation with the advisor.

    Attributes:
        ruleset: Id of the rule set chosen, if any.
        answers: Question id to answer (``None``: no preference).
        sources: Question id to who gave that answer.
        pending: Messages heard before a rule set was chosen; read once one is.
        question: Id of the question waiting for an answer, if any.
        locks: Staff overrides (:class:`product_rules.locks.Locks` as a dict).
        notes: Staff notes on confirmed rule breaks, by violation key.
        last: The last offers presented, if any.
        language: ``en`` or ``de``.
        language_chosen: Whether the shopper chose the language in the chat ("auf Deutsch
            bitte"); until then the page's language applies.
        channel: Which face runs the conversation.
        language_heard: Whether the language was read from the shopper's own words (a chat
            without a page language, :mod:`advisor.language`); then it stays.
        seq: How many times the state changed: of two copies of one conversation's state
            (Rasa's slot, :mod:`advisor.conversation_store`) the higher is the newer.
    """

    ruleset: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    question: str | None = None
    locks: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    last: LastOffers | None = None
    language: str = "en"
    channel: Channel = "chat"
    language_chosen: bool = False
    language_heard: bool = False
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-friendly data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ConversationState:
        """Read a state written by :meth:`to_dict`; anything unreadable gives a new state.

        A slot may hold a state from an older version or nothing at all: the advisor
        then starts afresh rather than failing the shopper's turn.
        """
        if not isinstance(data, dict):
            return cls()
        last = data.get("last")
        channel = data.get("channel")
        return cls(
            ruleset=_text(data.get("ruleset")),
            answers=dict(data.get("answers") or {}),
            sources={
                k: v for k, v in (data.get("sources") or {}).items() if v in ("customer", "staff")
            },
            pending=[str(t) for t in (data.get("pending") or [])][-MAX_PENDING:],
            question=_text(data.get("question")),
            locks=dict(data.get("locks") or {}),
            notes={str(k): str(v) for k, v in (data.get("notes") or {}).items()},
            last=LastOffers(
                offers=list(last.get("offers") or []),
                relaxed=list(last.get("relaxed") or []),
                relax_choices=list(last.get("relax_choices") or []),
            )
            if isinstance(last, dict)
            else None,
            language=str(data.get("language") or "en"),
            channel=channel if channel in ("chat", "console", "preview") else "chat",
            language_chosen=data.get("language_chosen") is True,
            language_heard=data.get("language_heard") is True,
            seq=_count(data.get("seq")),
        )

    def restart(self) -> ConversationState:
        """A fresh state for the same person: language, channel and the count go on."""
        return ConversationState(
            language=self.language,
            channel=self.channel,
            language_chosen=self.language_chosen,
            seq=self.seq,
        )

    def same_as(self, other: ConversationState) -> bool:
        """Whether both hold the same conversation, whatever their counts."""
        mine, theirs = self.to_dict(), other.to_dict()
        mine.pop("seq")
        theirs.pop("seq")
        return mine == theirs

    @property
    def pristine(self) -> bool:
        """Whether nothing has happened yet: no rule set, no answer, nothing heard or offered."""
        return (
            self.ruleset is None
            and not self.answers
            and not self.pending
            and self.question is None
            and self.last is None
        )

    def keep_pending(self, text: str) -> None:
        """Remember a message to read once a rule set is chosen."""
        self.pending = [*self.pending, text][-MAX_PENDING:]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None
