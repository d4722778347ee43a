"""Review a rule change by its effect: run old and new rules on the same answers, compare.

A merchandiser who edits a size table or a filter's map cannot foresee every shopper it
touches. :func:`sample_answers` draws a deterministic set of answer combinations from the
questions, :func:`diff_rulesets` runs both versions of the rules on each (same catalogue)
and :func:`format_report` says how many answer sets change and how, worst first.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine

from product_rules.engine import AdviceEngine, Recommendation
from product_rules.schema import Question, RuleSet

__all__ = ["DiffReport", "SampleDiff", "diff_rulesets", "format_report", "sample_answers"]

#: Values tried per number question: its ends and a few points between (or table rows).
NUMBER_POINTS = 6
#: Rows of a size table tried at most, spread over the table.
TABLE_ROWS = 9
#: Random draws per wanted sample before giving up; draws repeat once questions that
#: are not asked (``ask_if``) are left out, so a small space may give fewer samples.
DRAWS_PER_SAMPLE = 20

#: Kinds of change, in report order, with how the summary phrases them.
KINDS = {
    "added": "add products",
    "dropped": "drop products",
    "reordered": "reorder offers",
    "required": "change required items",
    "relaxed": "change what is relaxed",
    "cross_sell": "change cross-sell",
}

Answers = dict[str, Any]
Offer = tuple[str, tuple[str, ...]]  # main sku, required skus


@dataclass(slots=True)
class SampleDiff:
    """How the recommendation for one answer set differs between old and new rules."""

    answers: Answers
    old: list[Offer]
    new: list[Offer]
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    reordered: bool = False
    required: list[str] = field(default_factory=list)
    relaxed: tuple[list[str], list[str]] | None = None
    cross_sell: tuple[list[str], list[str]] | None = None
    names: dict[str, str] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        """The kinds of change (keys of :data:`KINDS`); empty when nothing changed."""
        return [kind for kind in KINDS if getattr(self, kind)]

    @property
    def size(self) -> int:
        """How much changed, to show the biggest changes first."""
        moved = len(self.added) + len(self.dropped) + len(self.required)
        return 2 * moved + len(self.kinds)


@dataclass(slots=True)
class DiffReport:
    """The comparison of two rule versions over ``total`` answer sets."""

    total: int
    changes: list[SampleDiff] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Answer sets per kind of change (one answer set may count for several)."""
        return {kind: sum(kind in c.kinds for c in self.changes) for kind in KINDS}


def sample_answers(ruleset: RuleSet, *, limit: int = 200, seed: int = 0) -> list[Answers]:
    """Answer sets covering the questions of ``ruleset``, the same ones on every run.

    Choice questions take each option, boolean questions both values, number questions
    their min, max and points between; a number that feeds a size table takes the
    middle of its rows instead, so every size is tried. When all combinations fit in
    ``limit`` they are all returned, else a random sample drawn with ``seed``. A
    question whose ``ask_if`` does not hold for the earlier answers is left out, as the
    advisor would not ask it.

    Args:
        ruleset: The rule set whose questions are answered.
        limit: The most answer sets returned.
        seed: Seed of the random sample, for a different but repeatable draw.

    Returns:
        Distinct answer sets, keyed by question id in question order.
    """
    columns = [(q, _candidates(q, ruleset)) for q in ruleset.questions]
    # derive() and holds() never touch the database; the engine only needs one to exist.
    asker = AdviceEngine(ruleset, create_engine("sqlite://"))
    combos: Iterable[tuple[Any, ...]]
    if math.prod(len(values) for _, values in columns) <= limit:
        combos = itertools.product(*(values for _, values in columns))
    else:
        rng = random.Random(seed)
        draws = range(limit * DRAWS_PER_SAMPLE)
        combos = (tuple(rng.choice(values) for _, values in columns) for _ in draws)
    samples: list[Answers] = []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    for combo in combos:
        answers: Answers = {}
        for (question, _), value in zip(columns, combo, strict=True):
            if asker.holds(question.ask_if, asker.derive(answers)):
                answers[question.id] = value
        key = tuple(answers.items())
        if key not in seen:
            seen.add(key)
            samples.append(answers)
            if len(samples) == limit:
                break
    return samples


def _candidates(question: Question, ruleset: RuleSet) -> list[Any]:
    if question.type == "choice":
        return [option.id for option in question.options]
    if question.type == "boolean":
        return [True, False]
    low = question.min if question.min is not None else 0.0
    high = question.max if question.max is not None else max(10 * low, 100.0)
    tables = [s.table for d in ruleset.derived for s in d.sources if s.source == question.id]
    if tables:
        rows = sorted(tables[0], key=lambda r: r.min)
        if len(rows) > TABLE_ROWS:
            rows = [rows[round(i * (len(rows) - 1) / (TABLE_ROWS - 1))] for i in range(TABLE_ROWS)]
        points = []
        for row in rows:
            if max(row.min, low) >= min(row.max, high):
                continue  # the question never accepts an answer in this row
            # The middle of a row, within what the question accepts, lands safely in it;
            # a whole number reads more naturally, unless the row is too narrow for one.
            middle = (max(row.min, low) + min(row.max, high)) / 2
            points.append(round(middle) if row.min <= round(middle) < row.max else middle)
        return _distinct(points)
    if low > 0 and high / low > 10:
        # Wide ranges (budgets) matter most at the low end: spread the points evenly
        # on a log scale and round to two significant digits, like prices people say.
        steps = [low * (high / low) ** (i / (NUMBER_POINTS - 1)) for i in range(NUMBER_POINTS)]
        return _distinct([low, *(_round(s, 2 - len(str(int(s)))) for s in steps[1:-1]), high])
    steps = [low + (high - low) * i / (NUMBER_POINTS - 1) for i in range(NUMBER_POINTS)]
    return _distinct(_round(s, 0) for s in steps)


