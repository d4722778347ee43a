"""The workbench's reports, read from the event log (:mod:`advisor.events`).

Every report takes one :class:`Period` filter (time, rule set, version, language,
channel) and counts conversations, not events: a shopper who answers the budget twice
is one shopper at that question. The heavy work is SQL aggregation over the indexed
columns, so the reports stay fast on a million events on SQLite and PostgreSQL; only
the medians are taken in Python, over one row per conversation.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select, case, distinct, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from advisor.events import AdvisorEvent, EventKind, OfferShown

__all__ = [
    "AnswerCount",
    "FunnelStep",
    "GapLine",
    "NotUnderstood",
    "Period",
    "Ratings",
    "Summary",
    "answer_counts",
    "drop_off",
    "funnel",
    "gaps",
    "never_recommended",
    "not_understood",
    "ratings",
    "summary",
]

#: The five steps of the touchpoint rating, best first (stored as 1 to 5).
RATING_STEPS = ("excellent", "good", "okay", "poor", "frustrated")


@dataclass(frozen=True, slots=True)
class Period:
    """Which conversations a report counts; ``None`` means any."""

    since: datetime | None = None
    until: datetime | None = None
    ruleset: str | None = None
    version: int | None = None
    language: str | None = None
    channel: str | None = None

    def where(self, table: type[AdvisorEvent] | type[OfferShown]) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions on ``table``."""
        conditions: list[ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(col(table.at) >= self.since)
        if self.until is not None:
            conditions.append(col(table.at) < self.until)
        if self.ruleset is not None:
            conditions.append(col(table.ruleset) == self.ruleset)
        if self.version is not None:
            conditions.append(col(table.version) == self.version)
        if self.language is not None:
            conditions.append(col(table.language) == self.language)
        if self.channel is not None:
            conditions.append(col(table.channel) == self.channel)
        return conditions


def _kind(kind: EventKind) -> ColumnElement[bool]:
    return col(AdvisorEvent.kind) == kind.value


def _conversations(period: Period, *kinds: EventKind) -> Select[Any]:
    """Distinct conversations with an event of one of ``kinds`` in the period."""
    return (
        select(col(AdvisorEvent.conversation))
        .where(col(AdvisorEvent.kind).in_([k.value for k in kinds]), *period.where(AdvisorEvent))
        .distinct()
    )


def _count(db: Engine, query: Select[Any]) -> int:
    with db.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        )


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One step of the funnel: how many conversations got there."""

    step: str  # "started", a question id, "offers", "clicked"
    conversations: int


def funnel(db: Engine, period: Period, questions: Sequence[str]) -> list[FunnelStep]:
    """Started, then each question answered (in the rule set's order), offers, a click."""
    steps = [FunnelStep("started", _count(db, _conversations(period, EventKind.STARTED)))]
    answered = (EventKind.ANSWERED, EventKind.DONT_KNOW, EventKind.CHANGED)
    by_question: dict[str, int] = {}
    query = (
        select(col(AdvisorEvent.question), func.count(distinct(col(AdvisorEvent.conversation))))
        .where(col(AdvisorEvent.kind).in_([k.value for k in answered]), *period.where(AdvisorEvent))
        .group_by(col(AdvisorEvent.question))
    )
    with db.connect() as connection:
        for question, count in connection.execute(query):
            by_question[str(question)] = int(count)
    steps += [FunnelStep(q, by_question.get(q, 0)) for q in questions]
    steps.append(FunnelStep("offers", _count(db, _conversations(period, EventKind.OFFERS_SHOWN))))
    steps.append(FunnelStep("clicked", _count(db, _conversations(period, EventKind.OFFER_CLICKED))))
    return steps


def drop_off(db: Engine, period: Period) -> dict[str, int]:
    """Per question: conversations whose last question asked was it and saw no offers."""
    last_asked = (
        select(
            col(AdvisorEvent.conversation).label("conversation"),
            func.max(col(AdvisorEvent.id)).label("last_id"),
        )
        .where(_kind(EventKind.ASKED), *period.where(AdvisorEvent))
        .group_by(col(AdvisorEvent.conversation))
        .subquery()
    )
    offered = _conversations(period, EventKind.OFFERS_SHOWN)
    query = (
        select(col(AdvisorEvent.question), func.count())
        .join(last_asked, col(AdvisorEvent.id) == last_asked.c.last_id)
        .where(col(AdvisorEvent.conversation).not_in(offered))
        .group_by(col(AdvisorEvent.question))
    )
    with db.connect() as connection:
        return {str(q): int(n) for q, n in connection.execute(query)}


@dataclass(frozen=True, slots=True)
class Summary:
    """The headline figures of a period."""

    started: int
    offered: int
    clicked: int
    handover_asked: int
    handover_taken: int
    median_seconds_to_offers: float | None
    median_turns_to_offers: float | None

    @property
    def completion(self) -> float | None:
        """Share of started conversations that reached offers (the 65 % benchmark)."""
        return self.offered / self.started if self.started else None

    @property
    def handover_rate(self) -> float | None:
        """Share of started conversations that asked for a person."""
        return self.handover_asked / self.started if self.started else None


def summary(db: Engine, period: Period) -> Summary:
    """Counts, completion, hand-over rate and the median time and turns to offers."""
    counts: dict[str, int] = {}
    query = (
        select(col(AdvisorEvent.kind), func.count(distinct(col(AdvisorEvent.conversation))))
        .where(*period.where(AdvisorEvent))
        .group_by(col(AdvisorEvent.kind))
    )
    turns = (
        EventKind.ANSWERED,
        EventKind.DONT_KNOW,
        EventKind.CHANGED,
        EventKind.NOT_UNDERSTOOD,
    )
    # One row per conversation that reached offers: its start, its first offers, and the
    # answering turns before them.
    first_offers = (
        select(
            col(AdvisorEvent.conversation).label("conversation"),
            func.min(col(AdvisorEvent.id)).label("offers_id"),
            func.min(col(AdvisorEvent.at)).label("offers_at"),
        )
        .where(_kind(EventKind.OFFERS_SHOWN), *period.where(AdvisorEvent))
        .group_by(col(AdvisorEvent.conversation))
        .subquery()
    )
    started_at = func.min(col(AdvisorEvent.at))
    per_conversation = (
        select(
            first_offers.c.offers_at,
            started_at,
            func.sum(case((col(AdvisorEvent.kind).in_([k.value for k in turns]), 1), else_=0)),
        )
        .join(first_offers, col(AdvisorEvent.conversation) == first_offers.c.conversation)
        .where(col(AdvisorEvent.id) <= first_offers.c.offers_id)
        .group_by(first_offers.c.conversation, first_offers.c.offers_at)
    )
    seconds: list[float] = []
    turn_counts: list[int] = []
    with db.connect() as connection:
        for kind, count in connection.execute(query):
            counts[str(kind)] = int(count)
        for offers_at, first_at, answered in connection.execute(per_conversation):
            seconds.append(max(0.0, (_aware(offers_at) - _aware(first_at)).total_seconds()))
            turn_counts.append(int(answered or 0))
    return Summary(
        started=counts.get(EventKind.STARTED.value, 0),
        offered=counts.get(EventKind.OFFERS_SHOWN.value, 0),
        clicked=counts.get(EventKind.OFFER_CLICKED.value, 0),
        handover_asked=counts.get(EventKind.HANDOVER_ASKED.value, 0),
        handover_taken=counts.get(EventKind.HANDOVER_TAKEN.value, 0),
        median_seconds_to_offers=statistics.median(seconds) if seconds else None,
        median_turns_to_offers=statistics.median(turn_counts) if turn_counts else None,
    )


def _aware(value: datetime | str) -> datetime:
    """Aggregates bypass the column type on SQLite (a string) and keep it naive."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AnswerCount:
    """How many conversations gave one answer to one question."""

    question: str
    value: Any
    conversations: int


def answer_counts(db: Engine, period: Period) -> list[AnswerCount]:
    """The answer distribution per question (first answers and "don't know")."""
    count = func.count(distinct(col(AdvisorEvent.conversation)))
    query = (
        select(
            col(AdvisorEvent.question),
            col(AdvisorEvent.value),
            count,
        )
        .where(
            col(AdvisorEvent.kind).in_([EventKind.ANSWERED.value, EventKind.DONT_KNOW.value]),
            *period.where(AdvisorEvent),
        )
        .group_by(col(AdvisorEvent.question), col(AdvisorEvent.value))
        .order_by(
            col(AdvisorEvent.question), func.count(distinct(col(AdvisorEvent.conversation))).desc()
        )
    )
    with db.connect() as connection:
        return [AnswerCount(str(q), _value(v), int(n)) for q, v, n in connection.execute(query)]


def _value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True, slots=True)
class GapLine:
    """Wishes the assortment could not meet together, and how many shoppers had them.

    ``asked`` holds what the shoppers asked of those wishes (``{"budget": 400.0}``).
    """

    unmet: tuple[str, ...]
    asked: dict[str, Any]
    conversations: int


def gaps(db: Engine, period: Period, *, limit: int = 50) -> list[GapLine]:
    """The assortment gap report: the unmet wish groups, most frequent first."""
    count = func.count(distinct(col(AdvisorEvent.conversation)))
    query = (
        select(col(AdvisorEvent.value), count)
        .where(_kind(EventKind.RELAXED), *period.where(AdvisorEvent))
        .group_by(col(AdvisorEvent.value))
        .order_by(count.desc(), col(AdvisorEvent.value))
        .limit(limit)
    )
    with db.connect() as connection:
        lines = []
        for key, n in connection.execute(query):
            group = _value(key) if key else None
            if isinstance(group, dict):
                lines.append(GapLine(tuple(group["unmet"]), dict(group["asked"]), int(n)))
        return lines


def never_recommended(db: Engine, period: Period, skus: Iterable[str]) -> list[str]:
    """The products of ``skus`` (the rule set's assortment) never shown as an offer."""
    query = select(col(OfferShown.sku)).where(*period.where(OfferShown)).distinct()
    with db.connect() as connection:
        shown = {str(s) for (s,) in connection.execute(query)}
    return sorted(set(skus) - shown)


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """Free text the parser could not map at one question, grouped and counted."""

    question: str
    text: str
    conversations: int


def not_understood(db: Engine, period: Period, *, limit: int = 100) -> list[NotUnderstood]:
    """What shoppers typed that the advisor did not understand, most frequent first.

    Texts are grouped as typed, case and spacing aside ("I'm new to cycling" ×37).
    """
    text = func.lower(col(AdvisorEvent.value))
    count = func.count(distinct(col(AdvisorEvent.conversation)))
    query = (
        select(col(AdvisorEvent.question), text, count)
        .where(_kind(EventKind.NOT_UNDERSTOOD), *period.where(AdvisorEvent))
        .group_by(col(AdvisorEvent.question), text)
        .order_by(count.desc(), text)
        .limit(limit)
    )
    with db.connect() as connection:
        return [
            NotUnderstood(str(q), str(_value(t)), int(n)) for q, t, n in connection.execute(query)
        ]


@dataclass(frozen=True, slots=True)
class Ratings:
    """Touchpoint ratings: counts per step (1 excellent … 5 frustrated), bot and staff."""

    bot: dict[int, int]
    staff: dict[int, int]

    @staticmethod
    def _mean(counts: dict[int, int]) -> float | None:
        total = sum(counts.values())
        return sum(k * n for k, n in counts.items()) / total if total else None

    @property
    def bot_mean(self) -> float | None:
        """Mean step of the bot's ratings (1 is best)."""
        return self._mean(self.bot)

    @property
    def staff_mean(self) -> float | None:
        """Mean step of the ratings after a live chat with staff."""
        return self._mean(self.staff)


def ratings(db: Engine, period: Period) -> Ratings:
    """The latest rating of each conversation, per step, for the bot and for staff."""
    latest = (
        select(func.max(col(AdvisorEvent.id)))
        .where(_kind(EventKind.RATED), *period.where(AdvisorEvent))
        .group_by(col(AdvisorEvent.conversation), col(AdvisorEvent.how))
    )
    query = (
        select(col(AdvisorEvent.how), col(AdvisorEvent.value), func.count())
        .where(col(AdvisorEvent.id).in_(latest))
        .group_by(col(AdvisorEvent.how), col(AdvisorEvent.value))
    )
    bot: dict[int, int] = {}
    staff: dict[int, int] = {}
    with db.connect() as connection:
        for how, value, n in connection.execute(query):
            step = int(_value(value))
            (staff if how == "staff" else bot)[step] = int(n)
    return Ratings(bot, staff)
