"""Scaling benchmark of the configurator: ``AdviceEngine.recommend()`` on 1 k … 1 M products.

Run ``.venv/bin/python bench/recommend.py [--sizes 1000 10000 100000 1000000]
[--backends sqlite postgres] [--repeat N] [--out FILE]``.

1. Builds synthetic catalogues (the demo catalogue scaled up, see ``bench/catalog_gen.py``)
   once: SQLite files in ``var/bench/`` (reused when they hold the right row count) and
   one PostgreSQL database per size (``bench_recommend_<size>``, dropped at the end unless
   ``--keep-postgres``).
2. Per size and backend: p50/p95/p99/max of one ``recommend()`` over a fixed set of 30
   road-bike answer sets (warm-up excluded), of ``available_options()`` (progressive
   filtering) and of the rule check (``load_all`` and, once it exists,
   ``product_rules.checks.check_ruleset``); growth against the smallest size of the same
   run, build time, database size, and the target (recommendation p95 < 20 ms at 1 M).
3. At the largest size: which SQL statements dominate (captured with a
   ``before_cursor_execute`` listener and re-timed one by one), their plans (``EXPLAIN
   QUERY PLAN`` / ``EXPLAIN (ANALYZE, BUFFERS)``), a cProfile of the slowest case, and
   index / query-shape experiments on the bench database (each undone afterwards).

The engine code is not changed: experiments only add indexes temporarily or time
alternative SQL next to the statements the engine issues.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import importlib.util
import json
import os
import platform
import pstats
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy
from _stats import percentile, ratio, summary
from catalog_gen import (
    BuildInfo,
    build_postgres,
    build_sqlite,
    drop_postgres,
    postgres_url,
)
from sqlalchemy import Engine, event, text

from catalog.db import make_engine
from product_rules.engine import AdviceEngine
from product_rules.loader import LoadedRuleSet, load_all

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "product_rules" / "rules"
BENCH_DIR = REPO / "var" / "bench"
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

#: The target: one recommendation (p95) within this many ms on a 1 M product catalogue.
TARGET_MS = 20.0
TARGET_SIZE = 1_000_000

# --- the answer sets ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One shopper's answers to the road-bike questions, and what the case exercises."""

    name: str
    answers: dict[str, Any]
    note: str = ""


def _a(
    usage: str,
    experience: str,
    budget: float | None,
    height: float | None,
    shoes: str,
    inseam: float | None = None,
) -> dict[str, Any]:
    answers: dict[str, Any] = {"usage": usage, "experience": experience}
    if budget is not None:
        answers["budget"] = budget
    if height is not None:
        answers["body_height_cm"] = height
    if inseam is not None:
        answers["inseam_cm"] = inseam
    answers["shoes_owned"] = shoes
    return answers


# Frame sizes follow body height (47 cm below 158 cm … 62 cm from 193 cm) or, for racers
# who know it, the inseam. The set spans every size, every cleat system, budgets from
# 200 to 20 000 and every cross-sell rule. The "relax" cases are meant to need loosening;
# whether they do depends on the catalogue (a racer on 800 EUR still finds a bike that
# ships with flat pedals, geometry being only a soft filter), so the report counts the
# cases that did relax at each size rather than trusting the label.
CASES: tuple[Case, ...] = (
    Case("endurance-beginner-1500", _a("endurance", "beginner", 1500, 182, "none")),
    Case("racing-racer-look-4000", _a("racing", "racer", 4000, 175, "look_keo")),
    Case("racing-racer-look-inseam", _a("racing", "racer", 4000, 175, "look_keo", 82)),
    Case("commute-beginner-1000", _a("commute", "beginner", 1000, 168, "none")),
    Case("commute-intermediate-spd", _a("commute", "intermediate", 1800, 178, "spd")),
    Case("endurance-intermediate-spdsl", _a("endurance", "intermediate", 2500, 185, "spd_sl")),
    Case("racing-intermediate-spdsl", _a("racing", "intermediate", 3000, 172, "spd_sl")),
    Case("racing-racer-spdsl-6000", _a("racing", "racer", 6000, 190, "spd_sl", 90)),
    Case(
        "racing-racer-noshoes-9000",
        _a("racing", "racer", 9000, 180, "none", 85),
        "cross-sell: shoes for clipless beginners",
    ),
    Case("endurance-beginner-900", _a("endurance", "beginner", 900, 160, "none")),
    Case("endurance-racer-look", _a("endurance", "racer", 3500, 170, "look_keo", 78)),
    Case("commute-racer-spd", _a("commute", "racer", 2200, 187, "spd", 88)),
    Case("racing-beginner-1200", _a("racing", "beginner", 1200, 176, "none")),
    Case("endurance-intermediate-tall", _a("endurance", "intermediate", 5000, 195, "none")),
    Case("racing-racer-small-look", _a("racing", "racer", 12000, 150, "look_keo", 70)),
    Case("commute-intermediate-700", _a("commute", "intermediate", 700, 165, "none")),
    Case("endurance-beginner-20000", _a("endurance", "beginner", 20000, 200, "none")),
    Case("racing-intermediate-look", _a("racing", "intermediate", 1500, 183, "look_keo")),
    Case("endurance-intermediate-spd", _a("endurance", "intermediate", 2000, 179, "spd")),
    Case("commute-beginner-spd", _a("commute", "beginner", 1300, 190, "spd")),
    Case("racing-racer-spd", _a("racing", "racer", 5000, 174, "spd")),
    Case("no-height", _a("endurance", "beginner", 2000, None, "none"), "no frame-size wish"),
    Case("no-budget", _a("racing", "racer", None, 181, "spd_sl", 84), "no budget wish"),
    Case("relax-budget-250", _a("endurance", "beginner", 250, 175, "none"), "relax"),
    Case("relax-racer-800-spdsl", _a("racing", "racer", 800, 178, "spd_sl", 84), "relax"),
    Case("relax-racer-800-look-small", _a("racing", "racer", 800, 152, "look_keo", 71), "relax"),
    Case("relax-commute-300", _a("commute", "beginner", 300, 170, "none"), "relax"),
    Case("relax-intermediate-600", _a("endurance", "intermediate", 600, 158, "spd_sl"), "relax"),
    Case("relax-racer-200-tallest", _a("racing", "racer", 200, 215, "none", 99), "relax"),
    Case("relax-beginner-650-small", _a("endurance", "beginner", 650, 140, "none"), "relax"),
    # A budget just above the cheapest bikes but below bike + matching road pedals: every
    # candidate's bundle misses the budget, so the engine loosens it step by step.
    Case("loosen-racer-560-spdsl", _a("racing", "racer", 560, 178, "spd_sl", 84), "relax"),
    Case(
        "loosen-intermediate-600-look",
        _a("endurance", "intermediate", 600, 172, "look_keo"),
        "relax",
    ),
)

# --- measuring ---------------------------------------------------------------------------


