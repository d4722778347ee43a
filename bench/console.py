"""Staff console benchmark: an answer changed, the offers and the expert view recomputed.

Run ``.venv/bin/python bench/console.py [--sizes demo 100000] [--rounds 10]
[--time-limit 180] [--out FILE]``.

The console's hot path, without Rasa or HTTP: ``AssistedAdvisor.answer(state, question,
value=...)`` followed by ``AssistedAdvisor.evaluate(state)`` (the questionnaire with
progressive options, the offers, and the expert view: candidates, exclusions, lock
violations). Each round plays one fixed sequence of answer changes on a road-bike
session from an empty start: the answers filled in one by one (open choice questions get
progressive options), then changed (budget up and down, height, usage, experience,
inseam, shoes, a budget too low), then a pinned bike with locked pedals and changes
under that lock.

Baseline, measured in the same run and interleaved step by step (the order alternates
by round): the plain ``engine.recommend(answers)`` for the same answers, which is what
the chat pays for one offers turn. The report prints p50/p95/p99/max of both, their
ratio, and the target (console p95 <= 50 ms at 100 k products).

Catalogues: ``demo`` is the demo catalogue built into a temporary SQLite file; a number
is a synthetic catalogue of that many products (``bench/catalog_gen.py``), kept in
``var/bench/`` and shared with ``bench/recommend.py``. Figures, never assertions: the
exit code is 1 only when an evaluation failed (catalogue unreadable, no recommendation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _stats import ratio, summary
from catalog_gen import build_sqlite
from sqlalchemy import Engine, event

from advisor.assisted import AssistedAdvisor, Evaluation
from advisor.service import Advisor
from advisor.state import ConversationState
from catalog.db import make_engine
from catalog.demo import build_demo_database
from product_rules.registry import RuleRegistry, ServedRuleSet

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "product_rules" / "rules"
BENCH_DIR = REPO / "var" / "bench"
RULESET = "road_bike"

#: The target: answer + evaluate (p95) within this many ms on a 100 k product catalogue.
TARGET_MS = 50.0
TARGET_SIZE = 100_000

# --- the sequence -------------------------------------------------------------------------

#: Requirement whose pick staff replace in the locked steps.
PEDALS = "pedals_for_bike_without"


@dataclass(frozen=True, slots=True)
class Step:
    """One change staff make; ``lock`` pins the first offered bike and locks other pedals."""

    name: str
    question: str = ""
    value: Any = None
    lock: bool = False


#: Every round starts from an empty session: staff first fill in a beginner's answers in
#: the order the customer gives them (choice questions still open get progressive
#: options), then change them.
STEPS: tuple[Step, ...] = (
    Step("fill: budget 1500", "budget", 1500),
    Step("fill: height 182", "body_height_cm", 182),
    Step("fill: usage endurance", "usage", "endurance"),
    Step("fill: experience beginner", "experience", "beginner"),
    Step("fill: shoes none", "shoes_owned", "none"),
    Step("budget up 4000", "budget", 4000),
    Step("budget down 900", "budget", 900),
    Step("height 165", "body_height_cm", 165),
    Step("height 195", "body_height_cm", 195),
    Step("usage racing", "usage", "racing"),
    Step("experience racer", "experience", "racer"),
    Step("inseam 84", "inseam_cm", 84),
    Step("shoes look_keo", "shoes_owned", "look_keo"),
    Step("budget 2500", "budget", 2500),
    Step("shoes spd_sl", "shoes_owned", "spd_sl"),
    Step("usage commute", "usage", "commute"),
    Step("experience intermediate", "experience", "intermediate"),
    Step("shoes spd", "shoes_owned", "spd"),
    Step("budget 300 (relaxes)", "budget", 300),
    Step("budget 1800", "budget", 1800),
    Step("height 178", "body_height_cm", 178),
    Step("pin bike + lock pedals", lock=True),
    Step("locked: budget 2200", "budget", 2200),
    Step("locked: shoes spd_sl", "shoes_owned", "spd_sl"),
    Step("locked: height 170", "body_height_cm", 170),
)

# --- the machine --------------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / _CLOCK_TICKS  # minus idle, iowait


@dataclass(slots=True)
class OthersBusy:
    """Share of the machine used by processes other than this one, between start and stop."""

    wall: float = field(default_factory=time.monotonic)
    machine: float = field(default_factory=machine_busy_seconds)
    own: float = field(default_factory=time.process_time)

    def percent(self) -> float:
        wall = max(time.monotonic() - self.wall, 1e-9)
        used = machine_busy_seconds() - self.machine - (time.process_time() - self.own)
        return max(0.0, 100 * used / (wall * (os.cpu_count() or 1)))


def wait_quiet(seconds: float, threshold: float = 10.0) -> float:
    """Wait up to ``seconds`` until other processes use under ``threshold`` % of the machine."""
    end = time.monotonic() + seconds
    while True:
        probe = OthersBusy()
        time.sleep(3.0)
        share = probe.percent()
        if share < threshold or time.monotonic() >= end:
            return share
        print(f"  …other processes use {share:.0f}% of the machine; waiting for quiet", flush=True)
        time.sleep(min(10.0, max(0.0, end - time.monotonic())))


# --- measuring ----------------------------------------------------------------------------


class StatementCount:
    """Counts the SQL statements an engine sends."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


