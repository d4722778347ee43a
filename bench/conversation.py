"""Whole-conversation benchmark of the real stack: Rasa server + action server + rule engine.

Run ``.venv/bin/python bench/conversation.py [--conversations N] [--concurrency 1 20]
[--out FILE]``. It builds a demo catalogue in a temporary SQLite file, starts the action
server and Rasa on free 127.0.0.1 ports (tracker store: a temporary SQLite file), drives
scripted shopper conversations over the REST channel until they end in offers, and prints
per-turn latency, throughput, failed conversations, CPU per turn and peak RSS per service,
next to ``/model/parse`` (NLU alone) and the FIELD_NOTES figures of a standard form bot.

``--no-start`` (or ``--rasa-url``) measures a stack that already runs, e.g. ``make run``
(start it with ``RASA_TOKEN=…`` and give the bench the same: ``/status`` wants it).
Only loopback addresses are accepted; request counts and the run time are bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import ipaddress
import json
import os
import platform
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from _stats import summary

from product_rules.offers import offers_in
from web.stack import MODELS, REPO, Stack, action_service, free_port, rasa_service

# --- what the shoppers say ----------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """A scripted path through the road-bike advice; its last turn must bring offers."""

    name: str
    messages: tuple[str, ...]
    #: The page language the widget sends as message metadata.
    language: str = "en"


SCRIPTS: tuple[Script, ...] = (
    Script(
        "beginner-free-text",
        (
            "hi",
            "I want a road bike",
            "mostly long weekend rides",
            "total newbie",
            "about 1.5k",
            "1,82 m",
            "no",
        ),
    ),
    Script(
        "racer-look-keo",
        (
            "I'm looking for a racing bike, budget 4000 euros",
            '/inform{"choice":"racing"}',
            '/inform{"choice":"racer"}',
            "6 foot 1",
            "I have Look Keo cleats",
            # Racers are also asked their inseam (ask_if in questions.yml). A bare "84 cm"
            # is today read as a body height and rejected, so name it.
            "my inseam is 84 cm",
        ),
    ),
    Script(
        "budget-too-low",
        ("road bike please", "fitness", "beginner", "300 euros", "175 cm", "no"),
    ),
    Script(
        "buttons-only",
        (
            "hi",
            '/request_advice{"ruleset":"road_bike"}',
            '/inform{"choice":"commute"}',
            '/inform{"choice":"intermediate"}',
            "2000",
            "170 cm",
            '/inform{"choice":"spd"}',
        ),
    ),
    Script(
        "all-in-one",
        (
            "I'm a beginner looking for a road bike for about 1.5k, I'm 1,82 m",
            "long rides",
            "no cleats",
        ),
    ),
    # The same paths in German, as a shopper on /de/ writes them: German and English
    # per-turn figures are printed side by side.
    Script(
        "de-beginner-free-text",
        (
            "Hallo",
            "ich suche ein Rennrad",
            "meistens lange Touren am Wochenende",
            "totaler Anfänger",
            "so ca. 1.500 €",
            "1,82 m",
            "nein",
        ),
        "de",
    ),
    Script(
        "de-racer-look-keo",
        (
            "Ich suche ein Rennrad für Wettkämpfe, Budget 4000 Euro",
            '/inform{"choice":"racing"}',
            '/inform{"choice":"racer"}',
            "1,85 m",
            "ich habe Look Keo Cleats",
            "Schrittlänge 84",
        ),
        "de",
    ),
    Script(
        "de-budget-too-low",
        ("Rennrad bitte", "Fitness", "Anfänger", "300 Euro", "175 cm", "nein"),
        "de",
    ),
    Script(
        "de-buttons-only",
        (
            "Hallo",
            '/request_advice{"ruleset":"road_bike"}',
            '/inform{"choice":"commute"}',
            '/inform{"choice":"intermediate"}',
            "2000",
            "170 cm",
            '/inform{"choice":"spd"}',
        ),
        "de",
    ),
    Script(
        "de-all-in-one",
        (
            "Ich bin Anfänger und suche ein Rennrad für etwa 1.500 €, ich bin 1,82 m",
            "lange Touren",
            "keine Klickschuhe",
        ),
        "de",
    ),
)

# --- the reference: measured elsewhere, printed beside ours, never mixed with them ---------

# From /work/shared/FIELD_NOTES.md ("Figures of a standard form bot"): a 2-core machine of
# this kind, another run, another (smaller) bot. Not measured by this script.
REFERENCE_LABEL = "from FIELD_NOTES, other machine run, not measured now (standard form bot)"
REFERENCE: dict[str, Any] = {
    "label": REFERENCE_LABEL,
    "levels": {
        "1": {"p50_ms": 75.0, "p95_ms": 130.0, "msg_per_s": 13.3},
        "20": {"p50_ms": 1370.0, "p95_ms": 2500.0, "msg_per_s": 13.9},
    },
    "parse_p50_ms": 18.0,
    "rasa_rss_mb": 1250.0,
}

# --- processes: trees, RSS and CPU from /proc (psutil is not a dependency) -----------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread keeps its own list in /proc)."""
    result: list[int] = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            result.extend(int(p) for p in Path(path).read_text().split())
        except OSError:
            continue  # the thread or process just ended
    return result


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    seen: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in seen or not Path(f"/proc/{pid}").exists():
            continue
        seen.append(pid)
        todo.extend(_children(pid))
    return seen


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # ended, or a zombie (no VmRSS line)


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime


