"""What the analytics page and its CSV downloads show, built once per request.

:func:`read_filters` turns the page's query string into :class:`Filters` (what the GET
form carries, so a view can be bookmarked); :func:`build_report` runs the reports of
:mod:`advisor.analytics` for them and puts the rule sets' own words beside the ids
(question texts, option labels, the catalogue's product names). The page and every
CSV (:mod:`web.analytics_csv`) read the same :class:`Report`, so a download has the
page's numbers. No sentence is written here: the templates hold the words, this
module hands them data and keys.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from advisor import analytics
from advisor.analytics import (
    Dimensions,
    GapLine,
    NotUnderstood,
    Period,
    Ratings,
    Summary,
    VersionRatings,
)
from catalog.models import Product
from product_rules.schema import Question, RuleSet
from product_rules.text import money
from web.charts import BarChart, ColumnChart, bar_chart, column_chart

__all__ = [
    "BENCHMARK",
    "DEFAULT_DAYS",
    "Filters",
    "Report",
    "build_report",
    "describe",
    "read_filters",
]

log = logging.getLogger("web")

#: The completion rate quoted for guided-selling tools (issue 8): offers per start.
BENCHMARK = 0.65
#: The period shown when the query names none: the last 30 days, today included.
DEFAULT_DAYS = 30
#: Answer values listed per question on the page (the CSV has all of them).
ANSWERS_SHOWN = 12
#: Never-recommended models listed on the page (the CSV has all of them).
NEVER_SHOWN = 12
#: The rating charts' size: two side by side.
RATING_CHART = {"width": 380, "label_width": 100, "value_room": 40}
#: The longest period whose chart shows every day, those without conversations too.
MAX_CALENDAR_DAYS = 366


@dataclass(frozen=True, slots=True)
class Filters:
    """The page's filter: a period of whole UTC days and the optional dimensions.

    Attributes:
        since: First day shown.
        until: Last day shown (included).
        ruleset: One rule set, or every one.
        version: One rule set version, or every one.
        language: ``en``, ``de`` … or every one.
        channel: ``chat``, ``console`` … or every one.
        unread: The query parameters that could not be read and were ignored.
    """

    since: date
    until: date
    ruleset: str | None = None
    version: int | None = None
    language: str | None = None
    channel: str | None = None
    unread: tuple[str, ...] = ()

    def period(self, **override: Any) -> Period:
        """The filter as the reports take it (``until`` is exclusive there)."""
        values: dict[str, Any] = {
            "since": datetime.combine(self.since, time(), tzinfo=UTC),
            "until": datetime.combine(self.until + timedelta(days=1), time(), tzinfo=UTC),
            "ruleset": self.ruleset,
            "version": self.version,
            "language": self.language,
            "channel": self.channel,
        }
        values.update(override)
        return Period(**values)

    def query(self) -> str:
        """The filter as a query string, for links to the CSV downloads."""
        params: dict[str, str] = {"from": self.since.isoformat(), "to": self.until.isoformat()}
        for name in ("ruleset", "version", "language", "channel"):
            value = getattr(self, name)
            if value is not None:
                params[name] = str(value)
        return urlencode(params)

    def slug(self) -> str:
        """The filter in a file name: ``road_bike-v3-2026-11-03-to-2026-12-02``."""
        parts = [self.ruleset or "all"]
        if self.version is not None:
            parts.append(f"v{self.version}")
        parts += [p for p in (self.language, self.channel) if p]
        parts.append(f"{self.since.isoformat()}-to-{self.until.isoformat()}")
        return "-".join(_safe(p) for p in parts)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:40]


def read_filters(params: Mapping[str, str], *, today: date) -> Filters:
    """The filter a query string asks for; what cannot be read is ignored and named.

    An empty value means "any" (what the form's first option sends). A period whose
    end comes before its start is turned round.
    """
    unread: list[str] = []

    def day(name: str, default: date) -> date:
        text = params.get(name, "").strip()
        if not text:
            return default
        try:
            return date.fromisoformat(text)
        except ValueError:
            unread.append(name)
            return default

    def word(name: str) -> str | None:
        text = params.get(name, "").strip()
        if not text:
            return None
        if len(text) > 64 or not all(c.isalnum() or c in "_-" for c in text):
            unread.append(name)
            return None
        return text

    until = day("to", today)
    since = day("from", until - timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        since, until = until, since
    version: int | None = None
    version_text = params.get("version", "").strip().removeprefix("v")
    if version_text:
        if version_text.isdigit() and len(version_text) < 10:
            version = int(version_text)
        else:
            unread.append("version")
    return Filters(
        since=since,
        until=until,
        ruleset=word("ruleset"),
        version=version,
        language=word("language"),
        channel=word("channel"),
        unread=tuple(unread),
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer as a person reads it: ``kind`` picks the template's words.

    ``kind`` is ``dont_know``, ``yes``, ``no``, ``option`` (``text`` is its label),
    ``number`` (``text`` is the number with its unit) or ``other`` (``text`` as stored).
    """

    kind: str
    text: str
    value: Any


def describe(question: Question | None, value: Any) -> Answer:
    """The answer ``value`` to ``question`` in the rule set's words (its option labels)."""
    if value is None:
        return Answer("dont_know", "", None)
    if isinstance(value, bool):
        return Answer("yes" if value else "no", "", value)
    if question is not None:
        option = next((o for o in question.options if o.id == str(value)), None)
        if option is not None:
            return Answer("option", option.label, value)
    if isinstance(value, int | float):
        unit = question.unit if question is not None else None
        if unit is not None and len(unit) == 3 and unit.isupper():  # a currency code
            return Answer("number", money(value, unit), value)
        number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        return Answer("number", f"{number} {unit}" if unit else number, value)
    return Answer("other", str(value), value)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a funnel: ``kind`` is ``started``, ``question``, ``offers`` or ``clicked``."""

    kind: str
    question: str | None
    text: str | None
    conversations: int
    share: float | None  # of the started ones


@dataclass(frozen=True, slots=True)
class DropOff:
    """Conversations whose last question was this one and that saw no offers."""

    question: str
    text: str | None
    conversations: int
    share: float | None  # of the started ones


@dataclass(frozen=True, slots=True)
class AnswerLine:
    """How many conversations gave one answer to a question."""

    answer: Answer
    conversations: int
    share: float  # of the question's answers


@dataclass(frozen=True, slots=True)
class QuestionAnswers:
    """The answer distribution of one question."""

    question: str
    text: str | None
    answered: int
    lines: tuple[AnswerLine, ...]

    @property
    def shown(self) -> tuple[AnswerLine, ...]:
        """The most frequent answers, as many as the page lists."""
        return self.lines[:ANSWERS_SHOWN]


@dataclass(frozen=True, slots=True)
class Model:
    """A catalogue model (all variants of one ``group_sku``) of a rule set's category."""

    group_sku: str
    name: str
    variants: int
    lowest_price: float
    currency: str


@dataclass(frozen=True, slots=True)
class RulesetReport:
    """The reports that belong to one rule set: its funnel, questions and products."""

    id: str
    title: str | None
    category: str | None
    started: int
    steps: tuple[Step, ...]
    funnel_chart: BarChart
    drop_off: tuple[DropOff, ...]
    drop_chart: BarChart | None
    answers: tuple[QuestionAnswers, ...]
    #: Models no shopper was offered in the period; ``None``: the catalogue was unreadable
    #: or the rule set is not in service (no category to look in).
    never: tuple[Model, ...] | None
    models: int
    catalogue_unread: bool = False

    @property
    def never_shown(self) -> tuple[Model, ...]:
        """The never-recommended models the page lists."""
        return (self.never or ())[:NEVER_SHOWN]


@dataclass(frozen=True, slots=True)
class Gap:
    """A line of the gap report, with what was asked in the rule set's words."""

    unmet: tuple[str, ...]
    asked: tuple[tuple[str, str | None, Answer], ...]  # question id, text, answer
    conversations: int


@dataclass(frozen=True, slots=True)
class Confusion:
    """A not-understood text with its question's wording."""

    question: str
    question_text: str | None
    text: str
    conversations: int


@dataclass(frozen=True, slots=True)
class RatingStep:
    """One step of the five-step rating: 1 excellent … 5 frustrated."""

    step: int
    bot: int
    staff: int


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the analytics page shows for one filter."""

    filters: Filters
    choices: Dimensions
    summary: Summary
    #: The days with conversations (the table and the CSV).
    days: tuple[analytics.DayCount, ...]
    #: Every day of the period, those without conversations as zeros (the chart).
    calendar: tuple[analytics.DayCount, ...]
    day_chart: ColumnChart | None
    rulesets: tuple[RulesetReport, ...]
    gaps: tuple[Gap, ...]
    not_understood: tuple[Confusion, ...]
    ratings: Ratings
    rating_steps: tuple[RatingStep, ...]
    #: The ratings of the advisor and of staff, one chart each (steps 1 to 5).
    rating_charts: tuple[BarChart, BarChart]
    by_version: tuple[VersionRatings, ...]
    #: The titles of the rule sets in service, by id (the filter's choices).
    titles: Mapping[str, str]
    benchmark: float = BENCHMARK

    @property
    def empty(self) -> bool:
        """No conversation started in the period and nothing else happened in it."""
        return (
            self.summary.started == 0
            and not self.gaps
            and not self.not_understood
            and not self.by_version
        )

    @property
    def click_through(self) -> float | None:
        """Share of the conversations with offers in which an offer was clicked."""
        s = self.summary
        return s.clicked / s.offered if s.offered else None

    @property
    def rated(self) -> int:
        """Ratings counted, bot and staff."""
        return sum(self.ratings.bot.values()) + sum(self.ratings.staff.values())


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _question(rulesets: Sequence[RuleSet], question_id: str) -> Question | None:
    """The question with this id, from the first rule set (the filtered one first) that has it."""
    return next((q for r in rulesets if (q := r.question(question_id)) is not None), None)


def build_report(
    db: Engine,
    filters: Filters,
    served: Sequence[RuleSet],
    *,
    catalogue: Engine | None = None,
) -> Report:
    """Run every report for ``filters``.

    Args:
        db: The advisor's database (the event log and its facts).
        filters: What the page asks for.
        served: The rule sets in service (their questions, options and categories).
        catalogue: Where the products are; the advisor's database when omitted.
    """
    period = filters.period()
    by_id = {r.id: r for r in served}
    chosen = [by_id[filters.ruleset]] if filters.ruleset in by_id else []
    words = [*chosen, *served]  # where question and option labels are looked up
    # The choices of the period, whatever else is filtered, and what is chosen now.
    found = analytics.dimensions(
        db, filters.period(ruleset=None, version=None, language=None, channel=None)
    )

    def chosen_too(values: Sequence[Any], current: Any) -> tuple[Any, ...]:
        return tuple(sorted({*values, *([] if current is None else [current])}))

    choices = Dimensions(
        chosen_too([*found.rulesets, *by_id], filters.ruleset),
        chosen_too(found.versions, filters.version),
        chosen_too(found.languages, filters.language),
        chosen_too(found.channels, filters.channel),
    )
    summary = analytics.summary(db, period)
    days = tuple(analytics.per_day(db, period))
    calendar = _calendar(filters, days)
    if filters.ruleset is not None:
        ids = [filters.ruleset]
    else:
        ids = list(analytics.dimensions(db, period).rulesets)
    reports = [
        _ruleset_report(db, catalogue or db, filters, by_id.get(ruleset_id), ruleset_id)
        for ruleset_id in ids
    ]
    reports.sort(key=lambda r: (-r.started, r.id))
    ratings = analytics.ratings(db, period)
    steps = tuple(
        RatingStep(n, ratings.bot.get(n, 0), ratings.staff.get(n, 0)) for n in range(1, 6)
    )
    return Report(
        filters=filters,
        choices=choices,
        summary=summary,
        days=days,
        calendar=calendar,
        day_chart=column_chart([(d.started, d.offered) for d in calendar]) if days else None,
        rulesets=tuple(reports),
        gaps=tuple(_gap(g, words) for g in analytics.gaps(db, period)),
        not_understood=tuple(_confusion(n, words) for n in analytics.not_understood(db, period)),
        ratings=ratings,
        rating_steps=steps,
        rating_charts=(
            bar_chart([s.bot for s in steps], **RATING_CHART),
            bar_chart([s.staff for s in steps], **RATING_CHART),
        ),
        by_version=tuple(analytics.ratings_by_version(db, period)),
        titles={r.id: r.title for r in served},
    )


def _calendar(
    filters: Filters, days: Sequence[analytics.DayCount]
) -> tuple[analytics.DayCount, ...]:
    """Every day of the period with its counts; only the days with any past a year."""
    span = (filters.until - filters.since).days + 1
    if span > MAX_CALENDAR_DAYS:
        return tuple(days)
    found = {d.day: d for d in days}
    every = (filters.since + timedelta(days=n) for n in range(span))
    return tuple(found.get(day, analytics.DayCount(day, 0, 0)) for day in every)


def _ruleset_report(
    db: Engine, catalogue: Engine, filters: Filters, ruleset: RuleSet | None, ruleset_id: str
) -> RulesetReport:
    period = filters.period(ruleset=ruleset_id)
    grouped: dict[str, list[analytics.AnswerCount]] = {}
    for count in analytics.answer_counts(db, period):
        grouped.setdefault(count.question, []).append(count)
    if ruleset is not None:
        order = [q.id for q in ruleset.questions]
    else:  # no longer in service: the questions in the order of how many answered them
        answered = {q: sum(c.conversations for c in counts) for q, counts in grouped.items()}
        order = sorted(answered, key=lambda q: (-answered[q], q))
    words = [ruleset] if ruleset is not None else []

    def text(question_id: str) -> str | None:
        question = _question(words, question_id)
        return question.text if question is not None else None

    first, *asked, offers, clicked = analytics.funnel(db, period, order)
    started = first.conversations
    steps = (
        Step("started", None, None, started, _share(started, started)),
        *(Step("question", s.step, text(s.step), s.conversations, None) for s in asked),
        Step("offers", None, None, offers.conversations, None),
        Step("clicked", None, None, clicked.conversations, None),
    )
    steps = tuple(replace(s, share=_share(s.conversations, started)) for s in steps)
    rank = {q: i for i, q in enumerate(order)}
    drop = tuple(
        DropOff(q, text(q), n, _share(n, started))
        for q, n in sorted(
            analytics.drop_off(db, period).items(),
            key=lambda item: (rank.get(item[0], len(rank)), item[0]),
        )
    )
    answers = []
    for question_id in [*order, *sorted(set(grouped) - set(order))]:
        counts = grouped.get(question_id)
        if not counts:
            continue
        question = _question(words, question_id)
        total = sum(c.conversations for c in counts)
        lines = tuple(
            AnswerLine(describe(question, c.value), c.conversations, c.conversations / total)
            for c in sorted(counts, key=lambda c: (-c.conversations, str(c.value)))
        )
        answers.append(QuestionAnswers(question_id, text(question_id), total, lines))
    never: tuple[Model, ...] | None = None
    models = 0
    unread = False
    if ruleset is not None:
        try:
            never, models = _never_recommended(db, catalogue, period, ruleset.category)
        except SQLAlchemyError:
            log.exception("analytics: cannot read the catalogue's %s products", ruleset.category)
            unread = True
    return RulesetReport(
        id=ruleset_id,
        title=ruleset.title if ruleset is not None else None,
        category=ruleset.category if ruleset is not None else None,
        started=started,
        steps=steps,
        funnel_chart=bar_chart([s.conversations for s in steps]),
        drop_off=drop,
        drop_chart=bar_chart([d.conversations for d in drop]) if drop else None,
        answers=tuple(answers),
        never=never,
        models=models,
        catalogue_unread=unread,
    )


def _never_recommended(
    db: Engine, catalogue: Engine, period: Period, category: str
) -> tuple[tuple[Model, ...], int]:
    """The category's models none of whose variants was offered, and how many models it has.

    The products are the engine's main products of the rule set: its category
    (:meth:`product_rules.engine.AdviceEngine` looks for ``Product.category``).
    """
    query = (
        select(
            col(Product.sku),
            col(Product.group_sku),
            col(Product.name),
            col(Product.price),
            col(Product.currency),
        )
        .where(col(Product.category) == category)
        .order_by(col(Product.group_sku), col(Product.sku))
    )
    with catalogue.connect() as connection:
        rows = connection.execute(query).all()
    never = set(analytics.never_recommended(db, period, (str(r[0]) for r in rows)))
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(str(row[1]), []).append(row)
    found = [
        Model(
            group_sku=group,
            name=str(variants[0][2]),
            variants=len(variants),
            lowest_price=min(float(v[3]) for v in variants),
            currency=str(variants[0][4]),
        )
        for group, variants in groups.items()
        if all(str(v[0]) in never for v in variants)
    ]
    found.sort(key=lambda m: (m.name, m.group_sku))
    return tuple(found), len(groups)


def _gap(line: GapLine, words: Sequence[RuleSet]) -> Gap:
    asked = tuple(
        (q, (question.text if question else None), describe(question, value))
        for q, value in sorted(line.asked.items())
        for question in [_question(words, q)]
    )
    return Gap(line.unmet, asked, line.conversations)


def _confusion(line: NotUnderstood, words: Sequence[RuleSet]) -> Confusion:
    question = _question(words, line.question)
    return Confusion(
        line.question, question.text if question else None, line.text, line.conversations
    )
