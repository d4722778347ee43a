"""Whole-conversation benchmark of the real stack, beside a standard Rasa form bot.

Run ``.venv/bin/python bench/conversation.py [--conversations N] [--concurrency 1 20]
[--out FILE] [--no-baseline]``. It builds a demo catalogue in a temporary SQLite file,
starts our action server and Rasa, and the baseline's (``bench/baseline/``: a standard
Rasa 3.6 form bot for the same road-bike questions, plain ``rasa==3.6.21`` in its own
venv, created and trained here when missing), all on free 127.0.0.1 ports (tracker
stores: temporary SQLite files). It drives scripted shopper conversations over the REST
channel until they end in offers, the two bots taking turns level by level, and prints
per-turn latency, throughput, failed conversations, CPU per turn and peak RSS per
service, ``/model/parse`` (NLU alone), and ours as ratios of the baseline's figures of the
same run against the targets (p50 <= 0.25x, messages/s per Rasa process >= 4x).

``--no-start`` (or ``--rasa-url``) measures a stack of ours that already runs, e.g. ``make
run`` (start it with ``RASA_TOKEN=…`` and give the bench the same: ``/status`` wants it);
the baseline is still started here unless ``--no-baseline``.
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
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from _stats import summary

from product_rules.offers import offers_in
from web.stack import (
    MODELS,
    REPO,
    Service,
    Stack,
    action_service,
    free_port,
    new_rasa_token,
    rasa_service,
    trained_model,
)

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

# The same shoppers for the baseline, a standard Rasa 3.6 form bot (bench/baseline/): the
# same information, adapted to a form that asks usage, experience, budget, height and
# shoes one by one (no inseam question; English only, as the form bot is). Its buttons
# send '/inform{"<slot>":"<value>"}'. A form bot fills one slot per answer, so where
# ours takes several answers from one message the form needs more turns.
BASELINE_SCRIPTS: tuple[Script, ...] = (
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
            '/inform{"usage":"racing"}',
            '/inform{"experience":"racer"}',
            "4000 euros",
            "6 foot 1",
            "I have Look Keo cleats",
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
            "/request_bike",
            '/inform{"usage":"commute"}',
            '/inform{"experience":"intermediate"}',
            "2000",
            "170 cm",
            '/inform{"shoes":"spd"}',
        ),
    ),
    Script(
        "all-in-one",
        (
            "I'm a beginner looking for a road bike for about 1.5k, I'm 1,82 m",
            "long rides",
            "beginner",
            "1.5k",
            "1,82 m",
            "no cleats",
        ),
    ),
)

#: Targets of the issue "Production-grade", ours as a ratio of the baseline, same run.
TARGET_P50_RATIO = 0.25
TARGET_THROUGHPUT_RATIO = 4.0

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
    scripts: Sequence[Script],
    concurrency: int,
    conversations: int,
    run_id: str,
    deadline: Deadline,
    request_timeout: float,
    first: int = 0,
) -> tuple[list[ConversationResult], float, int]:
    """``concurrency`` clients play ``conversations`` scripts back to back, without pause.

    Returns the results, the wall time and how many conversations never started.
    """
    queue: asyncio.Queue[tuple[int, Script]] = asyncio.Queue()
    for index in range(first, first + conversations):
        queue.put_nowait((index, scripts[index % len(scripts)]))
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


async def warm_up(
    rasa_url: str, scripts: Sequence[Script], run_id: str, timeout: float
) -> list[ConversationResult]:
    """One uncounted conversation per script: first calls load models and caches."""
    async with _client(1, timeout) as client:
        return [
            await converse(
                client,
                rasa_url,
                script,
                ConversationResult(f"bench-{run_id}-warmup-{i}", script.name),
            )
            for i, script in enumerate(scripts)
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


# --- the baseline: a standard Rasa 3.6 form bot, installed as its users get it -------------

BASELINE = REPO / "bench" / "baseline"
BASELINE_VENV = BASELINE / ".venv"
BASELINE_MODELS = BASELINE / "models"
#: What its users install: plain `pip install rasa==3.6.21`, no lock or pins of ours.
BASELINE_REQUIREMENT = "rasa==3.6.21"
UV = REPO / ".tools" / "bin" / "uv"
_BASELINE_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    # The same as ours gets (rasa_env): it only hides start-up noise.
    "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::PendingDeprecationWarning",
}


def _run_shown(
    argv: Sequence[Any],
    *,
    cwd: Path = REPO,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> None:
    """Run a command with its output on our terminal (progress); stop if it fails."""
    print(f"  $ {' '.join(str(a) for a in argv)}", flush=True)
    try:
        done = subprocess.run(
            [str(a) for a in argv],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:  # the child is killed by subprocess.run
        raise SystemExit(f"gave up after {timeout:.0f} s: {' '.join(map(str, argv))}") from exc
    if done.returncode != 0:
        raise SystemExit(f"failed (exit code {done.returncode}): {' '.join(map(str, argv))}")


def ensure_baseline_env() -> Path:
    """The baseline's own venv (``bench/baseline/.venv``), created when missing; its Python."""
    python = BASELINE_VENV / "bin" / "python"
    stamp = BASELINE_VENV / ".installed"
    if stamp.exists() and python.exists():
        return python
    print(
        f"baseline: creating {BASELINE_VENV.relative_to(REPO)} with plain "
        f"`{BASELINE_REQUIREMENT}` (Python 3.10, uv; about a minute)…",
        flush=True,
    )
    if not UV.exists():
        raise SystemExit(f"{UV} is missing: run `make install` first")
    found = subprocess.run(
        [str(REPO / "scripts" / "find-python310.sh")],
        env={**os.environ, "UV": str(UV)},
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise SystemExit(found.stderr.strip() or "no Python 3.10 found")
    _run_shown(
        [
            UV,
            "venv",
            "--no-project",
            "--allow-existing",
            "--python",
            found.stdout.strip(),
            BASELINE_VENV,
        ]
    )
    _run_shown([UV, "pip", "install", "--python", python, BASELINE_REQUIREMENT])
    stamp.touch()
    return python


def _baseline_inputs() -> list[Path]:
    return [
        BASELINE / "config.yml",
        BASELINE / "domain.yml",
        *sorted((BASELINE / "data").glob("*.yml")),
    ]


def ensure_baseline_model() -> Path:
    """The baseline's model, trained (``rasa train``, its default config) when missing or stale."""
    newest_input = max(p.stat().st_mtime for p in _baseline_inputs())
    model = trained_model(BASELINE_MODELS)
    if model is not None and model.stat().st_mtime >= newest_input:
        return model
    print(
        "baseline: training its model (`rasa train`, Rasa's default pipeline and policies: "
        "DIET, TED and UnexpecTED 100 epochs each; a few minutes on 2 cores)…",
        flush=True,
    )
    start = time.monotonic()
    _run_shown(
        [BASELINE_VENV / "bin" / "rasa", "train", "--out", "models"],
        cwd=BASELINE,
        env=_BASELINE_ENV,
        timeout=3600.0,
    )
    model = trained_model(BASELINE_MODELS)
    if model is None:
        raise SystemExit("baseline: `rasa train` wrote no model")
    print(f"baseline: trained {model.name} in {time.monotonic() - start:.0f} s", flush=True)
    return model


def baseline_services(tmp: Path, catalogue: Path) -> tuple[Service, Service]:
    """The baseline's action server and Rasa on free 127.0.0.1 ports, run in its folder."""
    python = BASELINE_VENV / "bin" / "python"
    action_port, rasa_port = free_port(), free_port()
    # `env --chdir`: a Rasa project runs from its folder (its `actions` package, its
    # models/, endpoints.yml); env execs the command, so the PID stays the server's.
    chdir = ["env", f"--chdir={BASELINE}"]
    actions = Service(
        "base-actions",
        [*chdir, str(python), "-m", "rasa_sdk", "--actions", "actions", "-p", str(action_port)],
        action_port,
        "/health",
        {**_BASELINE_ENV, "SANIC_HOST": "127.0.0.1", "CATALOGUE_DB": str(catalogue)},
    )
    token = new_rasa_token()
    rasa = Service(
        "base-rasa",
        [
            *chdir,
            str(BASELINE_VENV / "bin" / "rasa"),
            "run",
            "--enable-api",
            f"--auth-token={token}",
            "-i",
            "127.0.0.1",
            "-p",
            str(rasa_port),
            "--model",
            "models",
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
        ],
        rasa_port,
        f"/status?token={token}",
        {
            **_BASELINE_ENV,
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
            "BASELINE_TRACKER_DB": str(tmp / "baseline-tracker.db"),
        },
        ready=lambda r: r.status_code == 200 and bool(r.json().get("model_id")),
        token=token,
    )
    return actions, rasa


@dataclass
class Target:
    """One bot under measurement: where it listens, what its shoppers say, its processes."""

    name: str
    rasa_url: str
    token: str
    scripts: Sequence[Script]
    #: Keys of its Rasa and action-server trees in the sampler's roots.
    rasa_key: str
    actions_key: str

    def own_cpu(self, cpu: dict[str, float]) -> dict[str, float]:
        """CPU of a level as its own services, the bench, the idle other bot, and others."""
        own = {"rasa": cpu.get(self.rasa_key, 0.0), "actions": cpu.get(self.actions_key, 0.0)}
        mine = {self.rasa_key, self.actions_key, "bench", "other"}
        idle = sum(v for k, v in cpu.items() if k not in mine)
        return {**own, "bench": cpu["bench"], "other_bot": idle, "other": cpu["other"]}


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
    baseline: bool = True
    rounds: int = 3


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
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=300.0,
        help="seconds for the servers to start (two Rasa servers load their models at once)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="split each level into this many rounds, the bots taking turns (default 3)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="do not run the standard form bot of bench/baseline beside ours",
    )
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
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
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
        baseline=not args.no_baseline,
        rounds=args.rounds,
    )


