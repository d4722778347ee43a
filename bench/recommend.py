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
import importlib
import importlib.util
import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy
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


def _a(usage: str, experience: str, budget: float | None, height: float | None,
       shoes: str, inseam: float | None = None) -> dict[str, Any]:  # fmt: skip
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
# 200 to 20 000 and every cross-sell rule; the "relax" cases cannot be met as asked.
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
    ),  # fmt: skip
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
    Case(
        "relax-racer-800-look-small", _a("racing", "racer", 800, 152, "look_keo", 71), "relax"
    ),  # fmt: skip
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
    ),  # fmt: skip
)

# --- measuring ---------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by linear interpolation between closest ranks."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in ms of samples given in ms."""
    return {
        "n": len(samples),
        "p50": percentile(samples, 0.50),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
        "max": max(samples) if samples else float("nan"),
        "mean": sum(samples) / len(samples) if samples else float("nan"),
    }


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
    _start: float = 0.0

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def detach(self, engine: Engine) -> None:
        event.remove(engine, "before_cursor_execute", self._before)
        event.remove(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.count, self.db_s = 0, 0.0
        self.statements = []

    def _before(self, _c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        self._start = time.perf_counter()
        if self.keep:
            self.statements.append((statement, params))

    def _after(self, *_: Any) -> None:
        self.count += 1
        self.db_s += time.perf_counter() - self._start


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
            path = Path(str(engine.url.database))
            wal = Path(f"{path}-wal")
            return {"database": path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)}
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT pg_database_size(current_database()),"
                    " pg_total_relation_size('product'), pg_relation_size('product'),"
                    " pg_indexes_size('product')"
                )
            ).one()
        return {"database": row[0], "product_total": row[1], "product_heap": row[2],
                "product_indexes": row[3]}  # fmt: skip

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
    deadline = time.perf_counter() + args.cell_seconds
    start = time.perf_counter()
    cases, rounds = measure_recommend(advice, log, args.repeat, deadline)
    rec_s = time.perf_counter() - start
    samples = [ms for res in cases.values() for ms in res.ms]
    options, option_statements = measure_options(advice, log, args.repeat, deadline + 30)
    log.detach(engine)
    rules = measure_rules(engine, min(args.repeat, 5))
    cell = {
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


def _ratio(value: float, base: float) -> str:
    return f"{value / base:,.1f}×" if base > 0 else "-"


def print_table(cells: list[dict[str, Any]]) -> list[str]:
    """The per-backend table; returns the target verdict lines."""
    if not cells:
        return []
    backend = cells[0]["backend"]
    base = cells[0]
    print(f"\n== {backend}: {cells[0]['version']}")
    print(
        f"   recommend() over {len(CASES)} answer sets × rounds (warm-up excluded); "
        f"growth × = p95 / p95 at {_size_label(base['size'])} (same run)"
    )
    head = (
        f"{'size':>6} {'build':>8} {'db size':>10} {'rounds':>6} │ {'p50':>7} {'p95':>7} "
        f"{'p99':>7} {'max':>7} {'growth×':>8} {'relax p95':>9} {'SQL/rec':>7} {'db%':>4} │ "
        f"{'opts p95':>8} {'growth×':>7} │ {'load_all':>8} {'check':>8}"
    )
    print(head)
    print("─" * len(head))
    for cell in cells:
        rec, opt = cell["recommend"], cell["options"]
        build = cell["build"]
        built = f"{build['total_s']:.1f} s" + ("*" if build["reused"] else "")
        check = cell["rules"]["check_ruleset"]
        check_s = f"{check['p50']:.1f}" if check else "n/a"
        print(
            f"{_size_label(cell['size']):>6} {built:>8} {_mb(cell['disk_bytes']['database']):>10} "
            f"{cell['rounds']:>6} │ {rec['p50']:>7.1f} {rec['p95']:>7.1f} {rec['p99']:>7.1f} "
            f"{rec['max']:>7.1f} {_ratio(rec['p95'], base['recommend']['p95']):>8} "
            f"{cell['recommend_relax']['p95']:>9.1f} {cell['statements_per_recommend']:>7.1f} "
            f"{cell['db_share'] * 100:>3.0f}% │ {opt['p95']:>8.2f} "
            f"{_ratio(opt['p95'], base['options']['p95']):>7} │ "
            f"{cell['rules']['load_all']['p50']:>8.1f} {check_s:>8}"
        )
    print("   times in ms; build = load + indexes + analyze (* = reused, time of the original "
          "build); db% = share of recommend() wall time inside the driver's execute()")  # fmt: skip
    last = cells[-1]
    print(f"   slowest answer sets at {_size_label(last['size'])} (p50 ms, statements):")
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
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgres"],
                        default=["sqlite", "postgres"])  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds per size")
    parser.add_argument("--cell-seconds", type=float, default=120.0,
                        help="stop adding rounds to one size/backend after this long")  # fmt: skip
    parser.add_argument("--out", type=Path, help="write all results as JSON")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--keep-postgres", action="store_true",
                        help="keep the bench databases for the next run")  # fmt: skip
    parser.add_argument("--no-profile", action="store_true", help="skip step 3")
    args = parser.parse_args(argv)
    if args.repeat < 1 or any(s < 1 or s > 5_000_000 for s in args.sizes):
        parser.error("--repeat >= 1 and sizes within 1 .. 5,000,000")
    args.sizes = sorted(set(args.sizes))
    return args


def run_profile(args: argparse.Namespace, ruleset: Any, report: dict[str, Any]) -> dict[str, Any]:
    return {}


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