@dataclass
class StepResult:
    """Timings of one step at one size, and what its last evaluation showed."""

    console_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    console_sql: int = 0
    baseline_sql: int = 0
    shown: dict[str, int] = field(default_factory=dict)
    failed: str = ""


def _count(evaluation: Evaluation, name: str) -> int:
    return len(getattr(evaluation.recommendation, name, None) or [])


def shown(evaluation: Evaluation) -> dict[str, int]:
    """How much the console showed: offers and expert-view rows, options offered."""
    return {
        "offers": _count(evaluation, "offers"),
        "candidates": _count(evaluation, "candidates"),
        "excluded": _count(evaluation, "excluded"),
        "violations": _count(evaluation, "violations"),
        "options": sum(len(v.options) for v in evaluation.questions if not v.answered),
    }


def pick_lock(assisted: AssistedAdvisor, state: ConversationState) -> tuple[str, str] | None:
    """(bike, pedals): the first offered bike with required pedals, and other pedals for it."""
    evaluation = assisted.evaluate(state)
    offers = evaluation.recommendation.offers if evaluation.recommendation else []
    for offer in offers:
        main = next(i["sku"] for i in offer["items"] if i["role"] == "main")
        picked = {i["sku"] for i in offer["items"] if i["category"] == "pedals"}
        if not picked:
            continue  # ships with pedals: the requirement does not apply
        options = assisted.component_options(state, main, PEDALS)
        others = [o for o in options if o["sku"] not in picked]
        choice = next((o for o in others if o["fits"]), others[0] if others else None)
        if choice is not None:
            return main, str(choice["sku"])
    return None


def play_round(
    assisted: AssistedAdvisor,
    served: ServedRuleSet,
    sql: StatementCount,
    lock: tuple[str, str] | None,
    results: dict[str, StepResult] | None,
    *,
    baseline_first: bool,
) -> None:
    """One pass over :data:`STEPS`; timings go into ``results`` (None: a warm-up round)."""
    state = assisted.start(RULESET)
    for step in STEPS:
        if step.lock and lock is None:
            continue  # no bike with required pedals in this catalogue

        def console(state: ConversationState = state, step: Step = step) -> Any:
            if step.lock:
                assert lock is not None
                new, _ = assisted.lock_component(state, lock[0], PEDALS, lock[1])
            else:
                new, _ = assisted.answer(state, step.question, value=step.value)
            return new, assisted.evaluate(new)

        # The baseline gets the answers the console evaluates (worked out untimed; locks
        # do not change answers), without locks: the chat has none.
        answers = dict(state.answers)
        if not step.lock:
            answers = dict(assisted.answer(state, step.question, value=step.value)[0].answers)
        calls: dict[str, Callable[[], Any]] = {
            "console": console,
            "baseline": lambda answers=answers: served.engine.recommend(answers),
        }
        timed: dict[str, tuple[float, int, Any]] = {}
        for kind in sorted(calls, reverse=not baseline_first):  # alternate who goes first
            before_sql = sql.count
            start = time.perf_counter()
            out = calls[kind]()
            timed[kind] = ((time.perf_counter() - start) * 1000, sql.count - before_sql, out)
        state, evaluation = timed["console"][2]
        if results is None:
            continue
        res = results.setdefault(step.name, StepResult())
        res.console_ms.append(timed["console"][0])
        res.baseline_ms.append(timed["baseline"][0])
        res.console_sql, res.baseline_sql = timed["console"][1], timed["baseline"][1]
        res.shown = shown(evaluation)
        if evaluation.unavailable or evaluation.recommendation is None:
            res.failed = "catalogue unavailable" if evaluation.unavailable else "no recommendation"


# --- per catalogue ------------------------------------------------------------------------


def size_label(size: int | str) -> str:
    if size == "demo":
        return "demo"
    assert isinstance(size, int)
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if size >= div and size % div == 0:
            return f"{size // div} {unit}"
    return f"{size:,}"