def _round(value: float, digits: int) -> int | float:
    rounded = round(value, digits)
    return int(rounded) if float(rounded).is_integer() else rounded


def _distinct(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(_round(v, 2) for v in values))


def diff_rulesets(old: AdviceEngine, new: AdviceEngine, samples: Sequence[Answers]) -> DiffReport:
    """Run both rule versions on every answer set and collect what differs.

    Offers are compared by their main product and the required items added to it:
    products added or dropped, the same products in another order, other required
    items for the same product; also what was relaxed and the cross-sell.

    Args:
        old: The engine over the current rules.
        new: The engine over the edited rules (same catalogue).
        samples: Answer sets, e.g. from :func:`sample_answers`.

    Returns:
        The report: how many answer sets were tried and the ones that changed.
    """
    report = DiffReport(total=len(samples))
    for answers in samples:
        change = _compare(dict(answers), old.recommend(answers), new.recommend(answers))
        if change.kinds:
            report.changes.append(change)
    return report


def _offers(result: Recommendation) -> list[Offer]:
    return [
        (
            next(i["sku"] for i in offer["items"] if i["role"] == "main"),
            tuple(i["sku"] for i in offer["items"] if i["role"] == "required"),
        )
        for offer in result.offers
    ]


def _compare(answers: Answers, before: Recommendation, after: Recommendation) -> SampleDiff:
    old, new = _offers(before), _offers(after)
    change = SampleDiff(answers, old, new)
    old_required, new_required = dict(old), dict(new)
    change.added = [main for main, _ in new if main not in old_required]
    change.dropped = [main for main, _ in old if main not in new_required]
    kept = [main for main, _ in new if main in old_required]
    change.reordered = kept != [main for main, _ in old if main in new_required]
    change.required = [main for main in kept if old_required[main] != new_required[main]]
    if before.relaxed != after.relaxed:
        change.relaxed = (list(before.relaxed), list(after.relaxed))
    old_cross = [c["sku"] for c in before.cross_sell]
    new_cross = [c["sku"] for c in after.cross_sell]
    if old_cross != new_cross:
        change.cross_sell = (old_cross, new_cross)
    for result in (before, after):
        change.names.update({c["sku"]: c["name"] for c in result.cross_sell})
        for offer in result.offers:
            change.names.update({i["sku"]: i["name"] for i in offer["items"]})
    return change


def format_report(report: DiffReport, *, max_details: int = 20) -> str:
    """The report as text for a reviewer: a summary line, then the biggest changes.

    Args:
        report: What :func:`diff_rulesets` returned.
        max_details: How many changed answer sets to show in full.

    Returns:
        ``"37 of 200 answer sets change: 12 add products, ..."`` and, per change shown,
        the answers and what differs (``-`` dropped, ``+`` added, ``~`` other items).
    """
    counts = ", ".join(f"{n} {KINDS[kind]}" for kind, n in report.counts.items() if n)
    summary = f"{len(report.changes)} of {report.total} answer sets change"
    lines = [f"{summary}: {counts}." if counts else f"{summary}."]
    shown = sorted(report.changes, key=lambda c: -c.size)[:max_details]
    for number, change in enumerate(shown, start=1):
        lines += ["", f"{number}. " + ", ".join(f"{k}={v}" for k, v in change.answers.items())]
        lines += [f"   {line}" for line in _details(change)]
    if len(report.changes) > len(shown):
        lines += ["", f"... and {len(report.changes) - len(shown)} more changed answer sets"]
    return "\n".join(lines)


def _details(change: SampleDiff) -> list[str]:
    def label(sku: str) -> str:
        return f"{sku} ({change.names[sku]})" if sku in change.names else sku

    old_rank = {main: rank for rank, (main, _) in enumerate(change.old, start=1)}
    new_rank = {main: rank for rank, (main, _) in enumerate(change.new, start=1)}
    lines = [f"- {label(sku)}, was offer {old_rank[sku]}" for sku in change.dropped]
    lines += [f"+ {label(sku)}, now offer {new_rank[sku]}" for sku in change.added]
    old_required, new_required = dict(change.old), dict(change.new)
    for main in change.required:
        was = ", ".join(label(s) for s in old_required[main]) or "nothing"
        now = ", ".join(label(s) for s in new_required[main]) or "nothing"
        lines.append(f"~ {main}: required {was} -> {now}")
    if change.reordered:
        was, now = (", ".join(main for main, _ in offers) for offers in (change.old, change.new))
        lines.append(f"order: {was} -> {now}")
    if change.relaxed is not None:
        was, now = ("; ".join(r) or "nothing" for r in change.relaxed)
        lines.append(f"relaxed: {was} -> {now}")
    if change.cross_sell is not None:
        was, now = (", ".join(skus) or "nothing" for skus in change.cross_sell)
        lines.append(f"cross-sell: {was} -> {now}")
    return lines
