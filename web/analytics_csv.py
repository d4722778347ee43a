"""The analytics page's tables as CSV: the same :class:`~web.analytics_view.Report`.

Column names are field names (``conversations``, ``share``), as a spreadsheet or a
script reads them; shares are fractions with four decimals, an empty cell is "none".
A text cell that a spreadsheet would run as a formula (shoppers' typed texts reach
the not-understood table as typed) starts with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from advisor import analytics
from web.analytics_view import Report

__all__ = ["TABLES", "csv_rows", "render"]


def render(report: Report, table: str) -> str | None:
    """One table of ``report`` as CSV text with a BOM (``None``: no such table).

    The BOM makes a spreadsheet open option labels with umlauts as UTF-8.
    """
    found = csv_rows(report, table)
    if found is None:
        return None
    header, rows = found
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return "\ufeff" + out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_rows(report: Report, table: str) -> tuple[list[str], list[list[Any]]] | None:
    """One table of the report as a header and rows (``None``: no such table).

    The column names are field names, as a spreadsheet or a script reads them.
    """
    s = report.summary
    if table == "summary":
        figures = [
            ("started", s.started),
            ("reached_offers", s.offered),
            ("completion", _ratio(s.completion)),
            ("completion_benchmark", report.benchmark),
            ("clicked", s.clicked),
            ("click_through", _ratio(report.click_through)),
            ("handover_asked", s.handover_asked),
            ("handover_taken", s.handover_taken),
            ("handover_rate", _ratio(s.handover_rate)),
            ("median_seconds_to_offers", s.median_seconds_to_offers),
            ("median_turns_to_offers", s.median_turns_to_offers),
        ]
        return ["figure", "value"], [[k, "" if v is None else v] for k, v in figures]
    if table == "per_day":
        return ["day", "started", "reached_offers"], [
            [d.day.isoformat(), d.started, d.offered] for d in report.days
        ]
    if table == "funnel":
        return ["ruleset", "step", "question", "question_text", "conversations", "share"], [
            [r.id, st.kind, st.question or "", st.text or "", st.conversations, _ratio(st.share)]
            for r in report.rulesets
            for st in r.steps
        ]
    if table == "drop_off":
        return ["ruleset", "question", "question_text", "conversations", "share_of_started"], [
            [r.id, d.question, d.text or "", d.conversations, _ratio(d.share)]
            for r in report.rulesets
            for d in r.drop_off
        ]
    if table == "answers":
        header = ["ruleset", "question", "question_text", "answer", "answer_label", "dont_know"]
        return [*header, "conversations", "share"], [
            [
                r.id,
                q.question,
                q.text or "",
                _raw(line.answer.value),
                line.answer.text,
                int(line.answer.kind == "dont_know"),
                line.conversations,
                _ratio(line.share),
            ]
            for r in report.rulesets
            for q in r.answers
            for line in q.lines
        ]
    if table == "gaps":
        return ["unmet", "asked", "asked_labels", "conversations"], [
            [
                "; ".join(g.unmet),
                json.dumps({q: a.value for q, _, a in g.asked}, sort_keys=True),
                "; ".join(a.text for _, _, a in g.asked if a.text),
                g.conversations,
            ]
            for g in report.gaps
        ]
    if table == "never_recommended":
        header = ["ruleset", "category", "group_sku", "name", "variants", "lowest_price"]
        return [*header, "currency"], [
            [r.id, r.category or "", m.group_sku, m.name, m.variants, m.lowest_price, m.currency]
            for r in report.rulesets
            for m in r.never or ()
        ]
    if table == "not_understood":
        return ["question", "question_text", "text", "conversations"], [
            [n.question, n.question_text or "", n.text, n.conversations]
            for n in report.not_understood
        ]
    if table == "ratings":
        return ["step", "name", "bot", "staff"], [
            [st.step, analytics.RATING_STEPS[st.step - 1], st.bot, st.staff]
            for st in report.rating_steps
        ]
    if table == "ratings_by_version":
        header = ["ruleset", "version", "bot_ratings", "bot_mean", "staff_ratings", "staff_mean"]
        return header, [
            [
                v.ruleset,
                "" if v.version is None else v.version,
                v.bot,
                _ratio(v.bot_mean),
                v.staff,
                _ratio(v.staff_mean),
            ]
            for v in report.by_version
        ]
    return None


#: The tables a CSV can be downloaded of, in the page's order.
TABLES: tuple[str, ...] = (
    "summary",
    "per_day",
    "funnel",
    "drop_off",
    "answers",
    "gaps",
    "never_recommended",
    "not_understood",
    "ratings",
    "ratings_by_version",
)


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _raw(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
