"""The workbench's reports, read from the event log (:mod:`advisor.events`).

Every report takes one :class:`Period` filter (time, rule set, version, language,
channel) and counts conversations, not events: a shopper who answers the budget twice
is one shopper at that question. The funnel, drop-off, medians, answers and ratings
read the per-conversation facts (:mod:`advisor.facts`; a conversation belongs to the
period it started in); the gaps, the not-understood texts and the products shown read
the events of the period. Both are plain SQL aggregates over indexed columns, fast on a
million events on SQLite and PostgreSQL; only the medians are taken in Python.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, case, distinct, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from advisor.events import AdvisorEvent, EventKind, OfferShown
from advisor.facts import AnswerFact, ConversationFacts

__all__ = [
    "AnswerCount",
    "DayCount",
    "Dimensions",
    "FunnelStep",
    "GapLine",
    "NotUnderstood",
    "Period",
    "Ratings",
    "Summary",
    "VersionRatings",
    "answer_counts",
    "dimensions",
    "drop_off",
    "funnel",
    "gaps",
    "never_recommended",
    "not_understood",
    "per_day",
    "ratings",
    "ratings_by_version",
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

    def where(
        self,
        table: type[AdvisorEvent] | type[OfferShown] | type[ConversationFacts] | type[AnswerFact],
    ) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions on ``table`` (facts: by when the run started)."""
        conditions: list[ColumnElement[bool]] = []
        # Runs are filed under when they started, events and offers under when they happened.
        at = col(table.started_at if hasattr(table, "started_at") else table.at)
        if self.since is not None:
            conditions.append(at >= self.since)
        if self.until is not None:
            conditions.append(at < self.until)
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


