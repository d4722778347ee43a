"""Live-chat benchmark: how long a staff message takes to reach the shopper's widget.

Run ``.venv/bin/python bench/live.py [desk|http] [--chats 50] [--messages 10]
[--channel inprocess|redis] [--database sqlite|postgres] [--time-limit 120]``.

Mode ``desk`` (the default), in this process, without HTTP: ``--chats`` hand-over
requests, each accepted by one of enough staff members (``--capacity`` chats each), and
a subscriber per chat on the chat's topic standing for the shopper's widget. Every chat
sends ``--messages`` staff messages through :class:`advisor.live.LiveDesk` (stored in the
database, then published); the latency is from just before ``LiveDesk.say`` to the
moment the widget's subscriber has the payload (a ``time.perf_counter`` stamp carried in
the message text). The channel is in-process or Redis pub/sub (the widget listens on a
channel object of its own, as another web process would); the database a temporary
SQLite file or a temporary PostgreSQL database ``bench_live_<pid>`` on the local server,
dropped at the end.

Baseline, measured in the same run on the same subscriptions: the channel alone
(``channel.publish`` of an equal payload, nothing stored), so the ratio shows what
storing costs. Phases alternate by round (``--rounds``); one uncounted warm-up message
per chat and path goes first.

Mode ``http``: the real web app (uvicorn) with a fake Rasa; shopper SSE streams over
httpx and a logged-in staff member sending through the console's routes (see
:func:`run_http`).

Figures, never assertions: the target (p95 <= 200 ms) is printed as met or not met; the
exit code is 1 only when messages were lost or the setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from _stats import Summary, ratio, summary
from console import REPO, OthersBusy, _git_state, wait_quiet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from advisor import accounts
from advisor.handover import HandoverStore
from advisor.live import InProcessChannel, LiveChannel, LiveDesk, RedisChannel, Subscription
from advisor.live_payloads import StaffMessagePayload, chat_topic
from advisor.state import ConversationState
from catalog.db import make_engine
from catalog.demo import build_demo_database

#: The target: a staff message reaches the shopper's widget within this (p95), in ms.
TARGET_MS = 200.0
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: Every benchmark message starts so; the stamp (``time.perf_counter()``) is the last word.
MARK = "bench"
#: Seconds an idle client connection is kept (uvicorn closes its side after 5 s).
KEEPALIVE_EXPIRY_S = 3.0
#: How long to wait, after the last send of a phase, for messages still under way.
DRAIN_S = 10.0


def stamp_text(phase: str, chat: int, message: int) -> str:
    """A message text carrying its phase and its send time."""
    return f"{MARK} {phase} chat {chat} message {message} sent {time.perf_counter()!r}"


def read_stamp(text: str) -> tuple[str, float] | None:
    """The phase and send time of a benchmark message; None for any other text."""
    words = text.split()
    if len(words) < 8 or words[0] != MARK:
        return None
    try:
        return words[1], float(words[-1])
    except ValueError:
        return None


# --- measuring ----------------------------------------------------------------------------


@dataclass(slots=True)
class Phase:
    """What one path (channel alone, desk, http) measured."""

    name: str
    expected: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    send_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Seconds from the first send to the last receipt (summed over rounds).
    span_s: float = 0.0
    first_send: float | None = None
    last_receive: float | None = None
    #: CPU seconds the web app (mode http) used meanwhile, with PostgreSQL's and
    #: Redis's share not counted: a figure the other processes on the machine sway less.
    cpu_s: float = 0.0

    def received(self, sent_at: float) -> None:
        now = time.perf_counter()
        self.latencies_ms.append((now - sent_at) * 1000)
        self.last_receive = now

    def report(self) -> dict[str, Any]:
        span = self.span_s
        return {
            "name": self.name,
            "latency_ms": summary(self.latencies_ms),
            "send_ms": summary(self.send_ms),
            "expected": self.expected,
            "received": len(self.latencies_ms),
            "lost": self.expected - len(self.latencies_ms),
            "messages_per_s": len(self.latencies_ms) / span if span > 0 else None,
            "errors": Counter(self.errors).most_common(5),
            "error_count": len(self.errors),
            "server_cpu_ms_per_message": (
                1000 * self.cpu_s / len(self.latencies_ms) if self.latencies_ms else None
            ),
        }


class Sink:
    """Routes each received benchmark message to the phase named in its text."""

    def __init__(self) -> None:
        self.phases: dict[str, Phase] = {}
        self.done = asyncio.Event()
        #: How often a shopper's stream was ended by the server and reopened.
        self.reconnects = 0
        #: Why a shopper's stream broke (it is reopened, as EventSource does).
        self.stream_errors: list[str] = []

    def start(self, phase: Phase) -> None:
        self.phases[phase.name] = phase
        self.done.clear()

    def take(self, text: str) -> None:
        stamped = read_stamp(text)
        if stamped is None:
            return
        phase = self.phases.get(stamped[0])
        if phase is None:
            return
        phase.received(stamped[1])
        if len(phase.latencies_ms) >= phase.expected:
            self.done.set()


@dataclass(frozen=True, slots=True)
class Load:
    """How the chats send: how many, the mean pause between a chat's messages, until when."""

    chats: int
    pause: float
    rng: random.Random
    deadline: float