def tree_rss_mb(root: int) -> tuple[float, int]:
    """Sum of VmRSS over the tree (shared pages count once per process) and its size."""
    pids = process_tree(root)
    return sum(_rss_kb(p) for p in pids) / 1024, len(pids)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of the live processes of the tree."""
    return sum(_cpu_seconds(p) for p in process_tree(root))


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine have used since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _CLOCK_TICKS


def cpu_snapshot(roots: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds so far of each service tree, of this script, and of the whole machine."""
    snapshot = {name: tree_cpu_seconds(root) for name, root in roots.items() if root}
    snapshot["bench"] = _cpu_seconds(os.getpid())
    snapshot["machine"] = machine_busy_seconds()
    return snapshot


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two snapshots; ``other`` is what nobody of ours used."""
    delta = {name: after[name] - before[name] for name in before}
    machine = delta.pop("machine")
    # Other processes on the machine (a test run, a training) skew every figure: show it.
    delta["other"] = max(0.0, machine - sum(delta.values()))
    return delta


def wait_quiet(roots: dict[str, int | None], seconds: float, threshold: float = 10.0) -> float:
    """Wait up to ``seconds`` until processes not ours use under ``threshold`` % of the machine.

    Returns the last measured share: this machine is shared, and a training or a test run
    beside the benchmark halves what the servers get.
    """
    end = time.monotonic() + seconds
    while True:
        before = cpu_snapshot(roots)
        time.sleep(3.0)
        other = cpu_delta(before, cpu_snapshot(roots))["other"]
        share = 100 * other / (3.0 * (os.cpu_count() or 1))
        if share < threshold or time.monotonic() >= end:
            return share
        print(f"  …other processes use {share:.0f}% of the machine; waiting for quiet", flush=True)
        time.sleep(min(10.0, max(0.0, end - time.monotonic())))


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def listener_root(port: int) -> int | None:
    """Root of the process group serving TCP ``port`` on this machine, if we can see it.

    Sanic's worker may hold the socket while its manager is the process we want to sum
    from; both share a process group, so we climb while the parent is in the same group.
    """
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(cols[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if links & targets:
            pid = int(proc.name)
            group = _pgid(pid)
            parent = _parent(pid)
            while parent and parent > 1 and _pgid(parent) == group:
                pid, parent = parent, _parent(parent)
            return pid
    return None


class RssSampler:
    """Samples the RSS of each service's process tree in a thread; keeps peaks per phase."""

    def __init__(self, roots: dict[str, int | None], interval: float = 0.25) -> None:
        self.roots = roots
        self.interval = interval
        self.phase = "idle"
        self.peaks: dict[str, dict[str, float]] = {}
        self.procs: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> None:
        """Take one sample now."""
        phase = self.peaks.setdefault(self.phase, {})
        for name, root in self.roots.items():
            if root is None:
                continue
            mb, count = tree_rss_mb(root)
            phase[name] = max(phase.get(name, 0.0), mb)
            self.procs[name] = max(self.procs.get(name, 0), count)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def overall_peak(self, name: str) -> float | None:
        """Peak over all phases for a service, if it was sampled."""
        values = [p[name] for p in self.peaks.values() if name in p]
        return max(values) if values else None


# --- statistics ---------------------------------------------------------------------------


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """Count and p50/p95/p99/max/mean of latencies, in milliseconds."""
    stats = summary([s * 1000 for s in seconds])
    return {
        "n": stats["n"],
        **{
            f"{key}_ms": None if value is None else round(value, 2)
            for key, value in stats.items()
            if key != "n"
        },
    }


