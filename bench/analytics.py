"""Analytics benchmark: the workbench's reports over a million events, and what writing costs.

Run ``.venv/bin/python bench/analytics.py [--events 1000000] [--databases sqlite postgres]
[--rounds 20] [--turns 2000] [--out FILE]``.

1. Generates ``--events`` events of synthetic road-bike conversations (about ten events
   each, spread over 90 days, three rule-set versions, two languages, two channels;
   a third stop before the offers, some are not understood, some loosen the budget)
   into a fresh SQLite file and a fresh PostgreSQL database (``BENCH_POSTGRES_URL``,
   default the local server), with a progress line.
2. Times every report of :mod:`advisor.analytics` (funnel, drop-off, summary, answer
   counts, gaps, never recommended, not understood, ratings) for three filters: all of
   it, one rule-set version, the last 30 days in German. Prints p50/p95 per report and
   the target: p95 <= 500 ms.
3. The cost that writing events adds to a turn: real advisor turns over the demo
   catalogue, measured interleaved with and without the event log (``events_of`` and
   ``EventLog.record``; the writer thread flushes meanwhile), so the baseline is
   measured in the same run. Prints the turn p50/p95 both ways, the difference and the
   target: <= 1 ms per turn.

Figures, never assertions: the exit code is 1 only when a report failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _stats import ratio, summary
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from advisor import analytics, schema
from advisor.analytics import Period
from advisor.events import TABLE_NAMES, AdvisorEvent, EventLog, OfferShown, Scope, events_of
from advisor.facts import AnswerFact, ConversationFacts
from advisor.service import Advisor, Turn
from advisor.sharing import ShareStore
from advisor.state import ConversationState
from catalog.db import make_engine
from catalog.demo import build_demo_database
from product_rules.registry import RuleRegistry

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
QUESTIONS = ["usage", "experience", "budget", "body_height_cm", "shoes_owned", "inseam_cm"]
ANSWERS: dict[str, list[Any]] = {
    "usage": ["endurance", "racing", "commute"],
    "experience": ["beginner", "intermediate", "racer"],
    "budget": [800.0, 1200.0, 1500.0, 2000.0, 3000.0, 5000.0],
    "body_height_cm": [165.0, 172.0, 178.0, 182.0, 188.0, 195.0],
    "shoes_owned": ["none", "spd", "spd_sl", "look_keo"],
    "inseam_cm": [78.0, 82.0, 86.0, 90.0],
}
TARGET_QUERY_MS = 500.0
TARGET_TURN_MS = 1.0
BATCH = 20_000


Rows = dict[str, list[dict[str, Any]]]


def _conversation(rng: random.Random, n: int, start: datetime, skus: list[str]) -> Rows:
    """The event, offer and fact rows of one synthetic conversation.

    The facts are what :mod:`advisor.facts` would have made of these events; a test
    (tests/advisor/test_events.py) checks that the log maintains them that way.
    """
    events: list[dict[str, Any]] = []
    offers: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    at = start + timedelta(seconds=rng.randrange(90 * 86400))
    base = {
        "conversation": f"bench-{n:08d}",
        "ruleset": "road_bike",
        "version": rng.choice((1, 2, 3)),
        "channel": "console" if rng.random() < 0.1 else "chat",
        "language": rng.choice(("en", "de")),
    }

    def add(kind: str, **extra: Any) -> None:
        nonlocal at
        at += timedelta(seconds=rng.randrange(3, 40))
        row = {"at": at, "kind": kind, "question": None, "value": None}
        events.append({**base, **row, "how": None, "data": {}, **extra})

    add("started")
    started = at
    facts: dict[str, Any] = {
        **base,
        "id": n,
        "started_at": at,
        "turns": 1,
        "offers_at": None,
        "turns_to_offers": None,
        "seconds_to_offers": None,
        "clicked": False,
        "handover_asked": False,
        "handover_taken": False,
        "rating_bot": None,
        "rating_staff": None,
        "ended": False,
        "last_asked": None,
    }
    stop = rng.choice([*range(len(QUESTIONS)), *[len(QUESTIONS)] * 8])
    for index, question in enumerate(QUESTIONS):
        add("asked", question=question)
        facts["last_asked"] = question
        if index == stop:
            break
        if rng.random() < 0.05:
            said = rng.choice(["i'm new to cycling", "something purple", "dunno", "a fast one"])
            add("not_understood", question=question, value=json.dumps(said))
            facts["turns"] += 1
        value = json.dumps(rng.choice(ANSWERS[question]))
        add("answered", question=question, value=value, how=rng.choice(("clicked", "typed")))
        answers.append(
            {**base, "facts_id": n, "question": question, "value": value, "started_at": started}
        )
        facts["turns"] += 1
    else:
        if rng.random() < 0.15:
            gap = {"unmet": ["your budget"], "asked": {"budget": 800.0}}
            add("relaxed", value=json.dumps(gap, sort_keys=True), data={"unmet": ["your budget"]})
        shown = rng.sample(skus[:300], 3)  # the last 100 are never offered
        listed = [{"rank": r + 1, "sku": s} for r, s in enumerate(shown)]
        add("offers_shown", value="3", data={"offers": listed})
        facts["offers_at"], facts["turns_to_offers"] = at, facts["turns"]
        facts["seconds_to_offers"] = (at - started).total_seconds()
        for rank, sku in enumerate(shown, 1):
            offers.append({**base, "at": at, "sku": sku, "rank": rank})
        if rng.random() < 0.3:
            add("offer_clicked", value="1")
            facts["clicked"] = True
        if rng.random() < 0.2:
            facts["rating_bot"] = rng.randint(1, 5)
            add("rated", value=str(facts["rating_bot"]), how="bot")
    if rng.random() < 0.03:
        add("handover_asked")
        facts["handover_asked"] = True
    return {"events": events, "offers": offers, "facts": [facts], "answers": answers}


def synthetic_rows(total: int, seed: int = 7) -> Iterator[Rows]:
    """Batches of rows per table until ``total`` events were made."""
    rng = random.Random(seed)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    skus = [f"RB-{n:04d}" for n in range(400)]
    made, n = 0, 0
    batch: Rows = {"events": [], "offers": [], "facts": [], "answers": []}
    while made + len(batch["events"]) < total:
        n += 1
        for table, rows in _conversation(rng, n, start, skus).items():
            batch[table] += rows
        if len(batch["events"]) >= BATCH:
            made += len(batch["events"])
            yield batch
            batch = {"events": [], "offers": [], "facts": [], "answers": []}
    if batch["events"]:
        yield batch


def fill(engine: Engine, total: int, label: str) -> int:
    """Bring the schema up (the migrations) and write ``total`` synthetic events; the count."""
    schema.upgrade(engine)
    written = 0
    started = time.perf_counter()
    tables = {
        "events": AdvisorEvent.__table__,  # type: ignore[attr-defined]
        "offers": OfferShown.__table__,  # type: ignore[attr-defined]
        "facts": ConversationFacts.__table__,  # type: ignore[attr-defined]
        "answers": AnswerFact.__table__,  # type: ignore[attr-defined]
    }
    with engine.begin() as connection:
        for batch in synthetic_rows(total):
            for name in ("events", "offers", "facts", "answers"):
                if batch[name]:
                    connection.execute(insert(tables[name]), batch[name])
            written += len(batch["events"])
            rate = written / max(time.perf_counter() - started, 1e-9)
            print(
                f"\r  {label}: {written:,} / {total:,} events ({rate:,.0f}/s)", end="", flush=True
            )
    print(f"\r  {label}: {written:,} events in {time.perf_counter() - started:.1f} s" + " " * 20)
    with engine.connect() as connection:
        # Planner statistics, as a server's autovacuum (or SQLite's PRAGMA optimize) has.
        connection.execute(text("ANALYZE"))
        connection.commit()
    return written


def reports(engine: Engine) -> dict[str, Callable[[Period], Any]]:
    """Each report of the analytics page as a call on one filter."""
    assortment = [f"RB-{n:04d}" for n in range(400)]
    return {
        "funnel": lambda p: analytics.funnel(engine, p, QUESTIONS),
        "drop_off": lambda p: analytics.drop_off(engine, p),
        "summary": lambda p: analytics.summary(engine, p),
        "answer_counts": lambda p: analytics.answer_counts(engine, p),
        "gaps": lambda p: analytics.gaps(engine, p),
        "never_recommended": lambda p: analytics.never_recommended(engine, p, assortment),
        "not_understood": lambda p: analytics.not_understood(engine, p),
        "ratings": lambda p: analytics.ratings(engine, p),
    }


FILTERS = {
    "all": Period(ruleset="road_bike"),
    "version 2": Period(ruleset="road_bike", version=2),
    "30 days, de": Period(
        since=datetime(2026, 10, 31, tzinfo=UTC),
        until=datetime(2026, 11, 30, tzinfo=UTC),
        ruleset="road_bike",
        language="de",
    ),
}


def time_reports(engine: Engine, rounds: int) -> dict[str, Any]:
    """p50/p95 in ms of every report for every filter; the worst p95 overall."""
    results: dict[str, Any] = {}
    calls = reports(engine)
    for filter_name, period in FILTERS.items():
        for name, call in calls.items():
            call(period)  # warm the page cache; a real page is read more than once
            samples = []
            for _ in range(rounds):
                start = time.perf_counter()
                call(period)
                samples.append((time.perf_counter() - start) * 1000)
            results[f"{name} [{filter_name}]"] = summary(samples)
    return results


def postgres_engine(server: str) -> tuple[Engine, Callable[[], None]]:
    """A fresh PostgreSQL database for the run, and how to drop it."""
    name = f"bench_analytics_{os.getpid()}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1)).set(database=name)
    engine = make_engine(url.render_as_string(hide_password=False))

    def drop() -> None:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, drop


ROAD_BIKE_TURNS: list[tuple[str, str | None]] = [
    ("I want a road bike", "request_advice"),
    ("long rides", "inform"),
    ("beginner", "inform"),
    ("1500", "inform"),
    ("182 cm", "inform"),
    ("no", "inform"),
]


def turn_cost(turns: int, tmp: Path) -> dict[str, Any]:
    """Turn time with and without recording events, interleaved turn by turn."""
    url = f"sqlite:///{tmp / 'demo.db'}"
    build_demo_database(url)
    engine = make_engine(url)
    advisor = Advisor(
        RuleRegistry(REPO / "product_rules" / "rules", engine), codes=ShareStore(engine)
    )
    log = EventLog(make_engine(f"sqlite:///{tmp / 'events.db'}"), flush_seconds=0.5)
    with_log: list[float] = []
    without: list[float] = []
    recording: list[float] = []
    states = {True: ConversationState(), False: ConversationState()}
    for n in range(turns):
        for record in (True, False) if n % 2 == 0 else (False, True):
            text_, intent = ROAD_BIKE_TURNS[n // 2 % len(ROAD_BIKE_TURNS)]
            if text_ == "I want a road bike":
                states[record] = ConversationState()
            before = states[record]
            start = time.perf_counter()
            after, reply = advisor.step(before, Turn(text_, intent))
            if record:
                mark = time.perf_counter()
                scope = Scope(
                    f"turns-{n // 12}", after.ruleset, None, after.channel, after.language
                )
                log.record(scope, events_of(before, after, reply, text=text_, intent=intent))
                recording.append((time.perf_counter() - mark) * 1000)
            elapsed = (time.perf_counter() - start) * 1000
            (with_log if record else without).append(elapsed)
            states[record] = after
    log.close()
    return {
        "with events": summary(with_log),
        "without": summary(without),
        "recording alone": summary(recording),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--databases", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument("--rounds", type=int, default=20, help="timed calls per report and filter")
    parser.add_argument(
        "--turns", type=int, default=1200, help="advisor turns per side for the write cost"
    )
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--out", type=Path, help="write all results as JSON")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"events": args.events, "tables": list(TABLE_NAMES)}
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp_name:
        tmp = Path(tmp_name)
        for database in args.databases:
            print(f"{database}:", flush=True)
            if database == "sqlite":
                engine = make_engine(f"sqlite:///{tmp / 'analytics.db'}")
                drop: Callable[[], None] = engine.dispose
            else:
                engine, drop = postgres_engine(args.server)
            try:
                fill(engine, args.events, database)
                timings = time_reports(engine, args.rounds)
            except Exception as error:  # noqa: BLE001 - report and go on with the next
                print(f"  {database}: a report failed: {error!r}", file=sys.stderr)
                failed = True
                continue
            finally:
                drop()
            results[database] = timings
            worst = max(s["p95"] or 0.0 for s in timings.values())
            width = max(len(k) for k in timings)
            for name, s in timings.items():
                print(f"  {name:<{width}}  p50 {_ms(s['p50']):>10}  p95 {_ms(s['p95']):>10}")
            verdict = "met" if worst <= TARGET_QUERY_MS else "NOT met"
            print(f"  worst p95 {_ms(worst)}; target p95 <= {TARGET_QUERY_MS:.0f} ms: {verdict}")
        print("write cost per turn (demo catalogue, interleaved):", flush=True)
        cost = turn_cost(args.turns, tmp)
        results["turn"] = cost
        with_p50, without_p50 = cost["with events"]["p50"], cost["without"]["p50"]
        added = cost["recording alone"]
        for name, s in cost.items():
            print(f"  {name:<16} p50 {_ms(s['p50']):>10}  p95 {_ms(s['p95']):>10}")
        verdict = "met" if added["p95"] <= TARGET_TURN_MS else "NOT met"
        print(
            f"  turn with / without: {ratio(with_p50, without_p50)} (p50); recording adds "
            f"p50 {added['p50']:.3f} ms, p95 {added['p95']:.3f} ms; "
            f"target <= {TARGET_TURN_MS:.0f} ms: {verdict}"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