async def play(
    phase: Phase,
    sink: Sink,
    load: Load,
    messages: int,
    send: Callable[[int, str], Awaitable[None]],
) -> Phase:
    """Every chat sends ``messages`` messages at once with the others; wait for them all."""
    phase.expected = load.chats * messages
    sink.start(phase)
    spread = 2 * load.pause
    pauses = [[load.rng.uniform(0, spread) for _ in range(messages)] for _ in range(load.chats)]
    deadline = load.deadline

    async def one_chat(chat: int) -> None:
        for message, wait in enumerate(pauses[chat]):
            if time.perf_counter() >= deadline:
                phase.errors.append("time limit reached")
                return
            await asyncio.sleep(wait)
            began = time.perf_counter()
            if phase.first_send is None:
                phase.first_send = began
            try:
                await send(chat, stamp_text(phase.name, chat, message))
            except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
                phase.errors.append(f"{type(exc).__name__}: {exc}".rstrip(": "))
            phase.send_ms.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(one_chat(chat) for chat in range(load.chats)))
    wait = max(0.0, min(DRAIN_S, deadline + DRAIN_S - time.perf_counter()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sink.done.wait(), wait)
    sink.phases.pop(phase.name, None)
    if phase.first_send is not None and phase.last_receive is not None:
        phase.span_s = phase.last_receive - phase.first_send
    return phase


# --- mode desk ----------------------------------------------------------------------------


@contextlib.contextmanager
def temporary_database(kind: str, server: str) -> Iterator[Engine]:
    """A temporary SQLite file or PostgreSQL database; yields its engine, drops it after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'live.db'}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    name = f"bench_live_{os.getpid()}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1)).set(database=name)
    engine: Engine = make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"dropped the temporary database {name}", flush=True)


def make_channels(kind: str, redis_url: str) -> tuple[LiveChannel, LiveChannel]:
    """The desk's channel and the widget's (its own client, as in another process)."""
    if kind == "inprocess":
        channel = InProcessChannel()
        return channel, channel
    prefix = f"bench-live-{os.getpid()}:"
    return RedisChannel(redis_url, prefix=prefix), RedisChannel(redis_url, prefix=prefix)


async def listen(subscription: Subscription, sink: Sink) -> None:
    """The widget: every staff message of one chat goes to the sink."""
    async for payload in subscription:
        if payload["type"] == "staff_message":
            sink.take(payload["text"])


def staff_payload(handover: str, staff: str, text: str, serial: int) -> StaffMessagePayload:
    """A staff message as the desk would publish it, for the channel-alone baseline."""
    return {
        "type": "staff_message",
        "id": -serial,
        "handover": handover,
        "at": datetime.now(UTC).isoformat(),
        "staff": staff,
        "text": text,
    }


async def run_desk(args: argparse.Namespace, deadline: float) -> dict[str, Any]:
    """Mode desk: LiveDesk.say → widget subscriber, against the channel alone."""
    staff_count = math.ceil(args.chats / args.capacity)
    staff = [f"staff-{i:02d}" for i in range(staff_count)]
    rng = random.Random(args.seed)
    print(
        f"desk: {args.chats} chats × {args.messages} messages × {args.rounds} round(s), "
        f"channel {args.channel}, database {args.database}, "
        f"{staff_count} staff × {args.capacity} chats",
        flush=True,
    )
    with temporary_database(args.database, args.server) as engine:
        store = HandoverStore(engine)
        channel, widget_channel = make_channels(args.channel, args.redis)
        desk = LiveDesk(store, channel)
        try:
            if isinstance(channel, RedisChannel):
                await channel.ping()
            for name in staff:
                await desk.set_presence(name, status="available", capacity=args.capacity)
            chats: list[tuple[str, str]] = []
            for i in range(args.chats):
                record = await desk.request(
                    conversation=f"bench-live-{os.getpid()}-{i}", state=ConversationState()
                )
                who = staff[i // args.capacity]
                await desk.accept(record.id, staff=who)
                chats.append((record.id, who))
            serial = iter(range(1, 10**9))

            async def through_desk(chat: int, message: str) -> None:
                handover, who = chats[chat]
                await desk.say(handover, text=message, staff=who)

            async def channel_alone(chat: int, message: str) -> None:
                handover, who = chats[chat]
                payload = staff_payload(handover, who, message, next(serial))
                await channel.publish(chat_topic(handover), payload)

            paths = {"channel": channel_alone, "desk": through_desk}
            sink = Sink()
            async with contextlib.AsyncExitStack() as stack:
                subscriptions = [
                    await stack.enter_async_context(widget_channel.subscribe(chat_topic(h)))
                    for h, _ in chats
                ]
                readers = [asyncio.create_task(listen(s, sink)) for s in subscriptions]
                try:
                    results = await measure_paths(paths, sink, args, rng, deadline)
                    others = results.pop("_others")
                finally:
                    for reader in readers:
                        reader.cancel()
                    await asyncio.gather(*readers, return_exceptions=True)
            stored = sum(
                1 for h, _ in chats for p in store.history(h) if p["type"] == "staff_message"
            )
        finally:
            await channel.aclose()
            if widget_channel is not channel:
                await widget_channel.aclose()
    return {
        "mode": "desk",
        "channel": args.channel,
        "database": args.database,
        "chats": args.chats,
        "messages": args.messages,
        "rounds": args.rounds,
        "staff": staff_count,
        "capacity": args.capacity,
        "pause_s": args.pause,
        "others_busy_percent": round(others, 1),
        "stored_staff_messages": stored,
        "phases": {name: phase.report() for name, phase in results.items()},
        "measured": "desk",
        "baseline": "channel",
    }


async def measure_paths(
    paths: dict[str, Callable[[int, str], Awaitable[None]]],
    sink: Sink,
    args: argparse.Namespace,
    rng: random.Random,
    deadline: float,
    *,
    children: Callable[[], float] = lambda: 0.0,
) -> dict[str, Any]:
    """A warm-up message per chat and path, then the rounds (the order alternates).

    Returns each path's :class:`Phase` and, under ``"_others"``, the share of the machine
    other processes used meanwhile (less ``children``: CPU seconds of what we started).
    """
    load = Load(args.chats, args.pause, rng, deadline)
    for name, send in paths.items():  # uncounted, paced as the rounds are
        await play(Phase(f"warmup-{name}"), sink, load, 1, send)
    results = {name: Phase(name) for name in paths}
    busy, started = OthersBusy(), children()
    for round_ in range(args.rounds):
        order = list(paths) if round_ % 2 == 0 else list(reversed(paths))
        for name in order:
            part = Phase(f"{name}{round_}")
            before = children()
            await play(part, sink, load, args.messages, paths[name])
            part.cpu_s = children() - before
            merge(results[name], part)
    wall = max(time.monotonic() - busy.wall, 1e-9)
    ours = 100 * (children() - started) / (wall * (os.cpu_count() or 1))
    return {**results, "_others": max(0.0, busy.percent() - ours)}


def merge(into: Phase, part: Phase) -> None:
    """Add one round's figures to a path's totals."""
    into.expected += part.expected
    into.latencies_ms += part.latencies_ms
    into.send_ms += part.send_ms
    into.errors += part.errors
    into.span_s += part.span_s
    into.cpu_s += part.cpu_s


# --- report -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def print_report(result: dict[str, Any]) -> str:
    """Print the figures; return the verdict line."""
    phases: dict[str, dict[str, Any]] = result["phases"]
    labels = {
        "channel": "channel alone (publish → widget)",
        "desk": "desk (store, publish → widget)",
        "http": "http (staff POST → shopper SSE)",
    }
    print(f"\n== {result['mode']}: send → received by the shopper's widget, ms")
    print(f"   {'path':<34} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'msg/s':>7} lost")
    for name, phase in phases.items():
        s: Summary = phase["latency_ms"]
        rate = phase["messages_per_s"]
        print(
            f"   {labels.get(name, name):<34} {s['n']:>5} {_ms(s['p50']):>7} {_ms(s['p95']):>7}"
            f" {_ms(s['p99']):>7} {_ms(s['max']):>7} {_ms(rate):>7} {phase['lost']:>4}"
        )
    measured, base = phases[result["measured"]], phases.get(result["baseline"] or "")
    if base is not None:
        m, b = measured["latency_ms"], base["latency_ms"]
        print(
            f"   ratio {result['measured']} / {result['baseline']}: "
            f"{ratio(m['p50'], b['p50'])} (p50), {ratio(m['p95'], b['p95'])} (p95)"
        )
    for name, phase in phases.items():
        s = phase["send_ms"]
        cpu = phase.get("server_cpu_ms_per_message")
        print(
            f"   {name}: the send call returned after p50 {_ms(s['p50'])} ms, "
            f"p95 {_ms(s['p95'])} ms" + (f"; web app CPU {cpu:.2f} ms per message" if cpu else "")
        )
        for error, count in phase["errors"]:
            print(f"   ! {name}: {count} × {error}")
    if "reconnects" in result:
        print(f"   shopper streams ended by the server and reopened: {result['reconnects']}")
        for error, count in result["stream_errors"]:
            print(f"   ! shopper streams: {count} × {error} (reopened)")
    if "web_log" in result:
        print(f"   the web app's output: {result['web_log']}")
    if "stored_staff_messages" in result:
        sent = result["chats"] * (1 + result["messages"] * result["rounds"])
        print(f"   staff messages stored: {result['stored_staff_messages']} of {sent} sent")
    p95 = measured["latency_ms"]["p95"]
    met = p95 is not None and p95 <= TARGET_MS and measured["lost"] == 0
    verdict = (
        f"{'met' if met else 'NOT met'}: p95 {_ms(p95)} ms"
        f" ({result['mode']}, {result.get('channel', '-')}, {result.get('database', '-')},"
        f" {result['chats']} chats, lost {measured['lost']})"
    )
    print(f"\n== target: a staff message reaches the widget within {TARGET_MS:g} ms (p95)")
    print(f"   {verdict}")
    return verdict


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=["desk", "http"], default="desk")
    parser.add_argument("--chats", type=int, default=50, help="concurrent live chats")
    parser.add_argument("--messages", type=int, default=10, help="staff messages per chat")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; the path order alternates")
    parser.add_argument("--capacity", type=int, default=3, help="chats per staff member (1-20)")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="mean seconds between a chat's messages (uniform 0 to 2×; 0 sends back to back)",
    )
    parser.add_argument("--channel", choices=["inprocess", "redis"], default="inprocess")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (channel redis)")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--seed", type=int, default=7, help="seed of the pauses")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds, all in all")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="seconds to wait, before measuring, until other processes leave the CPUs idle",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    if not (1 <= args.chats <= 500 and 1 <= args.messages <= 1000 and 1 <= args.rounds <= 20):
        parser.error("--chats 1 to 500, --messages 1 to 1000, --rounds 1 to 20")
    if not (1 <= args.capacity <= 20 and 0 <= args.pause <= 60):
        parser.error("--capacity 1 to 20, --pause 0 to 60 s")
    if not (10 <= args.time_limit <= 3600 and 0 <= args.wait_quiet <= 1800):
        parser.error("--time-limit 10 to 3600 s, --wait-quiet at most 1800 s")
    for url in (args.redis, args.server):
        host = make_url(url.replace("redis://", "postgresql://", 1)).host
        if host not in ("127.0.0.1", "localhost", "::1"):
            parser.error(f"loopback servers only, not {host!r}")
    return args


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cleans up as Ctrl-C does
    if args.wait_quiet > 0:
        print(f"waiting up to {args.wait_quiet:.0f} s for a quiet machine…", flush=True)
        wait_quiet(args.wait_quiet)
    began = time.perf_counter()
    deadline = began + args.time_limit
    runner = run_desk if args.mode == "desk" else run_http
    try:  # setup and clean-up may take a little longer than the measuring
        result = asyncio.run(asyncio.wait_for(runner(args, deadline), args.time_limit + 60))
    except TimeoutError:
        print(f"gave up: the run took over {args.time_limit + 60:.0f} s", file=sys.stderr)
        return 1
    verdict = print_report(result)
    total = time.perf_counter() - began
    print(
        f"\n{os.cpu_count()} CPUs, others busy {result['others_busy_percent']:.0f} %, "
        f"commit {_git_state()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, total {total:.0f} s"
    )
    if args.out:
        meta = {
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "git": _git_state(),
            "argv": sys.argv,
            "total_s": round(total, 1),
            "verdict": verdict,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, **result}, indent=1, default=str) + "\n")
        print(f"wrote {args.out}")
    phases = result["phases"].values()
    return 1 if any(p["lost"] or p["error_count"] for p in phases) else 0


# --- mode http ----------------------------------------------------------------------------

#: The staff users' password (throwaway users in a temporary database).
PASSWORD = "bench live password 1"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
HTML = {"accept": "text/html"}
JSON_ACCEPT = {"accept": "application/json"}
STREAM = {"accept": "text/event-stream"}
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
START_TIMEOUT_S = 60.0
#: One staff POST may take this long before it counts as an error.
REQUEST_TIMEOUT_S = 10.0
#: How long a shopper's stream may stay silent before it counts as broken.
STREAM_READ_TIMEOUT_S = 60.0
#: The web app's output (git-ignored).
WEB_LOG = REPO / "bench" / "results" / "live-web.log"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _json_reply(send: Callable[..., Awaitable[None]], status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def fake_rasa(scope: dict[str, Any], receive: Callable[..., Any], send: Any) -> None:
    """Rasa for the web app: every shopper message asks for a person; the API says yes.

    ``POST /webhooks/rest/webhook`` answers the hand-over payload ``{"custom": {"type":
    "handoff", "code": …}}``; ``/conversations/{id}/tracker`` and ``…/tracker/events``
    (pause, resume) answer an empty tracker; ``GET /`` the banner.
    """
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path, method = scope["path"], scope["method"]
    if method == "POST" and path == "/webhooks/rest/webhook":
        sender = json.loads(body or b"{}").get("sender", "")
        code = "".join(random.choices(CODE_ALPHABET, k=6))
        reply = [{"recipient_id": sender, "custom": {"type": "handoff", "code": code}}]
        await _json_reply(send, 200, reply)
    elif path.startswith("/conversations/") and path.endswith(("/tracker", "/tracker/events")):
        await _json_reply(send, 200, {"sender_id": path.split("/")[2], "events": []})
    elif path == "/":
        await _json_reply(send, 200, "Hello from Rasa: bench/live.py")
    else:
        await _json_reply(send, 404, {"error": "not found"})


@contextlib.contextmanager
def fake_rasa_server() -> Iterator[str]:
    """The fake Rasa on a free port, in a thread of its own; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        fake_rasa, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-rasa", daemon=True)
    thread.start()
    try:
        end = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if time.monotonic() > end or not thread.is_alive():
                raise RuntimeError("the fake Rasa did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def web_app(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``uvicorn web.app:create_app --factory`` on a free port; stopped on leaving."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the web app exited ({process.returncode}): {_tail(log)}")
            try:
                if httpx.get(url + "/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"the web app did not answer in time: {_tail(log)}")
            time.sleep(0.2)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StaffClient:
    """A staff member signed in to the console over HTTP, with the CSRF token."""

    def __init__(self, client: httpx.AsyncClient, name: str) -> None:
        self.client, self.name, self.csrf = client, name, ""

    async def sign_in(self, capacity: int) -> None:
        form = await self.client.get("/login", headers=HTML)
        found = CSRF_INPUT.search(form.text)
        if found is None:
            raise RuntimeError(f"no CSRF token in the login form (HTTP {form.status_code})")
        data = {"name": self.name, "password": PASSWORD, "csrf_token": found.group(1)}
        signed_in = await self.client.post("/login", data=data, headers=HTML)
        if signed_in.status_code != 303:
            raise RuntimeError(f"login of {self.name} answered HTTP {signed_in.status_code}")
        page = await self.client.get("/console/live", headers=HTML)
        meta = CSRF_META.search(page.text)
        if meta is None:
            raise RuntimeError(f"no CSRF token on /console/live (HTTP {page.status_code})")
        self.csrf = meta.group(1)
        data = {"status": "available", "capacity": str(capacity), "csrf_token": self.csrf}
        presence = await self.client.post("/console/presence", data=data, headers=HTML)
        if presence.status_code != 303:
            raise RuntimeError(f"presence of {self.name} answered HTTP {presence.status_code}")

    async def post(self, path: str, **data: str) -> dict[str, Any]:
        headers = {**JSON_ACCEPT, "X-CSRF-Token": self.csrf}
        response = await self.client.post(path, data=data, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path} answered HTTP {response.status_code}")
        result: dict[str, Any] = response.json()
        return result


async def shopper_stream(client: httpx.AsyncClient, sink: Sink, ready: asyncio.Event) -> None:
    """The widget: the shopper's SSE stream, reconnecting as ``chat.js`` does.

    When the server ends the stream on time it says ``event: reconnect``: reconnect at
    once, with ``Last-Event-ID`` (``chat.js`` opens a new ``EventSource`` with
    ``?after=``, the same to the server). A stream that ends without it (an error) is
    reopened after the server's ``retry:``, as ``EventSource`` does. Staff messages go
    to the sink.
    """
    last_id, retry_s = "", 3.0  # EventSource's default retry until the server sets one
    # Longer than the server's keep-alive (15 s): a silent stream is not a dead one.
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, read=STREAM_READ_TIMEOUT_S)
    while True:
        headers = {**STREAM, **({"last-event-id": last_id} if last_id else {})}
        at_once = False
        try:
            async with client.stream(
                "GET", "/api/chat/events", headers=headers, timeout=timeout
            ) as response:
                if response.status_code == 204:
                    return  # the hand-over is over: EventSource stops
                if response.status_code != 200:
                    raise RuntimeError(f"GET /api/chat/events answered {response.status_code}")
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("retry:"):
                        retry_s = int(line[6:].strip()) / 1000
                        ready.set()  # the server subscribed before it sent this
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("id:"):
                        last_id = line[3:].strip()
                    elif line.startswith("data:"):
                        if event == "reconnect":
                            at_once = True
                            continue
                        payload = json.loads(line[5:])
                        if payload.get("type") == "staff_message":
                            sink.take(payload["text"])
                    elif not line:
                        event = ""
            sink.reconnects += 1
        except httpx.TransportError as exc:  # EventSource reconnects after errors too
            sink.stream_errors.append(f"{type(exc).__name__}: {exc}".rstrip(": "))
        if not at_once:
            await asyncio.sleep(retry_s)


def prepare_database(url: str, staff: Sequence[str]) -> None:
    """The demo catalogue and the staff users, before the web app starts."""
    build_demo_database(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            for name in staff:
                accounts.create_user(session, name=name, role="staff", password=PASSWORD)
    finally:
        engine.dispose()


async def run_http(args: argparse.Namespace, deadline: float) -> dict[str, Any]:
    """Mode http: staff POST ``/console/live/{id}/say`` → the shopper's SSE stream."""
    staff_count = math.ceil(args.chats / args.capacity)
    staff = [f"staff{i:02d}" for i in range(staff_count)]
    rng = random.Random(args.seed)
    print(
        f"http: {args.chats} chats × {args.messages} messages × {args.rounds} round(s), "
        f"channel {args.channel}, database {args.database}, "
        f"{staff_count} staff × {args.capacity} chats",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        engine = stack.enter_context(temporary_database(args.database, args.server))
        url = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        await asyncio.to_thread(prepare_database, url, staff)
        rasa_url = stack.enter_context(fake_rasa_server())
        env = {
            "DATABASE_URL": url,
            "RASA_URL": rasa_url,
            "WEB_SECRET_KEY": secrets.token_urlsafe(48),
            "APP_ENV": "development",
            "LIVE_CHANNEL_URL": args.redis if args.channel == "redis" else "",
        }
        log = WEB_LOG
        log.parent.mkdir(parents=True, exist_ok=True)
        base, process = stack.enter_context(web_app(env, log))
        print(f"web app at {base} (pid {process.pid}), fake Rasa at {rasa_url}", flush=True)
        result = await _play_http(args, deadline, base, staff, rng, process.pid)
        if process.poll() is not None:
            print(f"   ! the web app exited: {_tail(log)}", file=sys.stderr)
        result["web_log"] = str(log.relative_to(REPO))
    return result


async def _play_http(
    args: argparse.Namespace,
    deadline: float,
    base: str,
    staff: list[str],
    rng: random.Random,
    pid: int,
) -> dict[str, Any]:
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    async with contextlib.AsyncExitStack() as stack:

        async def client() -> httpx.AsyncClient:
            # Idle connections dropped before uvicorn's keep-alive (5 s) drops them: a
            # request on a connection the server is closing fails (ReadError) for
            # nothing; browsers retry it, httpx does not.
            limits = httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S)
            made = httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits, trust_env=False)
            return await stack.enter_async_context(made)

        desks = [StaffClient(await client(), name) for name in staff]
        for desk in desks:
            await desk.sign_in(args.capacity)
        shoppers = [await client() for _ in range(args.chats)]
        chats: list[tuple[str, StaffClient]] = []
        for i, shopper in enumerate(shoppers):
            asked = await shopper.post("/api/chat", json={"message": "talk to a human"})
            live = asked.json().get("live") or {}
            if asked.status_code != 200 or not live.get("handover"):
                raise RuntimeError(f"no hand-over for shopper {i}: HTTP {asked.status_code}")
            chats.append((live["handover"], desks[i // args.capacity]))
        sink = Sink()
        ready = [asyncio.Event() for _ in shoppers]
        streams = [
            asyncio.create_task(shopper_stream(s, sink, r))
            for s, r in zip(shoppers, ready, strict=True)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 30)
            for handover, desk in chats:
                await desk.post(f"/console/live/{handover}/accept")

            async def through_http(chat: int, message: str) -> None:
                handover, desk = chats[chat]
                await desk.post(f"/console/live/{handover}/say", text=message)

            async def http_alone(chat: int, message: str) -> None:
                response = await chats[chat][1].client.get("/healthz")
                response.raise_for_status()
                sink.take(message)

            paths = {"healthz": http_alone, "http": through_http}
            results = await measure_paths(
                paths, sink, args, rng, deadline, children=lambda: cpu_seconds(pid)
            )
            busy_others = results.pop("_others")
        finally:
            for stream in streams:
                stream.cancel()
            ended = await asyncio.gather(*streams, return_exceptions=True)
            sink.stream_errors += [f"ended: {e!r}" for e in ended if isinstance(e, Exception)]
    return {
        "mode": "http",
        "channel": args.channel,
        "database": args.database,
        "chats": args.chats,
        "messages": args.messages,
        "rounds": args.rounds,
        "staff": len(staff),
        "capacity": args.capacity,
        "pause_s": args.pause,
        "others_busy_percent": round(busy_others, 1),
        "reconnects": sink.reconnects,
        "stream_errors": Counter(sink.stream_errors).most_common(5),
        "phases": {name: phase.report() for name, phase in results.items()},
        "measured": "http",
        "baseline": "healthz",
    }


if __name__ == "__main__":
    sys.exit(main())