@dataclass
class StatementLog:
    """Counts (and optionally keeps) the statements an engine sends, with their DB time.

    ``after_cursor_execute`` fires once the driver's ``execute`` returned: psycopg has
    fetched the whole result by then, SQLite has produced the first row (sorts and
    aggregates are done; a plain scan continues while rows are fetched).
    """

    keep: bool = False
    count: int = 0
    db_s: float = 0.0
    statements: list[tuple[str, Any]] = field(default_factory=list)
    elapsed_ms: list[float] = field(default_factory=list)
    _start: float = 0.0

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def detach(self, engine: Engine) -> None:
        event.remove(engine, "before_cursor_execute", self._before)
        event.remove(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.count, self.db_s = 0, 0.0
        self.statements, self.elapsed_ms = [], []

    def _before(self, _c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        self._start = time.perf_counter()
        if self.keep:
            self.statements.append((statement, params))

    def _after(self, *_: Any) -> None:
        elapsed = time.perf_counter() - self._start
        self.count += 1
        self.db_s += elapsed
        if self.keep:
            self.elapsed_ms.append(elapsed * 1000)


@dataclass
class CaseResult:
    """All timings of one answer set at one size."""

    ms: list[float] = field(default_factory=list)
    statements: int = 0
    db_ms: float = 0.0
    offers: int = 0
    relaxed: list[str] = field(default_factory=list)
    cross_sell: list[str] = field(default_factory=list)


def measure_recommend(
    advice: AdviceEngine, log: StatementLog, repeat: int, deadline: float
) -> tuple[dict[str, CaseResult], int]:
    """Warm up once per case, then ``repeat`` rounds over all cases (fewer past deadline)."""
    results = {case.name: CaseResult() for case in CASES}
    for case in CASES:  # warm-up: connection pool, compiled-SQL cache, OS page cache
        rec = advice.recommend(case.answers)
        res = results[case.name]
        res.offers, res.relaxed = len(rec.offers), list(rec.relaxed)
        res.cross_sell = [c["category"] for c in rec.cross_sell]
    rounds = 0
    for _ in range(repeat):
        if rounds and time.perf_counter() > deadline:
            break  # at least one full round, then stay within the time budget
        for case in CASES:
            log.reset()
            start = time.perf_counter()
            advice.recommend(case.answers)
            elapsed = (time.perf_counter() - start) * 1000
            res = results[case.name]
            res.ms.append(elapsed)
            res.statements = log.count
            res.db_ms += log.db_s * 1000
        rounds += 1
    for res in results.values():
        res.db_ms /= max(rounds, 1)
    return results, rounds


def option_calls(advice: AdviceEngine) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(question, answers so far) for every choice question of every case.

    Progressive filtering runs when a question is about to be asked, so the answers are
    those of the questions before it in the rule set's order.
    """
    for case in CASES:
        before: dict[str, Any] = {}
        for question in advice.ruleset.questions:
            if question.type == "choice":
                yield question, dict(before)
            if question.id in case.answers:
                before[question.id] = case.answers[question.id]


def measure_options(
    advice: AdviceEngine, log: StatementLog, repeat: int, deadline: float
) -> tuple[list[float], int]:
    """ms per ``available_options`` call and the statements all calls issued."""
    calls = list(option_calls(advice))
    for question, answers in calls:  # warm-up
        advice.available_options(question, answers)
    samples: list[float] = []
    log.reset()
    for rnd in range(repeat):
        if rnd and time.perf_counter() > deadline:
            break
        for question, answers in calls:
            start = time.perf_counter()
            advice.available_options(question, answers)
            samples.append((time.perf_counter() - start) * 1000)
    return samples, log.count


def _check_ruleset() -> Callable[..., Any] | None:
    """``product_rules.checks.check_ruleset`` if that module exists yet, else None."""
    if importlib.util.find_spec("product_rules.checks") is None:
        return None
    module = importlib.import_module("product_rules.checks")
    return getattr(module, "check_ruleset", None)


def measure_rules(engine: Engine, repeat: int) -> dict[str, Any]:
    """Time ``load_all`` (+ ``check_ruleset`` on this catalogue when it exists)."""
    check = _check_ruleset()
    load_ms: list[float] = []
    check_ms: list[float] = []
    error: str | None = None
    for rnd in range(repeat + 1):
        start = time.perf_counter()
        loaded, problems = load_all(RULES)
        elapsed = (time.perf_counter() - start) * 1000
        if problems:
            raise SystemExit(f"rule sets do not load: {problems}")
        if check is not None and error is None:
            start = time.perf_counter()
            try:
                for item in loaded.values():
                    check(item, engine)
            except Exception as exc:  # noqa: BLE001 - report, do not abort the bench
                error = f"{type(exc).__name__}: {exc}"
            if rnd:
                check_ms.append((time.perf_counter() - start) * 1000)
        if rnd:  # the first round imports and warms caches
            load_ms.append(elapsed)
    return {
        "load_all": summary(load_ms),
        "check_ruleset": summary(check_ms) if check_ms else None,
        "check_available": check is not None,
        "check_error": error,
    }


# --- per backend -------------------------------------------------------------------------


@dataclass
class Backend:
    """Where a catalogue of each size lives and how to build and size it."""

    name: str
    server: str

    def url(self, size: int) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{self.sqlite_path(size)}"
        return postgres_url(self.server, size)

    @staticmethod
    def sqlite_path(size: int) -> Path:
        return BENCH_DIR / f"catalog_{size}.db"

    def build(self, size: int) -> BuildInfo:
        if self.name == "sqlite":
            return build_sqlite(self.sqlite_path(size), size)
        return build_postgres(self.server, size)

    def disk_bytes(self, engine: Engine) -> dict[str, int]:
        if self.name == "sqlite":
            # Pages in use, not the file size: the file keeps the free pages left by the
            # experiment indexes of an earlier run until a VACUUM.
            with engine.connect() as conn:
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
                free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
                page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            path = Path(str(engine.url.database))
            return {"database": (pages - free) * page, "file": path.stat().st_size}
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT pg_database_size(current_database()),"
                    " pg_total_relation_size('product'), pg_relation_size('product'),"
                    " pg_indexes_size('product')"
                )
            ).one()
        return {
            "database": row[0],
            "product_total": row[1],
            "product_heap": row[2],
            "product_indexes": row[3],
        }

    def version(self, engine: Engine) -> str:
        if self.name == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        with engine.connect() as conn:
            full = str(conn.execute(text("SELECT version()")).scalar_one())
            settings = conn.execute(
                text(
                    "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ')"
                    " FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem',"
                    " 'max_parallel_workers_per_gather', 'jit', 'random_page_cost')"
                )
            ).scalar_one()
        return f"{full.split(' on ')[0]} ({settings})"


def run_cell(
    backend: Backend, size: int, build: BuildInfo, ruleset: Any, args: argparse.Namespace
) -> dict[str, Any]:
    """Every measurement of one size on one backend."""
    engine = make_engine(backend.url(size))
    log = StatementLog()
    log.attach(engine)
    advice = AdviceEngine(ruleset, engine)
    # Other processes on the machine skew every figure: keep the load beside them.
    load_before = os.getloadavg()[0]
    deadline = time.perf_counter() + args.cell_seconds
    start = time.perf_counter()
    cases, rounds = measure_recommend(advice, log, args.repeat, deadline)
    rec_s = time.perf_counter() - start
    samples = [ms for res in cases.values() for ms in res.ms]
    options, option_statements = measure_options(advice, log, args.repeat, deadline + 30)
    log.detach(engine)
    rules = measure_rules(engine, min(args.repeat, 5))
    cell: dict[str, Any] = {
        "size": size,
        "backend": backend.name,
        "version": backend.version(engine),
        "build": {**asdict(build), "total_s": build.total_s},
        "disk_bytes": backend.disk_bytes(engine),
        "rounds": rounds,
        "recommend": summary(samples),
        # Whether a case relaxes depends on the catalogue (cheaper clones appear as it
        # grows), so this column is over the cases that did relax at this size.
        "recommend_relax": summary([ms for r in cases.values() if r.relaxed for ms in r.ms]),
        "relaxed_cases": sum(bool(r.relaxed) for r in cases.values()),
        "statements_per_recommend": sum(r.statements for r in cases.values()) / len(cases),
        "db_share": sum(r.db_ms for r in cases.values())
        / max(sum(sum(r.ms) / len(r.ms) for r in cases.values()), 1e-9),
        "cases": {
            name: {
                **summary(res.ms),
                "statements": res.statements,
                "db_ms": res.db_ms,
                "offers": res.offers,
                "relaxed": res.relaxed,
                "cross_sell": res.cross_sell,
            }
            for name, res in cases.items()
        },
        "options": summary(options),
        "options_statements": option_statements,
        "rules": rules,
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }
    engine.dispose()
    print(
        f"  {backend.name} {size:,}: recommend p50 {cell['recommend']['p50']:.1f} ms, "
        f"p95 {cell['recommend']['p95']:.1f} ms ({rounds} rounds in {rec_s:.0f} s)",
        flush=True,
    )
    return cell


# --- reporting ---------------------------------------------------------------------------


def _size_label(size: int) -> str:
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if size >= div and size % div == 0:
            return f"{size // div} {unit}"
    return f"{size:,}"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def print_table(cells: list[dict[str, Any]]) -> list[str]:
    """The per-backend tables; returns the target verdict lines."""
    if not cells:
        return []
    backend = cells[0]["backend"]
    base = cells[0]
    print(f"\n== {backend}: {cells[0]['version']}")
    print(
        f"   recommend() over {len(CASES)} answer sets × rounds, warm-up excluded, ms; "
        f"growth × = p95 / p95 at {_size_label(base['size'])} in this run"
    )
    head = (
        f"{'size':>6} {'build':>8} {'db size':>10} {'rounds':>6} {'load':>5} │ {'p50':>7} "
        f"{'p95':>7} {'p99':>7} {'max':>7} {'growth×':>8} │ {'relaxed p95 (n)':>15} "
        f"{'SQL/call':>8} {'in driver':>9}"
    )
    print(head)
    print("─" * len(head))
    for cell in cells:
        rec, build = cell["recommend"], cell["build"]
        built = f"{build['total_s']:.1f} s" + ("*" if build["reused"] else "")
        relax = cell["recommend_relax"]
        relaxed = f"{relax['p95']:>9.1f} ({cell['relaxed_cases']:>2})" if relax["n"] else "-"
        print(
            f"{_size_label(cell['size']):>6} {built:>8} {_mb(cell['disk_bytes']['database']):>10} "
            f"{cell['rounds']:>6} {max(cell['loadavg_1min']):>5.1f} │ {rec['p50']:>7.1f} "
            f"{rec['p95']:>7.1f} {rec['p99']:>7.1f} {rec['max']:>7.1f} "
            f"{ratio(rec['p95'], base['recommend']['p95']):>8} │ {relaxed:>15} "
            f"{cell['statements_per_recommend']:>8.1f} {cell['db_share'] * 100:>8.0f}%"
        )
    print(
        "   build = load + indexes + (vacuum) analyze (* = reused: the time of that build); "
        "load = 1-min load average (other processes skew the figures); relaxed = the cases "
        "that did relax; in driver = share of the call inside the driver's execute()"
    )
    print(
        "\n   available_options() per choice question (progressive filtering) and rule checks, ms"
    )
    head = (
        f"{'size':>6} │ {'options p50':>11} {'p95':>6} {'max':>6} {'growth×':>8} "
        f"{'SQL total':>9} │ {'load_all p50':>12} {'check_ruleset p50':>17} {'growth×':>8}"
    )
    print(head)
    print("─" * len(head))
    base_check = base["rules"]["check_ruleset"]
    for cell in cells:
        opt, rules = cell["options"], cell["rules"]
        check = rules["check_ruleset"]
        if rules["check_error"]:
            check_s, growth = "error", "-"
        elif check and base_check:
            check_s, growth = f"{check['p50']:.1f}", ratio(check["p50"], base_check["p50"])
        else:
            check_s, growth = "n/a", "-"
        print(
            f"{_size_label(cell['size']):>6} │ {opt['p50']:>11.2f} {opt['p95']:>6.2f} "
            f"{opt['max']:>6.2f} {ratio(opt['p95'], base['options']['p95']):>8} "
            f"{cell['options_statements']:>9} │ {rules['load_all']['p50']:>12.1f} "
            f"{check_s:>17} {growth:>8}"
        )
    if any(c["rules"]["check_error"] for c in cells):
        print(f"   check_ruleset failed: {next(c['rules']['check_error'] for c in cells)}")
    last = cells[-1]
    print(f"\n   slowest answer sets at {_size_label(last['size'])} (p50 ms, statements):")
    slow = sorted(last["cases"].items(), key=lambda kv: -kv[1]["p50"])[:6]
    for name, res in slow:
        relaxed = "; ".join(res["relaxed"]) or "-"
        print(
            f"     {name:<30} {res['p50']:>8.1f} ms  {res['statements']:>4} SQL  relaxed: {relaxed}"
        )
    verdicts = []
    at_target = next((c for c in cells if c["size"] == TARGET_SIZE), None)
    if at_target is None:
        verdicts.append(f"{backend}: target not measured (no {_size_label(TARGET_SIZE)} size)")
    else:
        p95 = at_target["recommend"]["p95"]
        met = "MET" if p95 < TARGET_MS else "NOT MET"
        verdicts.append(
            f"{backend}: recommend p95 at {_size_label(TARGET_SIZE)} = {p95:.1f} ms "
            f"(target < {TARGET_MS:g} ms): {met}"
        )
    return verdicts


# --- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds per size")
    parser.add_argument(
        "--cell-seconds",
        type=float,
        default=120.0,
        help="stop adding rounds to one size/backend after this long",
    )
    parser.add_argument("--out", type=Path, help="write all results as JSON")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument(
        "--keep-postgres", action="store_true", help="keep the bench databases for the next run"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip step 3")
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(s < 1 or s > 5_000_000 for s in args.sizes):
        parser.error("--repeat >= 1 and sizes within 1 .. 5,000,000")
    args.sizes = sorted(set(args.sizes))
    return args


# --- step 3: where the time goes at the largest size ------------------------------------

#: Categories of the demo catalogue, to name the category a statement filters on.
CATEGORIES = frozenset(
    {
        "road_bike",
        "gravel_bike",
        "city_bike",
        "mountain_bike",
        "e_bike",
        "pedals",
        "shoes",
        "helmet",
        "lights",
        "bottle_cage",
        "lock",
        "bike_computer",
    }
)


def _param_values(params: Any) -> list[Any]:
    if isinstance(params, Mapping):
        return list(params.values())
    return list(params or ())


def shape_of(statement: str, params: Any) -> str:
    """A readable name for the kind of statement the engine sent (the code path)."""
    flat = " ".join(statement.split())
    where = flat.split(" WHERE ", 1)[1].split(" ORDER BY ")[0] if " WHERE " in flat else ""
    category = next((v for v in _param_values(params) if v in CATEGORIES), "?")
    if "count(DISTINCT" in flat:
        return "relaxation: count(DISTINCT group_sku)"
    if re.search(r"\b(min|max)\(product\.", flat):
        return "relaxation: min/max bound"
    if " AS score" in flat:
        return "offers: scored candidates (LIMIT 60)"
    if "product.sku IN" in flat:
        return "cross-sell: offered items by sku"
    if "FROM productrelation" in flat:
        return "compatibility: relation lookup"
    if "product.stock >" in where:
        return f"cross-sell: {category}"
    return f"requirement: {category} (per candidate)"


@dataclass(slots=True)
class Timed:
    """One captured statement, re-run alone: its shape, time and result."""

    shape: str
    statement: str
    params: Any
    ms: float
    rows: list[Any]


def retime(engine: Engine, captured: Sequence[tuple[str, Any]]) -> list[Timed]:
    """Run each captured statement alone on a raw DBAPI cursor (execute + fetchall).

    This isolates database time from ORM row building; the listener's figure cannot,
    because SQLite keeps stepping while the ORM fetches.
    """
    raw = engine.raw_connection()
    timed: list[Timed] = []
    try:
        for statement, params in captured:
            cursor = raw.cursor()
            start = time.perf_counter()
            cursor.execute(statement, params)
            rows = cursor.fetchall()
            timed.append(
                Timed(
                    shape_of(statement, params),
                    statement,
                    params,
                    (time.perf_counter() - start) * 1000,
                    list(rows),
                )
            )
            cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return timed


def by_shape(timed: Sequence[Timed]) -> list[dict[str, Any]]:
    """Calls, total, mean and max ms per shape, biggest total first."""
    groups: dict[str, list[Timed]] = {}
    for item in timed:
        groups.setdefault(item.shape, []).append(item)
    rows = [
        {
            "shape": shape,
            "calls": len(items),
            "total_ms": sum(i.ms for i in items),
            "mean_ms": sum(i.ms for i in items) / len(items),
            "max_ms": max(i.ms for i in items),
            # How many calls returned a different result: 1 means the repeated calls
            # could have been one (the N+1 pattern).
            "distinct_results": len({repr(i.rows) for i in items}),
            "each_ms": sorted(i.ms for i in items),
        }
        for shape, items in groups.items()
    ]
    return sorted(rows, key=lambda r: -r["total_ms"])


def explain(engine: Engine, statement: str, params: Any) -> list[str]:
    """The plan: ``EXPLAIN QUERY PLAN`` (SQLite) or ``EXPLAIN (ANALYZE, BUFFERS)``."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
            lines = [str(row[3]) for row in cursor.fetchall()]
        else:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            lines = [str(row[0]) for row in cursor.fetchall()]
        raw.rollback()
        return lines
    finally:
        raw.close()


def _area(filename: str, function: str) -> str:
    if filename == "~":  # C functions: the driver's execute/fetch, waits on the socket
        if "sqlite3" in function or "psycopg" in function or "poll" in function:
            return "driver (SQL execution, network)"
        return "builtins"
    for marker, area in (
        ("/psycopg", "driver (SQL execution, network)"),
        ("/sqlalchemy/orm/", "SQLAlchemy ORM (row loading, session)"),
        ("/sqlalchemy/", "SQLAlchemy Core (compile, execute)"),
        ("/sqlmodel/", "SQLModel / pydantic"),
        ("/pydantic", "SQLModel / pydantic"),
        ("/jinja2/", "jinja2 (reason texts)"),
        ("/product_rules/", "engine (product_rules)"),
        ("/catalog/", "catalog"),
    ):
        if marker in filename:
            return area
    return "other Python"


def cprofile(advice: AdviceEngine, answers: Mapping[str, Any], calls: int = 1) -> dict[str, Any]:
    """Own time per area, top own-time functions and the engine's cumulative times."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(calls):
        advice.recommend(answers)
    profiler.disable()
    wall_ms = (time.perf_counter() - start) * 1000 / calls
    entries: dict[tuple[str, int, str], Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    areas: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in entries.items():
        area = _area(filename, function)
        areas[area] = areas.get(area, 0.0) + tottime * 1000 / calls

    def label(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        short = filename.split("site-packages/")[-1].replace(str(REPO) + "/", "")
        return function if filename == "~" else f"{short}:{line}({function})"

    own = sorted(entries.items(), key=lambda kv: -kv[1][2])[:6]
    engine = sorted(
        ((k, v) for k, v in entries.items() if "/product_rules/" in k[0]), key=lambda kv: -kv[1][3]
    )[:6]
    return {
        "wall_ms": wall_ms,
        "areas_ms": dict(sorted(areas.items(), key=lambda kv: -kv[1])),
        "top_own_ms": [(label(k), v[1] / calls, v[2] * 1000 / calls) for k, v in own],
        "engine_cumulative_ms": [(label(k), v[1] / calls, v[3] * 1000 / calls) for k, v in engine],
    }


def print_cprofile(title: str, prof: dict[str, Any]) -> None:
    """Areas, then the heaviest functions (calls per recommend, ms per recommend)."""
    print(f"\n   cProfile of {title} ({prof['wall_ms']:.1f} ms per call under the profiler)")
    print(
        "     own time by area: "
        + ", ".join(f"{area} {ms:.1f} ms" for area, ms in prof["areas_ms"].items() if ms >= 0.05)
    )
    print(
        "     top own time:      "
        + "; ".join(f"{name} ×{calls:g} {ms:.1f} ms" for name, calls, ms in prof["top_own_ms"][:4])
    )
    print(
        "     engine cumulative: "
        + "; ".join(
            f"{name} ×{calls:g} {ms:.1f} ms" for name, calls, ms in prof["engine_cumulative_ms"][:5]
        )
    )


@dataclass(frozen=True, slots=True)
class Variant:
    """A proposed query shape next to the engine's own, for one slow shape."""

    name: str
    shape: str
    original: Any
    proposed: Any
    note: str


def _statements() -> tuple[Any, Any, Any, Any]:
    # Imported late: only step 3 rebuilds statements (and a changed engine API then
    # costs only the experiments, not the measurements).
    from sqlmodel import col, select  # noqa: PLC0415

    from catalog.models import Product  # noqa: PLC0415
    from product_rules.bundles import preference  # noqa: PLC0415
    from product_rules.query import product_filter  # noqa: PLC0415

    return col, select, Product, (preference, product_filter)


def offers_variant(advice: AdviceEngine, case: Case) -> Variant:
    """The engine's offers statement for ``case`` and its two-phase form.

    Rebuilt with the engine's own ``_active``/``_where``/``_score``, so it compiles to
    the statement captured above.
    """
    col, select, product, _ = _statements()
    from product_rules.engine import CANDIDATE_ROWS  # noqa: PLC0415

    values = advice.derive(case.answers)
    wishes, soft = advice._active(values)  # noqa: SLF001 - rebuilding the engine's query
    where = advice._where([w.predicate() for w in wishes])  # noqa: SLF001
    score = advice._score(wishes, soft).label("score")  # noqa: SLF001
    order = (score.desc(), col(product.price), col(product.sku))
    return Variant(
        "offers-two-phase",
        "offers: scored candidates (LIMIT 60)",
        select(product, score).where(*where).order_by(*order).limit(CANDIDATE_ROWS),
        select(col(product.id), score).where(*where).order_by(*order).limit(CANDIDATE_ROWS),
        "phase 1 ranks (id, score) only, answerable from a covering index; phase 2 loads "
        "the 60 rows by primary key (both timed)",
    )


def offers_threshold(advice: AdviceEngine, engine: Engine, case: Case) -> dict[str, Any] | None:
    """Exact top-60 from a price band under the budget (a threshold algorithm), timed.

    With the budget wish as asked, the score is a sum of non-negative indicator weights,
    ``margin_pct / 10 * margin`` and ``price / budget * price_fit``. A row priced below
    ``lo`` scores at most ``Σ weights + max_margin / 10 * margin + lo / budget *
    price_fit``; once the 60th best row of the band [lo, budget] scores strictly more,
    no row outside the band can enter the top 60 (strictly: ties go to the cheaper row).
    The band starts at 10 % under the budget and doubles until that holds. None when
    the case has no budget wish or it was loosened (then cheapest-first ranks instead).
    """
    col, select, product, _ = _statements()
    from sqlalchemy import func  # noqa: PLC0415

    from product_rules.engine import CANDIDATE_ROWS  # noqa: PLC0415

    values = advice.derive(case.answers)
    wishes, soft = advice._active(values)  # noqa: SLF001
    budget = next(
        (w for w in wishes if w.rule.attribute == "price" and w.rule.op in ("le", "lt")), None
    )
    if budget is None or budget.loosened or any(w.loosened for w in wishes):
        return None
    limit = float(budget.effective)
    ranking = advice.ruleset.ranking
    where = advice._where([w.predicate() for w in wishes])  # noqa: SLF001
    score = advice._score(wishes, soft).label("score")  # noqa: SLF001
    order = (score.desc(), col(product.price), col(product.sku))
    start = time.perf_counter()
    with engine.connect() as conn:
        # A catalogue statistic the engine would cache, not query per request.
        max_margin = conn.execute(
            select(func.max(col(product.margin_pct))).where(*advice._where([]))  # noqa: SLF001
        ).scalar_one()
        stat_ms = (time.perf_counter() - start) * 1000
        static = sum(rule.weight for rule, _ in soft) + ranking.in_stock
        static += float(max_margin or 0) / 10 * ranking.margin
        share, rounds = 0.1, 0
        start = time.perf_counter()
        while True:
            rounds += 1
            low = limit * (1 - share) if share < 1 else None
            band = [*where, col(product.price) >= low] if low is not None else where
            rows = conn.execute(
                select(col(product.id), score).where(*band).order_by(*order).limit(CANDIDATE_ROWS)
            ).all()
            if low is None:
                break
            ceiling = static + ranking.price_fit * low / limit
            if len(rows) == CANDIDATE_ROWS and rows[-1][1] > ceiling:
                break
            share *= 2
        band_ms = (time.perf_counter() - start) * 1000
        reference = conn.execute(
            select(col(product.id), score).where(*where).order_by(*order).limit(CANDIDATE_ROWS)
        ).all()
    phase2 = _phase2_ms(engine, [r[0] for r in rows])
    return {
        "ms": band_ms + phase2,
        "rounds": rounds,
        "band_share": min(share, 1.0),
        "same_rows": [r[0] for r in rows] == [r[0] for r in reference],
        "max_margin_query_ms": stat_ms,
    }


def shared_variants(advice: AdviceEngine, case: Case) -> list[Variant]:
    """Rewrites of the required-item, cross-sell and relaxation statements."""
    col, select, product, (preference, product_filter) = _statements()
    from sqlalchemy import distinct, exists, func  # noqa: PLC0415

    values = advice.derive(case.answers)
    wishes, _ = advice._active(values)  # noqa: SLF001
    pedals = [
        col(product.category) == "pedals",
        product_filter({"cleat_system": {"in": ["flat", "spd"]}}, values),
    ]
    helmet = [product_filter({"category": "helmet"}, values), col(product.stock) > 0]
    cage = [product_filter({"category": "bottle_cage"}, values), col(product.stock) > 0]
    size_only = advice._where(  # noqa: SLF001
        [w.predicate() for w in wishes if w.rule.attribute != "price"]
    )
    return [
        Variant(
            "requirement-plain-order",
            "requirement: pedals (per candidate)",
            select(product).where(*pedals).order_by(*preference("cheapest", 20.0)).limit(8),
            select(product)
            .where(*pedals, col(product.stock) > 0)
            .order_by(col(product.price), col(product.sku))
            .limit(8),
            "prefer=cheapest: in-stock as a WHERE term and ORDER BY price, sku (the order of "
            "ix_product_category_price); the price-within-remaining CASE cannot change a "
            "price-ascending order. Same rows while 8 are in stock, else a 2nd query",
        ),
        Variant(
            "cross-sell-plain-order",
            "cross-sell: helmet",
            select(product).where(*helmet).order_by(*preference("best", None)).limit(8),
            select(product)
            .where(*helmet)
            .order_by(col(product.stock).desc(), col(product.margin_pct).desc(), col(product.sku))
            .limit(8),
            "the WHERE has stock > 0, so the in-stock CASE term is constant; without it an "
            "index (category, stock DESC, margin_pct DESC, sku) yields the order",
        ),
        Variant(
            "cross-sell-cheapest",
            "cross-sell: bottle_cage",
            select(product).where(*cage).order_by(*preference("cheapest", None)).limit(8),
            select(product).where(*cage).order_by(col(product.price), col(product.sku)).limit(8),
            "prefer=cheapest with stock > 0 in the WHERE: ORDER BY price, sku walks "
            "ix_product_category_price and stops after 8 rows",
        ),
        Variant(
            "relaxation-exists",
            "relaxation: count(DISTINCT group_sku)",
            select(func.count(distinct(col(product.group_sku)))).where(*size_only),
            select(exists().where(*size_only)),
            "the subset search only asks 'is there any': EXISTS stops at the first row; "
            "count models only for the (at most 3) choices shown",
        ),
    ]


def _time_statement(engine: Engine, statement: Any, tries: int = 3) -> tuple[float, list[Any]]:
    """Best-of-``tries`` ms of one Core statement (execute + fetchall), and its rows."""
    best = float("inf")
    rows: list[Any] = []
    with engine.connect() as conn:
        for _ in range(tries):
            start = time.perf_counter()
            rows = list(conn.execute(statement).all())
            best = min(best, (time.perf_counter() - start) * 1000)
    return best, rows


def _phase2_ms(engine: Engine, ids: list[Any]) -> float:
    """Load the phase-1 winners by primary key, as the two-phase offers query would."""
    col, select, product, _ = _statements()
    return _time_statement(engine, select(product).where(col(product.id).in_(ids)))[0]


def _same_rows(variant: Variant, original: list[Any], proposed: list[Any]) -> bool:
    # Core rows of select(Product) are flat columns, not entities: compare by key.
    if variant.name == "offers-two-phase":
        return [r._mapping["id"] for r in original] == [r[0] for r in proposed]
    if variant.name == "relaxation-exists":
        return bool(original[0][0] > 0) == bool(proposed[0][0])
    return [r._mapping["sku"] for r in original] == [r._mapping["sku"] for r in proposed]


#: Indexes tried on the bench database, then dropped again. The first two cover the
#: road-bike ranking (filter columns first, then what the score and the model count
#: read), with and without a frame-size wish; the last serves cross-sell "best".
EXPERIMENT_INDEXES: dict[str, list[str]] = {
    "sqlite": [
        "CREATE INDEX bench_rank_size ON product (category, frame_size_cm, price, stock,"
        " margin_pct, geometry, brake_type, group_sku, sku)",
        "CREATE INDEX bench_rank_price ON product (category, price, stock, margin_pct,"
        " geometry, brake_type, frame_size_cm, group_sku, sku)",
        "CREATE INDEX bench_best ON product (category, stock DESC, margin_pct DESC, sku)",
    ],
    "postgres": [
        "CREATE INDEX bench_rank_size ON product (category, frame_size_cm, price)"
        " INCLUDE (stock, margin_pct, geometry, brake_type, group_sku, sku, id)",
        "CREATE INDEX bench_rank_price ON product (category, price)"
        " INCLUDE (stock, margin_pct, geometry, brake_type, frame_size_cm, group_sku, sku, id)",
        "CREATE INDEX bench_best ON product (category, stock DESC, margin_pct DESC, sku)",
    ],
}


def _indexes(engine: Engine, backend: str, *, create: bool) -> float:
    start = time.perf_counter()
    with engine.connect() as conn:
        for ddl in EXPERIMENT_INDEXES[backend]:
            name = ddl.split()[2]
            conn.exec_driver_sql(ddl if create else f"DROP INDEX IF EXISTS {name}")
        conn.commit()
    if create:  # the planner must know the new indexes' statistics
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE product")
    return time.perf_counter() - start


def _time_variants(engine: Engine, found: Sequence[Variant], *, indexed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in found:
        original_ms, original_rows = _time_statement(engine, variant.original)
        proposed_ms, proposed_rows = _time_statement(engine, variant.proposed)
        if variant.name == "offers-two-phase":
            proposed_ms += _phase2_ms(engine, [r[0] for r in proposed_rows])
        out[variant.name] = {
            "engine_ms": original_ms,
            "proposed_ms": proposed_ms,
            "same_rows": _same_rows(variant, original_rows, proposed_rows),
            "indexed": indexed,
        }
    return out


def experiments(
    backend: Backend,
    engine: Engine,
    advice: AdviceEngine,
    cases: dict[str, Case],
    profiled: dict[str, Any],
    python_per_statement_ms: float,
) -> dict[str, Any]:
    """Proposed query shapes and temporary indexes, timed against the engine's own."""
    names = list(profiled)
    shared = shared_variants(advice, cases[names[0]])
    offers = {f"offers:{name}": offers_variant(advice, cases[name]) for name in names}

    def time_all(indexed: bool) -> dict[str, Any]:
        timed = _time_variants(engine, shared, indexed=indexed)
        for key, variant in offers.items():
            timed[key] = _time_variants(engine, [variant], indexed=indexed)[variant.name]
        return timed

    before = time_all(indexed=False)
    index_s = _indexes(engine, backend.name, create=True)
    try:
        after = time_all(indexed=True)
        for name in names:
            threshold = offers_threshold(advice, engine, cases[name])
            if threshold is not None:
                after[f"offers:{name}"]["threshold"] = threshold
        # End to end with the indexes and the engine unchanged: what indexes alone buy.
        samples: list[float] = []
        for item in CASES:
            advice.recommend(item.answers)
            start = time.perf_counter()
            advice.recommend(item.answers)
            samples.append((time.perf_counter() - start) * 1000)
        with_indexes = summary(samples)
    finally:
        _indexes(engine, backend.name, create=False)
    print(f"\n   experiments (best of 3, ms; indexes built in {index_s:.1f} s, then dropped):")
    for ddl in EXPERIMENT_INDEXES[backend.name]:
        print(f"     {ddl}")
    rows = []
    print(
        f"     {'rewrite':<26} {'shape':<40} {'engine':>7} {'+idx':>7} {'proposed':>8} "
        f"{'+idx':>7} {'same':>4}"
    )
    for variant in shared:
        b, a = before[variant.name], after[variant.name]
        rows.append(
            {
                "rewrite": variant.name,
                "shape": variant.shape,
                "engine_ms": b["engine_ms"],
                "engine_with_indexes_ms": a["engine_ms"],
                "proposed_ms": b["proposed_ms"],
                "proposed_with_indexes_ms": a["proposed_ms"],
                "same_rows": b["same_rows"] and a["same_rows"],
                "note": variant.note,
            }
        )
        print(
            f"     {variant.name:<26} {variant.shape[:40]:<40} {b['engine_ms']:>7.1f} "
            f"{a['engine_ms']:>7.1f} {b['proposed_ms']:>8.2f} {a['proposed_ms']:>7.2f} "
            f"{'yes' if rows[-1]['same_rows'] else 'NO':>4}"
        )
    print(
        f"     {'offers query of case':<32} {'engine':>7} {'+idx':>7} {'2-phase':>8} {'+idx':>7} "
        f"{'threshold+idx':>13} {'rounds':>6} {'band':>5} {'same':>4}"
    )
    for key in offers:
        b, a = before[key], after[key]
        threshold = a.get("threshold")
        same = b["same_rows"] and a["same_rows"] and (threshold is None or threshold["same_rows"])
        rows.append(
            {
                "rewrite": key,
                "engine_ms": b["engine_ms"],
                "engine_with_indexes_ms": a["engine_ms"],
                "proposed_ms": b["proposed_ms"],
                "proposed_with_indexes_ms": a["proposed_ms"],
                "threshold": threshold,
                "same_rows": same,
            }
        )
        band = (
            f"{threshold['ms']:>13.2f} {threshold['rounds']:>6} {threshold['band_share']:>5.0%}"
            if threshold
            else f"{'n/a':>13} {'':>6} {'':>5}"
        )
        print(
            f"     {key.removeprefix('offers:')[:32]:<32} {b['engine_ms']:>7.1f} "
            f"{a['engine_ms']:>7.1f} {b['proposed_ms']:>8.2f} {a['proposed_ms']:>7.2f} {band} "
            f"{'yes' if same else 'NO':>4}"
        )
    for variant in [*shared, next(iter(offers.values()))]:
        print(f"     - {variant.name}: {variant.note}")
    print(
        "     - threshold: phase 1 over a price band under the budget, widened until the "
        "60th score beats any row below the band (exact; n/a without an unloosened budget)"
    )
    print(
        f"   recommend() with those indexes, engine unchanged (1 round of {len(CASES)}): "
        f"p50 {with_indexes['p50']:.0f} ms, p95 {with_indexes['p95']:.0f} ms"
    )
    prefer = {
        f"cross-sell: {rule.target.get('category')}": rule.prefer
        for rule in advice.ruleset.cross_sell
    }
    projection = project(profiled, after, prefer, python_per_statement_ms)
    print(
        "   projection (estimate, not measured) with all rewrites + indexes, one required-item "
        f"query per request, Python at the 1 k floor's {python_per_statement_ms:.2f} ms/statement:"
    )
    for name, item in projection.items():
        print(
            f"     {name:<32} {item['now_ms']:>8.0f} ms → ~{item['projected_ms']:>5.1f} ms "
            f"({item['statements_now']} → {item['statements_projected']} statements; "
            f"SQL {item['sql_ms']:.1f} ms)"
        )
    return {
        "indexes": EXPERIMENT_INDEXES[backend.name],
        "index_build_s": index_s,
        "rewrites": rows,
        "recommend_with_indexes_engine_unchanged": with_indexes,
        "projection": projection,
    }


def project(
    profiled: dict[str, Any],
    after: dict[str, Any],
    prefer: Mapping[str, str],
    python_per_statement_ms: float,
) -> dict[str, Any]:
    """Estimate recommend() per profiled case once the proposals are in (not measured).

    Each shape's measured time is replaced by its rewrite's time with the indexes (the
    faster exact offers form: two-phase or threshold); the N required-item queries (all
    returning the same rows, see 'distinct') become one; Python costs what it costs per
    statement at the smallest size, where SQL time is negligible. Shapes without a
    rewrite keep their measured time. ``prefer`` maps cross-sell shapes to their rule's.
    """
    out: dict[str, Any] = {}
    for name, case in profiled.items():
        statements = sum(s["calls"] for s in case["shapes"])
        sql_ms, count = 0.0, 0
        for shape in case["shapes"]:
            calls, total = shape["calls"], shape["total_ms"]
            if shape["shape"].startswith("offers:"):
                offers = after[f"offers:{name}"]
                best = offers["proposed_ms"]
                threshold = offers.get("threshold")
                if threshold and threshold["same_rows"]:
                    best = min(best, threshold["ms"])
                sql_ms += calls * best
                count += 2 * calls  # phase 1 + phase 2
            elif shape["shape"].startswith("requirement:"):
                sql_ms += after["requirement-plain-order"]["proposed_ms"]
                count += 1
            elif shape["shape"].startswith("cross-sell: ") and shape["shape"] in prefer:
                # Every cross-sell rule has the shape of its 'prefer' (best / cheapest).
                cheapest = prefer[shape["shape"]] == "cheapest"
                key = "cross-sell-cheapest" if cheapest else "cross-sell-plain-order"
                sql_ms += calls * after[key]["proposed_ms"]
                count += calls
            elif shape["shape"].startswith("relaxation: count"):
                # The (at most 3) choices shown keep a real count; they are over tightened
                # wishes and match few rows, so the cheapest measured counts stand for
                # them. The subset search's probes become EXISTS.
                shown = min(3, calls)
                sql_ms += sum(shape["each_ms"][:shown])
                sql_ms += (calls - shown) * after["relaxation-exists"]["proposed_ms"]
                count += calls
            else:
                sql_ms += total
                count += calls
        out[name] = {
            "now_ms": case["wall_ms"],
            "projected_ms": python_per_statement_ms * count + sql_ms,
            "sql_ms": sql_ms,
            "statements_now": statements,
            "statements_projected": count,
        }
    return out


def profiled_cases(cell: dict[str, Any]) -> list[str]:
    """The 3 slowest cases (p95), the slowest that relaxed, and the reference case."""
    ranked = sorted(cell["cases"], key=lambda n: -cell["cases"][n]["p95"])
    relaxed = [n for n in ranked if cell["cases"][n]["relaxed"]][:1]
    return list(dict.fromkeys([*ranked[:3], *relaxed, CASES[0].name]))


def profile_backend(
    backend: Backend, size: int, ruleset: Any, cell: dict[str, Any], python_per_statement_ms: float
) -> dict[str, Any]:
    """Step 3 for one backend at ``size``: statements, plans, cProfile, experiments."""
    engine = make_engine(backend.url(size))
    advice = AdviceEngine(ruleset, engine)
    cases = {c.name: c for c in CASES}
    chosen = profiled_cases(cell)
    log = StatementLog(keep=True)
    log.attach(engine)
    out: dict[str, Any] = {"size": size, "cases": {}}
    print(f"\n== step 3, {backend.name} at {_size_label(size)}: which statements dominate")
    all_timed: list[Timed] = []
    for name in chosen:
        # The median of 3 calls: one call is at the mercy of other processes.
        walls = []
        for _ in range(3):
            log.reset()
            start = time.perf_counter()
            advice.recommend(cases[name].answers)
            walls.append((time.perf_counter() - start) * 1000)
        wall = percentile(walls, 50)
        timed = retime(engine, log.statements)
        all_timed += timed
        shapes = by_shape(timed)
        sql_ms = sum(t.ms for t in timed)
        out["cases"][name] = {"wall_ms": wall, "sql_ms": sql_ms, "shapes": shapes}
        print(
            f"\n   {name}: recommend {wall:.0f} ms, {len(timed)} statements, "
            f"re-run alone {sql_ms:.0f} ms ({sql_ms / wall * 100:.0f}% of the call)"
        )
        print(
            f"     {'shape':<42} {'calls':>5} {'total ms':>9} {'mean':>7} {'max':>7} "
            f"{'distinct':>8}"
        )
        for row in shapes:
            print(
                f"     {row['shape']:<42} {row['calls']:>5} {row['total_ms']:>9.1f} "
                f"{row['mean_ms']:>7.1f} {row['max_ms']:>7.1f} {row['distinct_results']:>8}"
            )
    log.detach(engine)
    # The plans of the heaviest shapes, each at its slowest instance.
    totals = by_shape(all_timed)
    out["plans"] = {}
    for row in totals[:4]:
        worst = max((t for t in all_timed if t.shape == row["shape"]), key=lambda t: t.ms)
        plan = explain(engine, worst.statement, worst.params)
        out["plans"][row["shape"]] = {"ms": worst.ms, "statement": worst.statement, "plan": plan}
        print(f"\n   plan of '{row['shape']}' (slowest instance, {worst.ms:.1f} ms alone):")
        # Long plans are cut, but JIT and the total time (the tail) always show.
        shown = plan[:16] + [x for x in plan[16:] if "JIT" in x or "Execution" in x]
        for line in shown:
            print(f"     {line}")
    # Python time of the slowest case: how much is the driver, how much everything else.
    worst_case = chosen[0]
    prof = cprofile(advice, cases[worst_case].answers)
    out["cprofile"] = {worst_case: prof}
    print_cprofile(f"{worst_case} at {_size_label(size)}", prof)
    out["experiments"] = experiments(
        backend, engine, advice, cases, out["cases"], python_per_statement_ms
    )
    engine.dispose()
    return out


def run_profile(args: argparse.Namespace, ruleset: Any, report: dict[str, Any]) -> dict[str, Any]:
    """Step 3 for every backend, at the largest size measured."""
    size = max(args.sizes)
    smallest = min(args.sizes)
    out: dict[str, Any] = {}
    for name in args.backends:
        backend = Backend(name, args.server)
        # The floor first: Python cost per statement of one recommend() where SQL time is
        # negligible (smallest size, reference case, without a profiler), which the
        # projection of step 3 uses.
        small = next(c for c in report["results"][name] if c["size"] == smallest)
        ref = small["cases"][CASES[0].name]
        statements = ref["statements"]
        per_statement = max(ref["p50"] - ref["db_ms"], 0.0) / max(statements, 1)
        engine = make_engine(backend.url(smallest))
        advice = AdviceEngine(ruleset, engine)
        advice.recommend(CASES[0].answers)
        floor = cprofile(advice, CASES[0].answers, calls=20)
        engine.dispose()
        cell = next(c for c in report["results"][name] if c["size"] == size)
        out[name] = profile_backend(backend, size, ruleset, cell, per_statement)
        out[name]["floor"] = {
            "size": smallest,
            "case": CASES[0].name,
            "statements": statements,
            "python_per_statement_ms": per_statement,
            **floor,
        }
        print_cprofile(f"{CASES[0].name} at {_size_label(smallest)} (the floor)", floor)
        print(
            f"     → without the profiler: p50 {ref['p50']:.1f} ms, {statements} statements, "
            f"{ref['db_ms']:.1f} ms in the driver: {per_statement:.2f} ms Python per statement"
        )
        out[name]["check_ruleset"] = profile_check(backend, size)
    return out


def profile_check(backend: Backend, size: int) -> dict[str, Any] | None:
    """Which statements ``check_ruleset`` spends its time on at ``size`` (if it exists)."""
    check = _check_ruleset()
    if check is None:
        return None
    loaded, _ = load_all(RULES)
    engine = make_engine(backend.url(size))
    log = StatementLog(keep=True)
    log.attach(engine)
    start = time.perf_counter()
    try:
        for item in loaded.values():
            check(item, engine)
    except Exception as exc:  # noqa: BLE001 - the checker is work in progress elsewhere
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        log.detach(engine)
        engine.dispose()
    wall = (time.perf_counter() - start) * 1000
    groups: dict[str, list[float]] = {}
    for (statement, _params), ms in zip(log.statements, log.elapsed_ms, strict=False):
        flat = " ".join(statement.split())
        # Collapse expanded IN lists so one query shape is one line.
        key = re.sub(r"(\?|%\([a-z_0-9]+\)s(::\w+)?)(, (\?|%\([a-z_0-9]+\)s(::\w+)?))+", "…", flat)
        groups.setdefault(key, []).append(ms)
    top = sorted(groups.items(), key=lambda kv: -sum(kv[1]))[:5]
    print(
        f"\n   check_ruleset on {len(loaded)} rule sets at {_size_label(size)}: {wall:.0f} ms, "
        f"{len(log.elapsed_ms)} statements, {sum(log.elapsed_ms):.0f} ms in the driver; top:"
    )
    for key, times in top:
        print(f"     {len(times):>4} × {sum(times):>8.1f} ms  {key[:150]}")
    return {
        "wall_ms": wall,
        "statements": len(log.elapsed_ms),
        "driver_ms": sum(log.elapsed_ms),
        "top": [{"sql": k, "calls": len(t), "total_ms": sum(t)} for k, t in top],
    }


def _git_state() -> str:
    """HEAD and whether engine/catalogue code differs from it (others edit concurrently)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "product_rules", "catalog"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes in product_rules/catalog" if dirty else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    loaded, problems = load_all(RULES)
    if problems or "road_bike" not in loaded:
        print(f"rule sets do not load: {problems}", file=sys.stderr)
        return 1
    item: LoadedRuleSet = loaded["road_bike"]
    report: dict[str, Any] = {
        "meta": {
            "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "sizes": args.sizes,
            "repeat": args.repeat,
            "target": {"p95_ms": TARGET_MS, "size": TARGET_SIZE},
            "git": _git_state(),
            "loadavg_at_start": os.getloadavg(),
        },
        "cases": [{"name": c.name, "answers": c.answers, "note": c.note} for c in CASES],
        "results": {},
    }
    verdicts: list[str] = []
    for name in args.backends:
        backend = Backend(name, args.server)
        print(f"\n[{name}] building catalogues", flush=True)
        builds = {size: backend.build(size) for size in args.sizes}
        print(f"[{name}] measuring", flush=True)
        cells = [run_cell(backend, size, builds[size], item.ruleset, args) for size in args.sizes]
        report["results"][name] = cells
        verdicts += print_table(cells)
    print("\n== target: recommendation p95 < 20 ms at 1 M products")
    for line in verdicts:
        print(f"   {line}")
    report["verdicts"] = verdicts
    if not args.no_profile:
        report["profile"] = run_profile(args, item.ruleset, report)
    if "postgres" in args.backends and not args.keep_postgres:
        for size in args.sizes:
            drop_postgres(args.server, size)
        print("\ndropped the PostgreSQL bench databases (--keep-postgres keeps them)")
    report["meta"]["total_s"] = time.perf_counter() - started
    print(f"\ntotal {report['meta']['total_s']:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, default=str))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