def _runs(period: Period) -> Select[Any]:
    """The ids of the runs the period covers."""
    return select(col(ConversationFacts.id)).where(*period.where(ConversationFacts))


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One step of the funnel: how many conversations got there."""

    step: str  # "started", a question id, "offers", "clicked"
    conversations: int


def funnel(db: Engine, period: Period, questions: Sequence[str]) -> list[FunnelStep]:
    """Started, then each question answered (in the rule set's order), offers, a click."""
    facts = period.where(ConversationFacts)
    totals = select(
        func.count(),
        func.count(col(ConversationFacts.offers_at)),
        func.sum(case((col(ConversationFacts.clicked), 1), else_=0)),
    ).where(*facts)
    per_question = (
        select(col(AnswerFact.question), func.count())
        .where(*period.where(AnswerFact))
        .group_by(col(AnswerFact.question))
    )
    with db.connect() as connection:
        started, offered, clicked = connection.execute(totals).one()
        answered = {str(q): int(n) for q, n in connection.execute(per_question)}
    return [
        FunnelStep("started", int(started or 0)),
        *(FunnelStep(q, answered.get(q, 0)) for q in questions),
        FunnelStep("offers", int(offered or 0)),
        FunnelStep("clicked", int(clicked or 0)),
    ]


def drop_off(db: Engine, period: Period) -> dict[str, int]:
    """Per question: conversations whose last question asked was it and saw no offers."""
    query = (
        select(col(ConversationFacts.last_asked), func.count())
        .where(
            col(ConversationFacts.offers_at).is_(None),
            col(ConversationFacts.last_asked).is_not(None),
            *period.where(ConversationFacts),
        )
        .group_by(col(ConversationFacts.last_asked))
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
    facts = period.where(ConversationFacts)

    def flag(column: Any) -> Any:
        return func.sum(case((col(column), 1), else_=0))

    totals = select(
        func.count(),
        func.count(col(ConversationFacts.offers_at)),
        flag(ConversationFacts.clicked),
        flag(ConversationFacts.handover_asked),
        flag(ConversationFacts.handover_taken),
    ).where(*facts)
    with db.connect() as connection:
        started, offered, clicked, asked, taken = connection.execute(totals).one()
        reached = [col(ConversationFacts.offers_at).is_not(None), *facts]
        seconds = _median(connection, ConversationFacts.seconds_to_offers, reached, offered)
        turns = _median(connection, ConversationFacts.turns_to_offers, reached, offered)
    return Summary(
        started=int(started or 0),
        offered=int(offered or 0),
        clicked=int(clicked or 0),
        handover_asked=int(asked or 0),
        handover_taken=int(taken or 0),
        median_seconds_to_offers=seconds,
        median_turns_to_offers=turns,
    )


def _median(
    connection: Connection, column: Any, where: list[ColumnElement[bool]], count: int | None
) -> float | None:
    """The median of ``column`` over ``count`` rows, read as the one or two middle rows.

    Sorting in the database and reading two values beats fetching every row (60 k runs
    at a million events) into Python.
    """
    if not count:
        return None
    middle = (
        select(func.coalesce(col(column), 0))
        .where(*where)
        .order_by(func.coalesce(col(column), 0))
        .offset((count - 1) // 2)
        .limit(1 if count % 2 else 2)
    )
    values = [float(v) for (v,) in connection.execute(middle)]
    return statistics.fmean(values) if values else None


@dataclass(frozen=True, slots=True)
class AnswerCount:
    """How many conversations gave one answer to one question."""

    question: str
    value: Any
    conversations: int


def answer_counts(db: Engine, period: Period) -> list[AnswerCount]:
    """The answer distribution per question (first answers and "don't know")."""
    count = func.count()
    query = (
        select(col(AnswerFact.question), col(AnswerFact.value), count)
        .where(*period.where(AnswerFact))
        .group_by(col(AnswerFact.question), col(AnswerFact.value))
        .order_by(col(AnswerFact.question), count.desc())
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
    bot: dict[int, int] = {}
    staff: dict[int, int] = {}
    facts = period.where(ConversationFacts)
    with db.connect() as connection:
        for column, counts in (
            (ConversationFacts.rating_bot, bot),
            (ConversationFacts.rating_staff, staff),
        ):
            query = (
                select(col(column), func.count())
                .where(col(column).is_not(None), *facts)
                .group_by(col(column))
            )
            counts.update(
                {step: int(n) for step, n in connection.execute(query) if step is not None}
            )
    return Ratings(bot, staff)


@dataclass(frozen=True, slots=True)
class VersionRatings:
    """The ratings of one rule set version: how many, and their mean step (1 is best)."""

    ruleset: str
    version: int | None
    bot: int
    bot_mean: float | None
    staff: int
    staff_mean: float | None


def ratings_by_version(db: Engine, period: Period) -> list[VersionRatings]:
    """Ratings per rule set and version, bot and staff apart (rated runs only)."""
    bot, staff = col(ConversationFacts.rating_bot), col(ConversationFacts.rating_staff)
    ruleset, version = col(ConversationFacts.ruleset), col(ConversationFacts.version)
    query = (
        select(ruleset, version, func.count(bot), func.avg(bot), func.count(staff), func.avg(staff))
        .where(bot.is_not(None) | staff.is_not(None), *period.where(ConversationFacts))
        .group_by(ruleset, version)
        .order_by(ruleset, version)
    )
    with db.connect() as connection:
        return [
            VersionRatings(
                str(r),
                None if v is None else int(v),
                int(nb),
                None if mb is None else float(mb),
                int(ns),
                None if ms is None else float(ms),
            )
            for r, v, nb, mb, ns, ms in connection.execute(query)
        ]


@dataclass(frozen=True, slots=True)
class DayCount:
    """Conversations started on one day (UTC) and how many of them reached offers."""

    day: date
    started: int
    offered: int


def per_day(db: Engine, period: Period) -> list[DayCount]:
    """Started and reached offers per day (UTC) the runs started on, days without any left out."""
    day = func.date(col(ConversationFacts.started_at))
    query = (
        select(day, func.count(), func.count(col(ConversationFacts.offers_at)))
        .where(*period.where(ConversationFacts))
        .group_by(day)
        .order_by(day)
    )
    with db.connect() as connection:
        return [
            DayCount(d if isinstance(d, date) else date.fromisoformat(str(d)), int(s), int(o))
            for d, s, o in connection.execute(query)
        ]


@dataclass(frozen=True, slots=True)
class Dimensions:
    """The rule sets, versions, languages and channels that occur in a period's runs."""

    rulesets: tuple[str, ...]
    versions: tuple[int, ...]
    languages: tuple[str, ...]
    channels: tuple[str, ...]


def dimensions(db: Engine, period: Period) -> Dimensions:
    """What the filters can choose from: the distinct values of the period's runs."""
    facts = period.where(ConversationFacts)
    found: list[tuple[Any, ...]] = []
    with db.connect() as connection:
        for column in (
            ConversationFacts.ruleset,
            ConversationFacts.version,
            ConversationFacts.language,
            ConversationFacts.channel,
        ):
            query = select(col(column)).where(col(column).is_not(None), *facts).distinct()
            found.append(tuple(sorted(v for (v,) in connection.execute(query))))
    rulesets, versions, languages, channels = found
    return Dimensions(
        tuple(str(r) for r in rulesets),
        tuple(int(v) for v in versions),
        tuple(str(lang) for lang in languages),
        tuple(str(c) for c in channels),
    )