# --- talking to Rasa ----------------------------------------------------------------------


def offers_payload(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``custom`` offers payload of a reply, if it has one."""
    found = offers_in(messages)
    return dict(found) if found is not None else None


def reply_text(messages: list[dict[str, Any]]) -> str:
    """All text of a reply, joined on one line."""
    return " | ".join(str(m["text"]).replace("\n", " ") for m in messages if m.get("text"))


@dataclass
class ConversationResult:
    """What happened in one conversation."""

    sender: str
    script: str
    turn_seconds: list[float] = field(default_factory=list)
    ok: bool = False
    error: str | None = None
    last_message: str | None = None
    last_reply: str = ""
    aborted: bool = False


class Deadline:
    """An overall time limit shared by every phase of the run."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.end - time.monotonic())


async def converse(
    client: httpx.AsyncClient, rasa_url: str, script: Script, result: ConversationResult
) -> ConversationResult:
    """Play one script into ``result``; it succeeds if its last reply carries offers."""
    reply: list[dict[str, Any]] = []
    try:
        for message in script.messages:
            result.last_message = message
            start = time.perf_counter()
            response = await client.post(
                f"{rasa_url}/webhooks/rest/webhook",
                json={
                    "sender": result.sender,
                    "message": message,
                    "metadata": {"language": script.language},
                },
            )
            response.raise_for_status()
            reply = response.json()
            result.turn_seconds.append(time.perf_counter() - start)
    except asyncio.CancelledError:
        result.aborted = True
        result.error = "aborted: time limit"
        raise
    except (httpx.HTTPError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        return result
    finally:
        result.last_reply = reply_text(reply)[:400]
    result.ok = offers_payload(reply) is not None
    return result


def _client(concurrency: int, timeout: float) -> httpx.AsyncClient:
    # trust_env=False: never route loopback traffic through a proxy from the environment.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False)


async def run_level(
    rasa_url: str,
    concurrency: int,
    conversations: int,
    run_id: str,
    deadline: Deadline,
    request_timeout: float,
) -> tuple[list[ConversationResult], float, int]:
    """``concurrency`` clients play ``conversations`` scripts back to back, without pause.

    Returns the results, the wall time and how many conversations never started.
    """
    queue: asyncio.Queue[tuple[int, Script]] = asyncio.Queue()
    for index in range(conversations):
        queue.put_nowait((index, SCRIPTS[index % len(SCRIPTS)]))
    results: list[ConversationResult] = []

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index, script = queue.get_nowait()
            # Listed before it runs, so a conversation cut by the time limit is reported.
            result = ConversationResult(f"bench-{run_id}-c{concurrency}-{index:04d}", script.name)
            results.append(result)
            await converse(client, rasa_url, script, result)

    async with _client(concurrency, request_timeout) as client:
        start = time.perf_counter()
        tasks = [asyncio.create_task(client_loop(client)) for _ in range(concurrency)]
        try:
            done, pending = await asyncio.wait(tasks, timeout=deadline.left())
        finally:
            # On the time limit or Ctrl-C: stop every client before the HTTP client closes.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # a bug in this script should surface, not vanish in a task
        wall = time.perf_counter() - start
    if pending:
        print(f"  ! time limit reached at concurrency {concurrency}: {len(pending)} clients cut")
    return results, wall, queue.qsize()


async def measure_parse(
    rasa_url: str,
    texts: Sequence[str],
    requests: int,
    deadline: Deadline,
    timeout: float,
    token: str = "",
) -> tuple[list[float], list[str]]:
    """``/model/parse`` latency at concurrency 1 (NLU alone), after a short warm-up.

    ``/model/parse`` is part of Rasa's HTTP API: it wants the stack's token.
    """
    params = {"token": token} if token else None
    seconds: list[float] = []
    errors: list[str] = []
    async with _client(1, timeout) as client:
        for index in range(5 + requests):
            if deadline.left() <= 0:
                errors.append("time limit reached")
                break
            text = texts[index % len(texts)]
            start = time.perf_counter()
            try:
                response = await client.post(
                    f"{rasa_url}/model/parse", json={"text": text}, params=params
                )
                response.raise_for_status()
                response.json()
            except (httpx.HTTPError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if index >= 5:  # the first calls warm caches and are not counted
                seconds.append(time.perf_counter() - start)
    return seconds, errors


async def warm_up(rasa_url: str, run_id: str, timeout: float) -> list[ConversationResult]:
    """One uncounted conversation per script: first calls load models and caches."""
    async with _client(1, timeout) as client:
        return [
            await converse(
                client,
                rasa_url,
                script,
                ConversationResult(f"bench-{run_id}-warmup-{i}", script.name),
            )
            for i, script in enumerate(SCRIPTS)
        ]


# --- the stack ----------------------------------------------------------------------------


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine's loopback interface."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wait_for_model(seconds: float) -> Path | None:
    """The newest trained model, waiting up to ``seconds`` (polling every 30 s) for one."""
    end = time.monotonic() + seconds
    while True:
        models = sorted(MODELS.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if models:
            return models[-1]
        if time.monotonic() >= end:
            return None
        print(f"no trained model in {MODELS} yet; checking again in 30 s…", flush=True)
        time.sleep(min(30.0, max(0.0, end - time.monotonic())))


def build_catalogue(database_url: str) -> None:
    """The demo catalogue in a fresh database."""
    # Imported here: --no-start runs need neither SQLModel nor the catalogue.
    from catalog.demo import build_demo_database

    build_demo_database(database_url)


@contextmanager
def ticker(message: str, every: float = 15.0) -> Iterator[None]:
    """Print a progress line every ``every`` seconds while the block runs."""
    stop = threading.Event()
    start = time.monotonic()

    def tick() -> None:
        while not stop.wait(every):
            print(f"  …{message} ({time.monotonic() - start:.0f} s)", flush=True)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)


LOG_PROBLEM = re.compile(r"Traceback|\bERROR\b|Exception|\bCRITICAL\b|exited with code")


def log_problems(
    path: Path, start: int = 0, end: int | None = None, limit: int = 15
) -> tuple[int, list[str]]:
    """Count lines of a byte range of the server log that look like errors; the first few."""
    try:
        data = path.read_bytes()[start:end]
    except OSError:
        return 0, []
    hits = [line for line in data.decode(errors="replace").splitlines() if LOG_PROBLEM.search(line)]
    return len(hits), hits[:limit]


# --- the run ------------------------------------------------------------------------------


@dataclass
class Options:
    """Command-line options."""

    conversations: int | None
    concurrency: list[int]
    parse_requests: int
    out: Path | None
    start: bool
    rasa_url: str
    action_url: str
    time_limit: float
    request_timeout: float
    start_timeout: float
    wait_model: float
    wait_quiet: float
    server_log: Path


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read and check the command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark whole shopper conversations against the real Rasa stack."
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=None,
        help="conversations per concurrency level (default: max(20, 3 × concurrency))",
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--parse-requests", type=int, default=60, help="/model/parse calls")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--no-start", action="store_true", help="measure a running stack (e.g. `make run`)"
    )
    parser.add_argument(
        "--rasa-url", default=None, help="Rasa of a running stack (implies --no-start)"
    )
    parser.add_argument(
        "--action-url",
        default="http://127.0.0.1:5055",
        help="action server of a running stack, to find its processes (--no-start)",
    )
    parser.add_argument("--time-limit", type=float, default=360.0, help="seconds for all measuring")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--start-timeout", type=float, default=180.0)
    parser.add_argument(
        "--wait-model",
        type=float,
        default=0.0,
        help="seconds to wait for bot/models/*.tar.gz to appear (polled every 30 s)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="seconds to wait, before measuring, until other processes leave the CPUs idle",
    )
    parser.add_argument(
        "--server-log",
        type=Path,
        default=REPO / "bench" / "results" / "conversation-server.log",
        help="where the started servers' output goes",
    )
    args = parser.parse_args(argv)
    start = not (args.no_start or args.rasa_url)
    rasa_url = (args.rasa_url or "http://127.0.0.1:5005").rstrip("/")
    # Bounds: this is a benchmark of our own loopback servers, not a load generator.
    if args.conversations is not None and not 1 <= args.conversations <= 1000:
        parser.error("--conversations must be between 1 and 1000")
    if not all(1 <= c <= 100 for c in args.concurrency):
        parser.error("--concurrency values must be between 1 and 100")
    if not 1 <= args.parse_requests <= 2000:
        parser.error("--parse-requests must be between 1 and 2000")
    if not 10 <= args.time_limit <= 3600:
        parser.error("--time-limit must be between 10 and 3600 seconds")
    if not (0 <= args.wait_model <= 3600 and 0 <= args.wait_quiet <= 1800):
        parser.error("--wait-model is at most 3600 s, --wait-quiet at most 1800 s")
    for url in (rasa_url, args.action_url):
        if not is_loopback_url(url):
            parser.error(f"only loopback addresses may be measured, not {url}")
    return Options(
        conversations=args.conversations,
        concurrency=args.concurrency,
        parse_requests=args.parse_requests,
        out=args.out,
        start=start,
        rasa_url=rasa_url,
        action_url=args.action_url.rstrip("/"),
        time_limit=args.time_limit,
        request_timeout=args.request_timeout,
        start_timeout=args.start_timeout,
        wait_model=args.wait_model,
        wait_quiet=args.wait_quiet,
        server_log=args.server_log,
    )


def level_report(
    concurrency: int,
    results: list[ConversationResult],
    wall: float,
    not_started: int,
    cpu: dict[str, float],
) -> dict[str, Any]:
    """Figures of one concurrency level."""
    turns = [s for r in results for s in r.turn_seconds]
    final = [r.turn_seconds[-1] for r in results if r.ok]
    language_of = {script.name: script.language for script in SCRIPTS}
    by_language = {
        language: latency_summary(
            [s for r in results if language_of.get(r.script) == language for s in r.turn_seconds]
        )
        for language in sorted(set(language_of.values()))
    }
    failed = [r for r in results if not r.ok and not r.aborted]
    aborted = [r for r in results if r.aborted]
    report: dict[str, Any] = {
        "concurrency": concurrency,
        "conversations": len(results) + not_started,
        "completed": sum(r.ok for r in results),
        "failed": len(failed),
        "aborted": len(aborted),
        "not_started": not_started,
        "wall_s": round(wall, 2),
        "turns": len(turns),
        "msg_per_s": round(len(turns) / wall, 2) if wall > 0 else None,
        "turn": latency_summary(turns),
        "offers_turn": latency_summary(final),
        "turn_by_language": by_language,
        "cpu_s": {name: round(value, 2) for name, value in cpu.items()},
        "cpu_ms_per_turn": {
            name: round(1000 * value / len(turns), 1) if turns else None
            for name, value in cpu.items()
        },
        "other_cpu_percent_of_machine": (
            round(100 * cpu["other"] / (wall * (os.cpu_count() or 1)), 1) if wall > 0 else None
        ),
        "failures": [
            {
                "sender": r.sender,
                "script": r.script,
                "turns_done": len(r.turn_seconds),
                "last_message": r.last_message,
                "error": r.error,
                "last_reply": r.last_reply,
            }
            for r in failed + aborted
        ],
    }
    return report


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MB"


def print_report(result: dict[str, Any], out: IO[str] = sys.stdout) -> None:
    """The readable tables."""
    w = out.write
    w("\n== Conversation benchmark ==\n")
    w(
        f"model: {result['model']}   scripts: {len(SCRIPTS)} "
        f"({', '.join(s.name for s in SCRIPTS)})   cpus: {os.cpu_count()}\n"
    )
    w(
        f"stack: {'started by this run' if result['started'] else 'already running'}   "
        f"load average before measuring: {result['machine']['load_average_at_start']}\n\n"
    )

    header = (
        f"{'clients':>7} {'convs':>5} {'ok':>4} {'fail':>4} {'cut':>5} {'turns':>5} "
        f"{'msg/s':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'offers p50':>10} "
        f"{'CPU/turn: rasa':>14} {'actions':>8} {'bench':>6} {'others busy':>11}\n"
    )
    w(
        "Per turn (POST /webhooks/rest/webhook, client side, whole conversations, no pause;\n"
        "cut: stopped or never started by the time limit; CPU/turn from /proc;\n"
        "'others busy': CPU used by processes not ours, in % of the whole machine):\n"
    )
    w(header)
    for level in result["levels"]:
        turn, cpu = level["turn"], level["cpu_ms_per_turn"]
        w(
            f"{level['concurrency']:>7} {level['conversations']:>5} {level['completed']:>4} "
            f"{level['failed']:>4} {level['aborted'] + level['not_started']:>5} "
            f"{level['turns']:>5} {level['msg_per_s'] or 0:>6.1f} {_ms(turn['p50_ms']):>8} "
            f"{_ms(turn['p95_ms']):>8} {_ms(turn['p99_ms']):>8} {_ms(turn['max_ms']):>8} "
            f"{_ms(level['offers_turn']['p50_ms']):>10} "
            f"{_ms(cpu.get('rasa')):>14} {_ms(cpu.get('actions')):>8} "
            f"{_ms(cpu.get('bench')):>6} {level['other_cpu_percent_of_machine'] or 0:>10.0f}%\n"
        )

    w("\nPer turn by language (same run, same scripts in German and English):\n")
    w(f"{'clients':>7} {'en p50':>8} {'en p95':>8} {'de p50':>8} {'de p95':>8} {'de/en p50':>10}\n")
    for level in result["levels"]:
        en, de = (level["turn_by_language"].get(k, {}) for k in ("en", "de"))
        ratio = (
            f"{de['p50_ms'] / en['p50_ms']:.2f}x" if en.get("p50_ms") and de.get("p50_ms") else "-"
        )
        w(
            f"{level['concurrency']:>7} {_ms(en.get('p50_ms')):>8} {_ms(en.get('p95_ms')):>8} "
            f"{_ms(de.get('p50_ms')):>8} {_ms(de.get('p95_ms')):>8} {ratio:>10}\n"
        )

    busy = [lv for lv in result["levels"] if (lv["other_cpu_percent_of_machine"] or 0) > 15]
    for level in busy:
        w(
            f"  ! at {level['concurrency']} clients other processes kept "
            f"{level['other_cpu_percent_of_machine']:.0f}% of the machine busy: "
            "our figures are pessimistic (rerun on a quiet machine, see --wait-quiet)\n"
        )

    parse = result["parse"]
    w(
        f"\n/model/parse (NLU alone), 1 client, {parse['n']} calls: p50 {_ms(parse['p50_ms'])}, "
        f"p95 {_ms(parse['p95_ms'])}, p99 {_ms(parse['p99_ms'])}"
        + (f"  ({len(result['parse_errors'])} errors)" if result["parse_errors"] else "")
        + "\n"
    )
    ratio = result.get("turn_to_parse_ratio")
    if ratio is not None:
        ref = REFERENCE["levels"]["1"]["p50_ms"] / REFERENCE["parse_p50_ms"]
        w(
            f"turn p50 / parse p50 at 1 client: {ratio:.1f}×  "
            f"(reference bot: {ref:.1f}×, {REFERENCE_LABEL})\n"
        )

    w(f"\nReference figures — {REFERENCE_LABEL}:\n")
    w(f"{'clients':>7} {'':>12} {'p50':>9} {'p95':>9} {'msg/s':>7}\n")
    levels = {str(level["concurrency"]): level for level in result["levels"]}
    for key, ref in REFERENCE["levels"].items():
        w(
            f"{key:>7} {'FIELD_NOTES':>12} {_ms(ref['p50_ms']):>9} {_ms(ref['p95_ms']):>9} "
            f"{ref['msg_per_s']:>7.1f}\n"
        )
        if key in levels:
            ours = levels[key]
            w(
                f"{key:>7} {'ours, now':>12} {_ms(ours['turn']['p50_ms']):>9} "
                f"{_ms(ours['turn']['p95_ms']):>9} {ours['msg_per_s'] or 0:>7.1f}\n"
            )
    w(
        f"{'':>7} {'FIELD_NOTES':>12} /model/parse p50 {_ms(REFERENCE['parse_p50_ms'])}, "
        f"Rasa RSS {_mb(REFERENCE['rasa_rss_mb'])}\n"
    )

    rss = result["rss"]
    phases = list(rss["by_phase"])
    w("\nPeak RSS per service (sum of VmRSS over its process tree, sampled every 0.25 s):\n")
    w(f"{'service':<8} {'procs':>5} " + "".join(f"{p:>11}" for p in phases) + f"{'peak':>11}\n")
    for name in ("rasa", "actions"):
        values = [rss["by_phase"][p].get(name) for p in phases]
        w(
            f"{name:<8} {rss['processes'].get(name, '-'):>5} "
            + "".join(f"{_mb(v):>11}" for v in values)
            + f"{_mb(rss['peak'].get(name)):>11}\n"
        )
    if not rss["peak"]:
        w("  (processes not found: RSS not sampled)\n")

    warm = result["warmup"]
    w(
        f"\nwarm-up (uncounted): {warm['conversations']} conversations, {warm['ok']} with offers, "
        f"{warm['seconds']:.1f} s\n"
    )
    failures = [f for level in result["levels"] for f in level["failures"]]
    failures += result["warmup_failures"]
    if failures:
        w(f"\nFailed or aborted conversations ({len(failures)}; first 10):\n")
        for f in failures[:10]:
            w(
                f"  {f['sender']} [{f['script']}] after {f['turns_done']} turns, "
                f"last message {f['last_message']!r}: "
                f"{f['error'] or 'no offers'}\n    last reply: {f['last_reply'] or '(empty)'}\n"
            )
    log = result.get("server_log")
    if log:
        w(
            f"\nserver log: {log['path']} — {log['problem_lines']} error-like lines while "
            f"running, {log['problem_lines_at_shutdown']} at shutdown\n"
        )
        for line in log["first_problems"]:
            w(f"  {line[:240]}\n")
    w(f"\ntotal run time: {result['total_s']:.0f} s\n")
    out.flush()


async def measure(
    opts: Options, rasa_url: str, sampler: RssSampler, deadline: Deadline, token: str = ""
) -> dict[str, Any]:
    """Warm-up, /model/parse baseline, then each concurrency level."""
    run_id = uuid.uuid4().hex[:8]
    print("warming up (one conversation per script, not counted)…", flush=True)
    sampler.phase = "warm-up"
    start = time.perf_counter()
    warm = await asyncio.wait_for(
        warm_up(rasa_url, run_id, opts.request_timeout), timeout=max(1.0, deadline.left())
    )
    warm_s = time.perf_counter() - start
    for r in warm:
        if not r.ok:
            print(f"  ! warm-up {r.script}: {r.error or 'no offers'} — {r.last_reply[:200]}")

    print(f"measuring /model/parse ({opts.parse_requests} calls, 1 client)…", flush=True)
    sampler.phase = "parse"
    texts = [m for s in SCRIPTS for m in s.messages if not m.startswith("/")]
    parse_s, parse_errors = await measure_parse(
        rasa_url, texts, opts.parse_requests, deadline, opts.request_timeout, token
    )

    levels: list[dict[str, Any]] = []
    for concurrency in opts.concurrency:
        count = opts.conversations or max(20, 3 * concurrency)
        if deadline.left() <= 0:
            print(f"  ! no time left for concurrency {concurrency}")
            break
        print(
            f"concurrency {concurrency}: {count} conversations "
            f"({deadline.left():.0f} s of the time limit left)…",
            flush=True,
        )
        sampler.phase = f"c={concurrency}"
        cpu_before = cpu_snapshot(sampler.roots)
        results, wall, not_started = await run_level(
            rasa_url, concurrency, count, run_id, deadline, opts.request_timeout
        )
        cpu = cpu_delta(cpu_before, cpu_snapshot(sampler.roots))
        level = level_report(concurrency, results, wall, not_started, cpu)
        levels.append(level)
        print(
            f"  done in {wall:.1f} s: {level['completed']}/{count} with offers, "
            f"turn p50 {_ms(level['turn']['p50_ms'])}, {level['msg_per_s']} msg/s",
            flush=True,
        )
    sampler.sample()

    parse = latency_summary(parse_s)
    ratio = None
    first = next((lv for lv in levels if lv["concurrency"] == 1), None)
    if first and first["turn"]["p50_ms"] and parse["p50_ms"]:
        ratio = round(first["turn"]["p50_ms"] / parse["p50_ms"], 2)
    return {
        "warmup": {
            "conversations": len(warm),
            "ok": sum(r.ok for r in warm),
            "seconds": round(warm_s, 2),
        },
        "warmup_failures": [
            {
                "sender": r.sender,
                "script": r.script,
                "turns_done": len(r.turn_seconds),
                "last_message": r.last_message,
                "error": r.error,
                "last_reply": r.last_reply,
            }
            for r in warm
            if not r.ok
        ],
        "parse": parse,
        "parse_errors": parse_errors[:10],
        "levels": levels,
        "turn_to_parse_ratio": ratio,
    }


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so the `finally` blocks stop the servers.
    raise KeyboardInterrupt


def run(opts: Options) -> dict[str, Any]:
    """Start the stack if asked, measure, stop what was started; the results."""
    began = time.monotonic()
    model: Path | None = None
    with tempfile.TemporaryDirectory(prefix="bench-conversation-") as tmp:
        base = Path(tmp)
        stack: Stack | None = None
        log_file: IO[str] | None = None
        stop_offset: int | None = None
        try:
            if opts.start:
                model = wait_for_model(opts.wait_model)
                if model is None:
                    raise SystemExit(f"no trained model in {MODELS}: run `make train` first")
                print(f"model: {model.name}", flush=True)
                database_url = f"sqlite:///{base / 'catalog.db'}"
                print("building the demo catalogue in a temporary SQLite file…", flush=True)
                build_catalogue(database_url)
                action_port, rasa_port = free_port(), free_port()
                actions = action_service(action_port, env={"DATABASE_URL": database_url})
                rasa = rasa_service(
                    rasa_port,
                    action_port,
                    env={"TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}"},
                )
                opts.server_log.parent.mkdir(parents=True, exist_ok=True)
                log_file = opts.server_log.open("w", buffering=1)
                stack = Stack([actions, rasa], log=log_file)
                print(
                    f"starting the action server (:{action_port}) and Rasa (:{rasa_port}; "
                    f"model load ~50 s)… server output: {opts.server_log}",
                    flush=True,
                )
                t0 = time.monotonic()
                try:
                    with ticker("still starting"):
                        stack.start(timeout=opts.start_timeout)
                except (RuntimeError, TimeoutError) as exc:
                    _, problems = log_problems(opts.server_log, limit=30)
                    tail = opts.server_log.read_text(errors="replace").splitlines()[-30:]
                    sys.stderr.write("\n".join(["could not start:", str(exc), *problems, *tail]))
                    raise SystemExit(2) from exc
                print(f"stack ready in {time.monotonic() - t0:.0f} s", flush=True)
                rasa_url, token = rasa.url, rasa.token
                roots: dict[str, int | None] = {
                    "rasa": rasa.process.pid if rasa.process else None,
                    "actions": actions.process.pid if actions.process else None,
                }
            else:
                rasa_url = opts.rasa_url
                with httpx.Client(timeout=5, trust_env=False) as client:
                    # /status is part of Rasa's HTTP API, which wants the token
                    # the stack was started with (RASA_TOKEN=… make run).
                    token = os.environ.get("RASA_TOKEN", "")
                    status = client.get(
                        f"{rasa_url}/status", params={"token": token} if token else None
                    )
                    status.raise_for_status()
                    model = Path(str(status.json().get("model_file", "?")))
                roots = {
                    "rasa": listener_root(urlsplit(rasa_url).port or 80),
                    "actions": listener_root(urlsplit(opts.action_url).port or 80),
                }
                print(f"measuring the running stack at {rasa_url} (processes {roots})", flush=True)

            if opts.wait_quiet > 0:
                print(f"waiting up to {opts.wait_quiet:.0f} s for a quiet machine…", flush=True)
                wait_quiet(roots, opts.wait_quiet)
            load_at_start = [round(x, 2) for x in os.getloadavg()]
            deadline = Deadline(opts.time_limit)
            with RssSampler(roots) as sampler:
                time.sleep(0.5)  # an idle sample after start-up, before any traffic
                sampler.sample()
                measured = asyncio.run(measure(opts, rasa_url, sampler, deadline, token))
            peaks = {n: round(v, 1) for n in roots if (v := sampler.overall_peak(n)) is not None}
            result: dict[str, Any] = {
                "started": opts.start,
                "model": model.name if model else None,
                "scripts": {s.name: list(s.messages) for s in SCRIPTS},
                "options": {
                    "conversations": opts.conversations,
                    "concurrency": opts.concurrency,
                    "parse_requests": opts.parse_requests,
                    "time_limit_s": opts.time_limit,
                },
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average_at_start": load_at_start,
                },
                **measured,
                "rss": {
                    "by_phase": {
                        p: {n: round(v, 1) for n, v in d.items()} for p, d in sampler.peaks.items()
                    },
                    "peak": peaks,
                    "processes": sampler.procs,
                },
                "reference": REFERENCE,
            }
        finally:
            if stack is not None:
                if log_file is not None:
                    # Stopping kills Sanic's helper processes first, which prints tracebacks
                    # of its own: keep them apart from what happened while we measured.
                    log_file.flush()
                    stop_offset = log_file.tell()
                print("stopping the servers…", flush=True)
                stack.stop()
            if log_file is not None:
                log_file.close()
    if opts.start:
        count, first = log_problems(opts.server_log, end=stop_offset)
        at_stop, _ = log_problems(opts.server_log, start=stop_offset or 0)
        result["server_log"] = {
            "path": str(opts.server_log),
            "problem_lines": count,
            "first_problems": first,
            "problem_lines_at_shutdown": at_stop,
        }
    result["total_s"] = round(time.monotonic() - began, 1)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse options, run, print, write JSON."""
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        result = run(opts)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130
    print_report(result)
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"JSON written to {opts.out}")
    failed = sum(lv["failed"] + lv["aborted"] for lv in result["levels"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