def level_report(
    concurrency: int,
    results: list[ConversationResult],
    wall: float,
    not_started: int,
    cpu: dict[str, float],
    scripts: Sequence[Script] = SCRIPTS,
) -> dict[str, Any]:
    """Figures of one concurrency level; ``cpu`` as :func:`Target.own_cpu` gives it."""
    turns = [s for r in results for s in r.turn_seconds]
    final = [r.turn_seconds[-1] for r in results if r.ok]
    language_of = {script.name: script.language for script in scripts}
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


def _turn_table(w: Callable[[str], object], levels: list[dict[str, Any]]) -> None:
    w(
        f"{'clients':>7} {'convs':>5} {'ok':>4} {'fail':>4} {'cut':>5} {'turns':>5} "
        f"{'msg/s':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'offers p50':>10} "
        f"{'CPU/turn: rasa':>14} {'actions':>8} {'bench':>6} {'others busy':>11}\n"
    )
    for level in levels:
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


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def print_report(result: dict[str, Any], out: IO[str] = sys.stdout) -> None:
    """The readable tables."""
    w = out.write
    baseline = result.get("baseline")
    w("\n== Conversation benchmark ==\n")
    w(
        f"ours: model {result['model']}   scripts: {len(SCRIPTS)} "
        f"({', '.join(s.name for s in SCRIPTS)})   cpus: {os.cpu_count()}\n"
    )
    if baseline:
        versions = ", ".join(f"{k} {v}" for k, v in baseline["versions"].items())
        w(
            f"baseline: {baseline['what']}\n  model {baseline['model']}   "
            f"scripts: {len(BASELINE_SCRIPTS)} (the English paths, adapted to its form)   "
            f"installed: {versions}\n"
        )
    w(
        f"stack: {'started by this run' if result['started'] else 'already running'}   "
        f"load average before measuring: {result['machine']['load_average_at_start']}\n\n"
    )

    w(
        "Per turn (POST /webhooks/rest/webhook, client side, whole conversations, no pause;\n"
        "cut: stopped or never started by the time limit; CPU/turn from /proc;\n"
        "'others busy': CPU used by processes not ours, in % of the whole machine):\n"
    )
    w("ours:\n")
    _turn_table(w, result["levels"])
    if baseline:
        w("baseline (standard form bot, same run; the two bots took turns, round by round):\n")
        _turn_table(w, baseline["levels"])

    w("\nOurs per turn by language (same run, same scripts in German and English):\n")
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

    all_levels = [("ours", lv) for lv in result["levels"]]
    all_levels += [("baseline", lv) for lv in (baseline or {}).get("levels", [])]
    for who, level in all_levels:
        if (level["other_cpu_percent_of_machine"] or 0) > 15:
            w(
                f"  ! {who} at {level['concurrency']} clients: other processes kept "
                f"{level['other_cpu_percent_of_machine']:.0f}% of the machine busy: "
                "figures are pessimistic (rerun on a quiet machine, see --wait-quiet)\n"
            )

    w("\n/model/parse (NLU alone), 1 client:\n")
    for who, measured in [("ours", result), ("baseline", baseline)]:
        if not measured:
            continue
        parse = measured["parse"]
        errors = measured["parse_errors"]
        ratio = measured.get("turn_to_parse_ratio")
        w(
            f"  {who:<8} {parse['n']} calls: p50 {_ms(parse['p50_ms'])}, "
            f"p95 {_ms(parse['p95_ms'])}, p99 {_ms(parse['p99_ms'])}"
            + (f"; turn p50 / parse p50 at 1 client: {ratio:.1f}×" if ratio else "")
            + (f"  ({len(errors)} errors)" if errors else "")
            + "\n"
        )

    comparison = result.get("comparison")
    if comparison:
        w(
            "\nOurs as a ratio of the baseline, measured in the same run "
            f"(targets: p50 ≤ {TARGET_P50_RATIO}×, msg/s per Rasa process ≥ "
            f"{TARGET_THROUGHPUT_RATIO:g}×; one Rasa process each):\n"
        )
        w(
            f"{'clients':>7} {'p50':>7} {'p95':>7} {'p50 en':>7} {'msg/s':>7} "
            f"{'rasa CPU':>9} {'act. CPU':>9}   targets\n"
        )
        for row in comparison["levels"]:
            verdict = (
                f"p50 {'met' if row['p50_target_met'] else 'NOT met'}, "
                f"throughput {'met' if row['throughput_target_met'] else 'NOT met'}"
            )
            w(
                f"{row['concurrency']:>7} {_x(row['p50']):>7} {_x(row['p95']):>7} "
                f"{_x(row['p50_english_only']):>7} {_x(row['msg_per_s_per_rasa_process']):>7} "
                f"{_x(row['rasa_cpu_per_turn']):>9} {_x(row['actions_cpu_per_turn']):>9}   "
                f"{verdict}\n"
            )
        w(
            f"  /model/parse p50: {_x(comparison['parse_p50'])}   (p50 en: our English turns "
            "only; CPU: per turn, of the Rasa / action-server process trees)\n"
        )

    rss = result["rss"]
    phases = list(rss["by_phase"])
    w("\nPeak RSS per service (sum of VmRSS over its process tree, sampled every 0.25 s):\n")
    w(f"{'service':<16} {'procs':>5} " + "".join(f"{p:>9}" for p in phases) + f"{'peak':>9}\n")
    for name in ("rasa", "actions", "baseline_rasa", "baseline_actions"):
        if name not in rss["processes"]:
            continue
        values = [rss["by_phase"][p].get(name) for p in phases]
        w(
            f"{name:<16} {rss['processes'].get(name, '-'):>5} "
            + "".join(f"{_mb(v):>9}" for v in values)
            + f"{_mb(rss['peak'].get(name)):>9}\n"
        )
    if not rss["peak"]:
        w("  (processes not found: RSS not sampled)\n")

    for who, measured in [("ours", result), ("baseline", baseline)]:
        if not measured:
            continue
        warm = measured["warmup"]
        w(
            f"\n{who} warm-up (uncounted): {warm['conversations']} conversations, "
            f"{warm['ok']} with offers, {warm['seconds']:.1f} s"
        )
    w("\n")
    failures = [("ours", f) for lv in result["levels"] for f in lv["failures"]]
    failures += [("ours", f) for f in result["warmup_failures"]]
    if baseline:
        failures += [("baseline", f) for lv in baseline["levels"] for f in lv["failures"]]
        failures += [("baseline", f) for f in baseline["warmup_failures"]]
    if failures:
        w(f"\nFailed or aborted conversations ({len(failures)}; first 10):\n")
        for who, f in failures[:10]:
            w(
                f"  {who}: {f['sender']} [{f['script']}] after {f['turns_done']} turns, "
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


def _failure(r: ConversationResult) -> dict[str, Any]:
    return {
        "sender": r.sender,
        "script": r.script,
        "turns_done": len(r.turn_seconds),
        "last_message": r.last_message,
        "error": r.error,
        "last_reply": r.last_reply,
    }


async def measure(
    opts: Options, targets: Sequence[Target], sampler: RssSampler, deadline: Deadline
) -> dict[str, dict[str, Any]]:
    """Warm-up, /model/parse, then each concurrency level, for every target in turn.

    The targets take turns at each step (who goes first alternates by level), so a
    change in the machine's load during the run falls on both.
    """
    run_id = uuid.uuid4().hex[:8]
    found: dict[str, dict[str, Any]] = {t.name: {"levels": []} for t in targets}
    for target in targets:
        print(f"[{target.name}] warming up (one conversation per script, not counted)…", flush=True)
        sampler.phase = "warm-up"
        start = time.perf_counter()
        warm = await asyncio.wait_for(
            warm_up(target.rasa_url, target.scripts, run_id, opts.request_timeout),
            timeout=max(1.0, deadline.left()),
        )
        for r in warm:
            if not r.ok:
                print(f"  ! warm-up {r.script}: {r.error or 'no offers'} — {r.last_reply[:200]}")
        found[target.name]["warmup"] = {
            "conversations": len(warm),
            "ok": sum(r.ok for r in warm),
            "seconds": round(time.perf_counter() - start, 2),
        }
        found[target.name]["warmup_failures"] = [_failure(r) for r in warm if not r.ok]

    for target in targets:
        print(
            f"[{target.name}] measuring /model/parse ({opts.parse_requests} calls, 1 client)…",
            flush=True,
        )
        sampler.phase = "parse"
        texts = [m for s in target.scripts for m in s.messages if not m.startswith("/")]
        parse_s, parse_errors = await measure_parse(
            target.rasa_url,
            texts,
            opts.parse_requests,
            deadline,
            opts.request_timeout,
            target.token,
        )
        found[target.name]["parse"] = latency_summary(parse_s)
        found[target.name]["parse_errors"] = parse_errors[:10]

    for index, concurrency in enumerate(opts.concurrency):
        count = opts.conversations or max(20, 3 * concurrency)
        # Rounds of at least `concurrency` conversations each, the bots taking turns
        # (who goes first alternates), so a change of the machine's load falls on both.
        rounds = max(1, min(opts.rounds, count // concurrency))
        sizes = [count // rounds + (1 if r < count % rounds else 0) for r in range(rounds)]
        print(
            f"concurrency {concurrency}: {count} conversations per bot in {rounds} rounds, "
            f"the bots taking turns ({deadline.left():.0f} s of the time limit left)…",
            flush=True,
        )
        sampler.phase = f"c={concurrency}"
        acc: dict[str, dict[str, Any]] = {
            t.name: {"results": [], "wall": 0.0, "not_started": 0, "cpu": {}} for t in targets
        }
        offset = 0
        for round_no, size in enumerate(sizes):
            order = list(targets) if (index + round_no) % 2 == 0 else list(reversed(targets))
            for target in order:
                part = acc[target.name]
                if deadline.left() <= 0:
                    part["not_started"] += size
                    continue
                cpu_before = cpu_snapshot(sampler.roots)
                results, wall, not_started = await run_level(
                    target.rasa_url,
                    target.scripts,
                    concurrency,
                    size,
                    run_id,
                    deadline,
                    opts.request_timeout,
                    first=offset,
                )
                cpu = target.own_cpu(cpu_delta(cpu_before, cpu_snapshot(sampler.roots)))
                part["results"].extend(results)
                part["wall"] += wall
                part["not_started"] += not_started
                for key, value in cpu.items():
                    part["cpu"][key] = part["cpu"].get(key, 0.0) + value
            offset += size
        for target in targets:
            part = acc[target.name]
            level = level_report(
                concurrency,
                part["results"],
                part["wall"],
                part["not_started"],
                part["cpu"],
                target.scripts,
            )
            level["rounds"] = rounds
            found[target.name]["levels"].append(level)
            print(
                f"  [{target.name}] {part['wall']:.1f} s: {level['completed']}/{count} with "
                f"offers, turn p50 {_ms(level['turn']['p50_ms'])}, {level['msg_per_s']} msg/s, "
                f"others busy {level['other_cpu_percent_of_machine']}%",
                flush=True,
            )
    sampler.sample()

    for measured in found.values():
        parse = measured["parse"]
        first = next((lv for lv in measured["levels"] if lv["concurrency"] == 1), None)
        ratio = None
        if first and first["turn"]["p50_ms"] and parse["p50_ms"]:
            ratio = round(first["turn"]["p50_ms"] / parse["p50_ms"], 2)
        measured["turn_to_parse_ratio"] = ratio
    return found


def _ratio(ours: float | None, base: float | None) -> float | None:
    return round(ours / base, 3) if ours is not None and base else None


def compare(ours: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Ours as ratios of the baseline's figures of the same run, per level, with the targets.

    Throughput is per Rasa process: each side runs one Rasa server process here.
    """
    base_levels = {lv["concurrency"]: lv for lv in baseline["levels"]}
    levels = []
    for lv in ours["levels"]:
        base = base_levels.get(lv["concurrency"])
        if base is None:
            continue
        en = lv["turn_by_language"].get("en", {})
        p50 = _ratio(lv["turn"]["p50_ms"], base["turn"]["p50_ms"])
        throughput = _ratio(lv["msg_per_s"], base["msg_per_s"])
        levels.append(
            {
                "concurrency": lv["concurrency"],
                "p50": p50,
                "p95": _ratio(lv["turn"]["p95_ms"], base["turn"]["p95_ms"]),
                "p50_english_only": _ratio(en.get("p50_ms"), base["turn"]["p50_ms"]),
                "msg_per_s_per_rasa_process": throughput,
                "rasa_cpu_per_turn": _ratio(
                    lv["cpu_ms_per_turn"].get("rasa"), base["cpu_ms_per_turn"].get("rasa")
                ),
                "actions_cpu_per_turn": _ratio(
                    lv["cpu_ms_per_turn"].get("actions"), base["cpu_ms_per_turn"].get("actions")
                ),
                "p50_target_met": p50 is not None and p50 <= TARGET_P50_RATIO,
                "throughput_target_met": throughput is not None
                and throughput >= TARGET_THROUGHPUT_RATIO,
            }
        )
    return {
        "targets": {
            "p50_at_most": TARGET_P50_RATIO,
            "throughput_at_least": TARGET_THROUGHPUT_RATIO,
        },
        "parse_p50": _ratio(ours["parse"]["p50_ms"], baseline["parse"]["p50_ms"]),
        "levels": levels,
    }


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so the `finally` blocks stop the servers.
    raise KeyboardInterrupt


def baseline_versions() -> dict[str, str]:
    """Versions of the packages in the baseline's venv that decide its speed."""
    wanted = {"rasa", "rasa_sdk", "jsonschema", "tensorflow", "sanic", "sqlalchemy"}
    versions: dict[str, str] = {}
    for info in BASELINE_VENV.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        if name.lower() in wanted:
            versions[name.lower()] = version
    return dict(sorted(versions.items()))


def run(opts: Options) -> dict[str, Any]:
    """Start the stacks if asked, measure, stop what was started; the results."""
    began = time.monotonic()
    model: Path | None = None
    baseline_model: Path | None = None
    if opts.baseline:
        ensure_baseline_env()
        baseline_model = ensure_baseline_model()
        print(f"baseline model: {baseline_model.name}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-conversation-") as tmp:
        base = Path(tmp)
        stack: Stack | None = None
        log_file: IO[str] | None = None
        stop_offset: int | None = None
        try:
            services: list[Service] = []
            catalogue = base / "catalog.db"
            if opts.start or opts.baseline:
                print("building the demo catalogue in a temporary SQLite file…", flush=True)
                build_catalogue(f"sqlite:///{catalogue}")
            if opts.start:
                model = wait_for_model(opts.wait_model)
                if model is None:
                    raise SystemExit(f"no trained model in {MODELS}: run `make train` first")
                print(f"model: {model.name}", flush=True)
                action_port, rasa_port = free_port(), free_port()
                actions = action_service(
                    action_port, env={"DATABASE_URL": f"sqlite:///{catalogue}"}
                )
                rasa = rasa_service(
                    rasa_port,
                    action_port,
                    env={"TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}"},
                )
                services += [actions, rasa]
            if opts.baseline:
                base_actions, base_rasa = baseline_services(base, catalogue)
                services += [base_actions, base_rasa]
            if services:
                opts.server_log.parent.mkdir(parents=True, exist_ok=True)
                log_file = opts.server_log.open("w", buffering=1)
                stack = Stack(services, log=log_file)
                print(
                    "starting "
                    + ", ".join(f"{s.name} (:{s.port})" for s in services)
                    + f" (model loads ~50 s each)… server output: {opts.server_log}",
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
                print(f"servers ready in {time.monotonic() - t0:.0f} s", flush=True)

            targets: list[Target] = []
            roots: dict[str, int | None] = {}
            if opts.start:
                roots["rasa"] = rasa.process.pid if rasa.process else None
                roots["actions"] = actions.process.pid if actions.process else None
                targets.append(Target("ours", rasa.url, rasa.token, SCRIPTS, "rasa", "actions"))
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
                roots["rasa"] = listener_root(urlsplit(rasa_url).port or 80)
                roots["actions"] = listener_root(urlsplit(opts.action_url).port or 80)
                targets.append(Target("ours", rasa_url, token, SCRIPTS, "rasa", "actions"))
                print(f"measuring the running stack at {rasa_url} (processes {roots})", flush=True)
            if opts.baseline:
                roots["baseline_rasa"] = base_rasa.process.pid if base_rasa.process else None
                roots["baseline_actions"] = (
                    base_actions.process.pid if base_actions.process else None
                )
                targets.append(
                    Target(
                        "baseline",
                        base_rasa.url,
                        base_rasa.token,
                        BASELINE_SCRIPTS,
                        "baseline_rasa",
                        "baseline_actions",
                    )
                )

            if opts.wait_quiet > 0:
                print(f"waiting up to {opts.wait_quiet:.0f} s for a quiet machine…", flush=True)
                wait_quiet(roots, opts.wait_quiet)
            load_at_start = [round(x, 2) for x in os.getloadavg()]
            deadline = Deadline(opts.time_limit)
            with RssSampler(roots) as sampler:
                time.sleep(0.5)  # an idle sample after start-up, before any traffic
                sampler.sample()
                measured = asyncio.run(measure(opts, targets, sampler, deadline))
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
                    "rounds": opts.rounds,
                    "baseline": opts.baseline,
                },
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average_at_start": load_at_start,
                },
                **measured["ours"],
                "rss": {
                    "by_phase": {
                        p: {n: round(v, 1) for n, v in d.items()} for p, d in sampler.peaks.items()
                    },
                    "peak": peaks,
                    "processes": sampler.procs,
                },
                "baseline": None,
                "comparison": None,
            }
            if opts.baseline:
                result["baseline"] = {
                    "what": "standard Rasa 3.6 form bot (bench/baseline), plain "
                    f"`{BASELINE_REQUIREMENT}` in its own venv, same machine, same run",
                    "model": baseline_model.name if baseline_model else None,
                    "versions": baseline_versions(),
                    "scripts": {s.name: list(s.messages) for s in BASELINE_SCRIPTS},
                    **measured["baseline"],
                }
                result["comparison"] = compare(measured["ours"], measured["baseline"])
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
    if stack is not None:
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
    levels = result["levels"] + (result["baseline"] or {}).get("levels", [])
    failed = sum(lv["failed"] + lv["aborted"] for lv in levels)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
