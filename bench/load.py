"""Load: many shoppers with think time against the web app's chat, as a campaign brings them.

Run ``.venv/bin/python bench/load.py [--shoppers 200] [--think 3] [--duration 120]
[--url http://127.0.0.1:8000 | --start --rasa-instances 1 2]``.

Each shopper is a browser of its own (its own conversation cookie): it sends the
free-text messages of one of the conversation bench's scripts (German and English,
``bench/conversation.py``), waits ``--think`` seconds (±50 %, uniform) between messages,
and starts a new conversation when one ends in offers, until ``--duration`` is over.
Shoppers arrive over ``--ramp`` seconds. Printed per run: turns, messages per second,
p50/p95/p99/max per turn (client side, POST /api/chat), failed turns (HTTP error, an
empty reply, or the polite failure sentences a shopper would see), conversations
started, reaching offers, and lost (ended early by an error, never by the time limit).

``--url`` measures a running stack (``make run-prod``; loopback addresses only).
``--start`` starts the production profile itself (``python -m web.production``) on free
ports with databases of its own on the local PostgreSQL (dropped afterwards), once per
``--rasa-instances`` value, and also measures each one's capacity: ``--capacity-clients``
clients without think time for ``--capacity-seconds``, so the growth from one Rasa
instance to two is a number, not a feeling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _stats import summary
from conversation import SCRIPTS, is_loopback_url, machine_busy_seconds, tree_cpu_seconds

from advisor.render import render
from web.production import database_on, drop_databases
from web.stack import REPO, free_port

#: What a shopper reads when something failed: a turn that says it failed.
FAILURE_TEXTS = tuple(render("failure", language=lang) for lang in ("en", "de"))
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
READY_LINE = "Ctrl-C stops everything."
#: Scripts a shopper types (buttons are payloads the widget sends; free text is the load).
FREE_TEXT = [s for s in SCRIPTS if not any(m.startswith("/") for m in s.messages)]


@dataclass
class Turn:
    seconds: float
    ok: bool
    error: str = ""


@dataclass
class RunResult:
    label: str
    shoppers: int
    think_s: float
    seconds: float
    turns: list[Turn] = field(default_factory=list)
    started: int = 0
    offers: int = 0
    lost: int = 0
    cut: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        times = [t.seconds * 1000 for t in self.turns]
        failed = [t for t in self.turns if not t.ok]
        return {
            "label": self.label,
            "shoppers": self.shoppers,
            "think_s": self.think_s,
            "seconds": round(self.seconds, 1),
            "turns": len(self.turns),
            "msg_per_s": round(len(self.turns) / self.seconds, 1) if self.seconds else None,
            "turn_ms": summary(times),
            "failed_turns": len(failed),
            "conversations_started": self.started,
            "conversations_with_offers": self.offers,
            "conversations_lost": self.lost,
            "conversations_cut_by_time": self.cut,
            "errors": dict(sorted(self.errors.items(), key=lambda kv: -kv[1])[:10]),
        }


def _failed(reply: dict[str, Any]) -> str:
    messages = reply.get("messages") or []
    text = "\n".join(str(m.get("text") or "") for m in messages)
    if not messages or not (
        text.strip() or any(m.get("buttons") or m.get("custom") for m in messages)
    ):
        return "empty reply"
    if any(f in text for f in FAILURE_TEXTS):
        return "failure sentence"
    return ""


def _has_offers(reply: dict[str, Any]) -> bool:
    return any(
        isinstance(m.get("custom"), dict) and m["custom"].get("type") == "offers"
        for m in reply.get("messages") or []
    )


async def shopper(
    url: str, result: RunResult, think: float, end: float, rng: random.Random, timeout: float
) -> None:
    """One shopper: conversations one after another until ``end``.

    Between two conversations the shopper thinks too: one that failed does not come
    back at once (which would turn an overload into a storm of retries).
    """
    first = True
    while time.monotonic() < end:
        if not first and think > 0:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))
        first = False
        script = rng.choice(FREE_TEXT)
        result.started += 1
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            reached = False
            for index, message in enumerate(script.messages):
                if index and think > 0:
                    await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))
                if time.monotonic() >= end:
                    result.cut += 1
                    break
                start = time.perf_counter()
                error = ""
                reply: dict[str, Any] = {}
                try:
                    response = await client.post(
                        f"{url}/api/chat",
                        json={"message": message, "metadata": {"language": script.language}},
                    )
                    if response.status_code != 200:
                        error = f"HTTP {response.status_code}"
                    else:
                        reply = response.json()
                        error = _failed(reply)
                except (httpx.HTTPError, ValueError) as exc:
                    error = type(exc).__name__
                result.turns.append(Turn(time.perf_counter() - start, not error, error))
                if error:
                    result.errors[error] = result.errors.get(error, 0) + 1
                    result.lost += 1
                    break
                if _has_offers(reply):
                    reached = True
            else:
                if reached:
                    result.offers += 1
                else:
                    result.lost += 1
                    result.errors["no offers at the end"] = (
                        result.errors.get("no offers at the end", 0) + 1
                    )


async def run(
    url: str,
    *,
    label: str,
    shoppers: int,
    think: float,
    duration: float,
    ramp: float,
    seed: int,
    timeout: float,
) -> RunResult:
    """``shoppers`` shoppers for ``duration`` seconds; the turns they saw."""
    result = RunResult(label, shoppers, think, duration)
    rng = random.Random(seed)
    began = time.monotonic()
    end = began + duration

    async def arrive(i: int) -> None:
        await asyncio.sleep(ramp * i / max(1, shoppers))
        await shopper(url, result, think, end, random.Random(rng.random() + i), timeout)

    progress = asyncio.create_task(_progress(result, began, end))
    await asyncio.gather(*(arrive(i) for i in range(shoppers)))
    progress.cancel()
    result.seconds = time.monotonic() - began
    return result


async def _progress(result: RunResult, began: float, end: float) -> None:
    while True:
        await asyncio.sleep(15)
        left = max(0.0, end - time.monotonic())
        failed = sum(1 for t in result.turns if not t.ok)
        print(
            f"  …{time.monotonic() - began:.0f} s: {len(result.turns)} turns, {failed} failed, "
            f"{result.offers} conversations with offers ({left:.0f} s left)",
            flush=True,
        )


@contextmanager
def production(
    rasa_instances: int, action_workers: int, web_workers: int
) -> Iterator[tuple[str, Path]]:
    """The production profile on free ports and databases of its own; its URL and state."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"load_advisor_{suffix}", f"load_tracker_{suffix}")
    web_port = free_port()
    # The processes' logs stay for reading after the run (bench/results is not in git).
    tmp = str(REPO / "bench" / "results" / f"load-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}")
    Path(tmp).mkdir(parents=True, exist_ok=True)
    log_path = Path(tmp) / "launcher.log"
    with log_path.open("wb") as log:
        launcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "web.production",
                *("--rasa-instances", str(rasa_instances)),
                *("--action-workers", str(action_workers)),
                *("--web-workers", str(web_workers)),
                *("--web-port", str(web_port)),
                *("--rasa-port", str(free_port())),
                *("--action-port", str(free_port())),
                *("--database-url", database_on(POSTGRES, names[0], "psycopg")),
                *("--tracker-store-url", database_on(POSTGRES, names[1])),
                *("--state-dir", tmp),
            ],
            cwd=REPO,
            env={**os.environ, "WEB_COOKIE_SECURE": "false"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 480
            print(
                f"starting the production profile ({rasa_instances} Rasa; logs in {tmp})…",
                flush=True,
            )
            while READY_LINE not in log_path.read_text(errors="replace"):
                if launcher.poll() is not None or time.monotonic() > deadline:
                    sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
                    raise SystemExit("the production profile did not start")
                time.sleep(1.0)
            yield f"http://127.0.0.1:{web_port}", Path(tmp)
        finally:
            if launcher.poll() is None:
                launcher.send_signal(signal.SIGTERM)
                try:
                    launcher.wait(90)
                except subprocess.TimeoutExpired:
                    os.killpg(launcher.pid, signal.SIGKILL)
            drop_databases(POSTGRES, names)


def program_pids(state: Path) -> dict[str, int]:
    """The pid of each process supervisord runs for the profile in ``state``."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "supervisor.supervisorctl",
            "-c",
            str(state / "supervisord.conf"),
            "status",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    pids: dict[str, int] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
            pids[parts[0]] = int(parts[3].rstrip(","))
    return pids


def cpu_by_kind(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per kind of process (rasa, actions, web, haproxy) and machine."""
    totals: dict[str, float] = {}
    for name, pid in pids.items():
        kind = name.split("-", 1)[0]
        totals[kind] = totals.get(kind, 0.0) + tree_cpu_seconds(pid)
    totals["machine"] = machine_busy_seconds()
    return totals


def print_report(reports: Sequence[dict[str, Any]]) -> None:
    """One line per run."""
    print(
        f"\n{'run':<26} {'shoppers':>8} {'think':>5} {'turns':>6} {'msg/s':>6} "
        f"{'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'failed':>6} "
        f"{'convs':>5} {'offers':>6} {'lost':>4} {'cut':>4}"
    )
    for r in reports:
        t = r["turn_ms"]

        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v:.0f}ms"

        print(
            f"{r['label']:<26} {r['shoppers']:>8} {r['think_s']:>5g} {r['turns']:>6} "
            f"{r['msg_per_s'] or 0:>6.1f} {ms(t['p50']):>7} {ms(t['p95']):>7} "
            f"{ms(t['p99']):>7} {ms(t['max']):>7} {r['failed_turns']:>6} "
            f"{r['conversations_started']:>5} {r['conversations_with_offers']:>6} "
            f"{r['conversations_lost']:>4} {r['conversations_cut_by_time']:>4}"
        )
        cpu = r.get("cpu_ms_per_turn") or {}
        if cpu:
            shown = ", ".join(f"{k} {v:g} ms" for k, v in cpu.items() if k != "machine")
            print(f"{'':<26} CPU per turn: {shown} (whole machine {cpu.get('machine', 0):g} ms)")
        if r["errors"]:
            print(f"{'':<26} errors: {r['errors']}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load (and capacity) runs; exit 1 when a turn failed or a conversation was lost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=None, help="a running web app (loopback only)")
    parser.add_argument("--start", action="store_true", help="start the production profile")
    parser.add_argument("--rasa-instances", type=int, nargs="+", default=[2])
    parser.add_argument("--action-workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--think", type=float, default=3.0, help="seconds between messages")
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds over which they arrive")
    parser.add_argument("--capacity-clients", type=int, default=20)
    parser.add_argument("--capacity-seconds", type=float, default=40.0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per turn")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.shoppers <= 2000 or not 5 <= args.duration <= 3600:
        parser.error("--shoppers 1..2000, --duration 5..3600 seconds")
    if args.url and not is_loopback_url(args.url):
        parser.error(f"only loopback addresses may be loaded, not {args.url}")
    if not args.url and not args.start:
        args.url = "http://127.0.0.1:8000"

    reports: list[dict[str, Any]] = []

    def measure(url: str, tag: str, state: Path | None) -> None:
        pids = program_pids(state) if state else {}

        def timed(result: RunResult, before: dict[str, float]) -> dict[str, Any]:
            report = result.report()
            after = cpu_by_kind(pids)
            turns = max(1, len(result.turns))
            report["cpu_ms_per_turn"] = {
                k: round((after[k] - before[k]) * 1000 / turns, 1) for k in before
            }
            return report

        print(f"{tag}: {args.shoppers} shoppers, think {args.think:g} s, {args.duration:g} s…")
        before = cpu_by_kind(pids)
        load = asyncio.run(
            run(
                url,
                label=f"{tag} load",
                shoppers=args.shoppers,
                think=args.think,
                duration=args.duration,
                ramp=args.ramp,
                seed=args.seed,
                timeout=args.timeout,
            )
        )
        reports.append(timed(load, before))
        if args.capacity_clients > 0:
            print(f"{tag}: capacity, {args.capacity_clients} clients without think time…")
            before = cpu_by_kind(pids)
            capacity = asyncio.run(
                run(
                    url,
                    label=f"{tag} capacity",
                    shoppers=args.capacity_clients,
                    think=0.0,
                    duration=args.capacity_seconds,
                    ramp=1.0,
                    seed=args.seed + 1,
                    timeout=args.timeout,
                )
            )
            reports.append(timed(capacity, before))

    began = time.monotonic()
    if args.start:
        for instances in args.rasa_instances:
            with production(instances, args.action_workers, args.web_workers) as (url, state):
                measure(url, f"{instances} Rasa", state)
    else:
        measure(args.url.rstrip("/"), "running stack", None)
    print_report(reports)
    capacities = {r["label"]: r["msg_per_s"] for r in reports if r["label"].endswith("capacity")}
    if len(capacities) > 1:
        values = list(capacities.values())
        print(f"\ncapacity growth, {' → '.join(capacities)}: {values[-1] / values[0]:.2f}×")
    print(
        f"cpus: {os.cpu_count()}, load average now {os.getloadavg()}, "
        f"run {time.monotonic() - began:.0f} s"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"runs": reports, "options": vars(args)}, default=str, indent=2)
        )
    bad = any(
        r["failed_turns"] or r["conversations_lost"] for r in reports if r["label"].endswith("load")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