def catalogue_url(size: int | str, tmp: Path) -> tuple[str, dict[str, Any]]:
    """Build (or reuse) the catalogue of ``size``; its URL and how it was built."""
    start = time.perf_counter()
    if size == "demo":
        path = tmp / "demo.db"
        print("  demo: building the demo catalogue in a temporary SQLite file…", flush=True)
        stats = build_demo_database(f"sqlite:///{path}")
        built = time.perf_counter() - start
        print(f"  demo: built in {built:.1f} s", flush=True)
        return f"sqlite:///{path}", {"products": getattr(stats, "products", None), "s": built}
    assert isinstance(size, int)
    path = BENCH_DIR / f"catalog_{size}.db"  # the file bench/recommend.py builds and reuses
    info = build_sqlite(path, size)
    return f"sqlite:///{path}", {"products": size, "s": info.total_s, "reused": info.reused}


def run_size(
    size: int | str, tmp: Path, args: argparse.Namespace, seconds: float
) -> dict[str, Any]:
    """Build, warm up and measure one catalogue for at most ``seconds`` after warm-up."""
    url, build = catalogue_url(size, tmp)
    db = make_engine(url)
    start = time.perf_counter()
    registry = RuleRegistry(RULES, db, publications=False)
    assisted = AssistedAdvisor(Advisor(registry))
    served = registry.get(RULESET)
    sql = StatementCount(db)
    loaded = time.perf_counter() - start
    print(f"  {size_label(size)}: rule sets loaded in {loaded:.1f} s", flush=True)
    state = assisted.start(RULESET)
    for step in STEPS:  # the state in which the lock step runs
        if step.lock:
            break
        state, _ = assisted.answer(state, step.question, value=step.value)
    lock = pick_lock(assisted, state)
    for i in range(args.warmup):
        play_round(assisted, served, sql, lock, None, baseline_first=bool(i % 2))
    results: dict[str, StepResult] = {}
    busy = OthersBusy()
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < args.rounds and (rounds == 0 or time.perf_counter() < deadline):
        play_round(assisted, served, sql, lock, results, baseline_first=bool(rounds % 2))
        rounds += 1
        print(f"  {size_label(size)}: round {rounds}/{args.rounds} done", flush=True)
    others = busy.percent()
    db.dispose()
    console = [ms for r in results.values() for ms in r.console_ms]
    baseline = [ms for r in results.values() for ms in r.baseline_ms]
    cell = {
        "size": size,
        "build": build,
        "rounds": rounds,
        "lock": {"bike": lock[0], "pedals": lock[1]} if lock else None,
        "console": summary(console),
        "baseline": summary(baseline),
        "others_busy_percent": round(others, 1),
        "steps": {
            name: {
                "console": summary(r.console_ms),
                "baseline": summary(r.baseline_ms),
                "console_sql": r.console_sql,
                "baseline_sql": r.baseline_sql,
                "shown": r.shown,
                "failed": r.failed,
            }
            for name, r in results.items()
        },
    }
    c, b = cell["console"], cell["baseline"]
    print(
        f"  {size_label(size)}: console p50 {c['p50']:.1f} ms, p95 {c['p95']:.1f} ms; "
        f"recommend p50 {b['p50']:.1f} ms ({rounds} rounds, others busy {others:.0f}%)",
        flush=True,
    )
    return cell


# --- reporting ----------------------------------------------------------------------------


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_report(cells: list[dict[str, Any]]) -> list[str]:
    """The tables; returns the verdict line."""
    print(
        "\n== staff console: answer + evaluate (offers, expert view, options) vs the chat's "
        "recommend() for the same answers, ms"
    )
    head = (
        f"{'catalogue':>9} {'rounds':>6} {'n':>4} │ {'console p50':>11} {'p95':>7} {'p99':>7} "
        f"{'max':>7} │ {'recommend p50':>13} {'p95':>7} {'max':>7} │ {'× p50':>6} {'× p95':>6} "
        f"{'others':>6}"
    )
    print(head)
    print("─" * len(head))
    for cell in cells:
        c, b = cell["console"], cell["baseline"]
        print(
            f"{size_label(cell['size']):>9} {cell['rounds']:>6} {c['n']:>4} │ {_f(c['p50']):>11} "
            f"{_f(c['p95']):>7} {_f(c['p99']):>7} {_f(c['max']):>7} │ {_f(b['p50']):>13} "
            f"{_f(b['p95']):>7} {_f(b['max']):>7} │ {ratio(c['p50'], b['p50']):>6} "
            f"{ratio(c['p95'], b['p95']):>6} {cell['others_busy_percent']:>5.0f}%"
        )
    print(
        "   × = console / recommend in this run; others = CPU used by other processes while "
        "measuring, % of the machine (high: rerun with --wait-quiet)"
    )
    last = cells[-1]
    print(
        f"\n   per step at {size_label(last['size'])} (p50 ms; SQL statements and what the "
        "console showed, last round):"
    )
    print(
        f"     {'step':<26} {'console':>8} {'SQL':>4} {'recommend':>9} {'SQL':>4} {'×':>6} │ "
        f"{'offers':>6} {'cand.':>5} {'excl.':>5} {'viol.':>5} {'options':>7}"
    )
    for name, step in last["steps"].items():
        shown = step["shown"]
        print(
            f"     {name:<26} {_f(step['console']['p50']):>8} {step['console_sql']:>4} "
            f"{_f(step['baseline']['p50']):>9} {step['baseline_sql']:>4} "
            f"{ratio(step['console']['p50'], step['baseline']['p50']):>6} │ "
            f"{shown.get('offers', 0):>6} {shown.get('candidates', 0):>5} "
            f"{shown.get('excluded', 0):>5} {shown.get('violations', 0):>5} "
            f"{shown.get('options', 0):>7}"
            + (f"  FAILED: {step['failed']}" if step["failed"] else "")
        )
    if last["lock"]:
        print(f"   lock: bike {last['lock']['bike']}, pedals {last['lock']['pedals']}")
    else:
        print("   lock steps skipped: no offered bike with required pedals")
    at_target = next((c for c in cells if c["size"] == TARGET_SIZE), None)
    if at_target is None:
        verdict = f"target not measured (no {size_label(TARGET_SIZE)} catalogue in --sizes)"
    else:
        p95 = at_target["console"]["p95"]
        met = "MET" if p95 is not None and p95 <= TARGET_MS else "NOT MET"
        verdict = (
            f"console p95 at {size_label(TARGET_SIZE)} = {_f(p95)} ms "
            f"(target <= {TARGET_MS:g} ms): {met}"
        )
    print(f"\n== target: answer + evaluate p95 <= {TARGET_MS:g} ms at {size_label(TARGET_SIZE)}")
    print(f"   {verdict}")
    return [verdict]


def _git(*argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def _git_state() -> str:
    """HEAD and whether the engine, advisor or catalogue differ from it."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "product_rules", "advisor", "catalog")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes in product_rules/advisor/catalog" if dirty else "")


# --- main ---------------------------------------------------------------------------------


def _size(text: str) -> int | str:
    if text == "demo":
        return text
    try:
        size = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: 'demo' or a product count") from None
    if not 1_000 <= size <= 5_000_000:
        raise argparse.ArgumentTypeError("product counts from 1,000 to 5,000,000")
    return size


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=_size, nargs="+", default=["demo", TARGET_SIZE], help="demo or N"
    )
    parser.add_argument("--rounds", type=int, default=10, help="measured rounds per catalogue")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=180.0,
        help="seconds of measuring, shared by the catalogues (each gets at least one round)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="seconds to wait, before measuring, until other processes leave the CPUs idle",
    )
    parser.add_argument("--out", type=Path, help="write all results as JSON")
    args = parser.parse_args(argv)
    if not (1 <= args.rounds <= 100 and 0 <= args.warmup <= 10):
        parser.error("--rounds from 1 to 100, --warmup from 0 to 10")
    if not (10 <= args.time_limit <= 3600 and 0 <= args.wait_quiet <= 1800):
        parser.error("--time-limit from 10 to 3600 s, --wait-quiet at most 1800 s")
    args.sizes = list(dict.fromkeys(args.sizes))  # in the order given, each once
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    if args.wait_quiet > 0:
        print(f"waiting up to {args.wait_quiet:.0f} s for a quiet machine…", flush=True)
        wait_quiet(args.wait_quiet)
    deadline = time.perf_counter() + args.time_limit
    cells: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        for i, size in enumerate(args.sizes):
            print(f"\n[{size_label(size)}]", flush=True)
            share = max(0.0, deadline - time.perf_counter()) / (len(args.sizes) - i)
            cells.append(run_size(size, Path(tmp), args, share))
    verdicts = print_report(cells)
    failed = [(c["size"], n) for c in cells for n, s in c["steps"].items() if s["failed"]]
    for size, name in failed:
        print(f"   ! {size_label(size)}: step {name!r} failed", file=sys.stderr)
    total = time.perf_counter() - began
    print(f"\ntotal {total:.0f} s")
    if args.out:
        report = {
            "meta": {
                "python": platform.python_version(),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                "git": _git_state(),
                "rounds": args.rounds,
                "warmup": args.warmup,
                "target": {"p95_ms": TARGET_MS, "size": TARGET_SIZE},
                "loadavg_at_end": os.getloadavg(),
                "total_s": round(total, 1),
                "steps": [s.name for s in STEPS],
            },
            "results": cells,
            "verdicts": verdicts,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
