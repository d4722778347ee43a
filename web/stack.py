"""Start the whole stack: Rasa server, action server and web app, bound to 127.0.0.1.

``make run`` uses :func:`main` (fixed ports 5005, 5055, 8000; one Ctrl-C stops all);
the integration tests and the benchmarks use :class:`Stack` with free ports. Every
process's output is prefixed with its name, so one terminal shows all three.

Rasa's HTTP API (``/conversations/…``, ``/status``) is started with a token
(``--enable-api --auth-token``) and only the web app is told it (``RASA_TOKEN``): ``make
run`` takes ``RASA_TOKEN`` from the environment or makes a random one per start, and
:func:`rasa_service` makes one per test stack. Rasa reads the token from its command
line only, so another user of the same machine can see it in ``ps``: the servers bind
127.0.0.1, and a production deployment starts Rasa its own way. The REST channel needs
no token, so the README's curl examples work on the machine itself.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

__all__ = [
    "REPO",
    "DeprecationNoise",
    "Service",
    "Stack",
    "ensure_admin",
    "free_port",
    "guarded_actions",
    "listening_socket",
    "action_guard_service",
    "haproxy_config",
    "main",
    "new_rasa_token",
    "rasa_env",
    "trained_model",
]

REPO = Path(__file__).resolve().parent.parent
RASA_BIN = REPO / ".venv-rasa" / "bin" / "rasa"
MODELS = REPO / "bot" / "models"


def listening_socket() -> socket.socket:
    """A socket listening on a free port of 127.0.0.1, for a server to take over.

    Handing a server the socket (uvicorn's ``--fd``) leaves no moment in which another
    process could take the port, as it could between :func:`free_port` and the bind.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    For servers that cannot take a socket (Rasa and the action server: Sanic, started by
    their own command lines); uvicorn takes :func:`listening_socket`.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_rasa_token() -> str:
    """A random token for Rasa's HTTP API (256 bits).

    Hex, not URL-safe base64: a token starting with "-" is read by Rasa's command line
    as an option and Rasa exits (about one start in 64 did).
    """
    return secrets.token_hex(32)


def rasa_env(
    action_port: int,
    *,
    tracker_store_url: str | None = None,
    lock_store: str = "in_memory",
    lock_host: str = "127.0.0.1",
    lock_port: int = 6379,
) -> dict[str, str]:
    """Environment for ``rasa run`` with ``bot/endpoints.yml``."""
    tracker = tracker_store_url or f"sqlite:///{REPO / 'var' / 'tracker.db'}"
    return {
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_STORE_URL": tracker,
        "LOCK_STORE": lock_store,
        "LOCK_STORE_HOST": lock_host,
        "LOCK_STORE_PORT": str(lock_port),
        # Rasa writes a .rasa cache and logs relative to the working directory.
        "RASA_HOME": str(REPO / "var"),
        # The tracker store of bot/endpoints.yml (bot/addons/advisor_tracker_store.py).
        "PYTHONPATH": str(REPO / "bot" / "addons"),
        # Rasa's dependencies print screenfuls of DeprecationWarnings at start-up.
        "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::PendingDeprecationWarning",
    }


@dataclass
class Service:
    """One process of the stack and how to tell it is ready."""

    name: str
    argv: list[str]
    port: int
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200
    process: subprocess.Popen[bytes] | None = None
    #: The token its HTTP API requires (Rasa), else empty.
    token: str = field(default="", repr=False)
    #: A listening socket the process inherits (``--fd``); closed here once it started.
    sock: socket.socket | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://127.0.0.1:{self.port}"


def trained_model(model: Path = MODELS) -> Path | None:
    """The model Rasa would load from ``model`` (a file, or the newest in a folder)."""
    if model.is_file():
        return model if model.name.endswith(".tar.gz") else None
    found = (
        sorted(model.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime) if model.is_dir() else []
    )
    return found[-1] if found else None


def rasa_service(
    port: int,
    action_port: int,
    *,
    token: str | None = None,
    model: Path = MODELS,
    env: Mapping[str, str] | None = None,
) -> Service:
    """The Rasa server with the REST channel and the HTTP API on 127.0.0.1.

    Args:
        port: Rasa's port.
        action_port: The action server's port.
        token: The HTTP API's token; a random one when omitted (see ``Service.token``).
        model: The model file or the folder of models.
        env: Extra environment, over :func:`rasa_env`'s.
    """
    token = token or new_rasa_token()
    argv = [
        str(RASA_BIN),
        "run",
        "--enable-api",
        # "=" keeps a token from the environment that starts with "-" a value.
        f"--auth-token={token}",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "--model",
        str(model),
        "--endpoints",
        str(REPO / "bot" / "endpoints.yml"),
        "--credentials",
        str(REPO / "bot" / "credentials.yml"),
    ]
    merged = {**rasa_env(action_port), **(env or {})}
    return Service(
        "rasa",
        argv,
        port,
        # /status is part of the HTTP API: it needs the token too.
        f"/status?token={token}",
        merged,
        ready=lambda r: r.status_code == 200 and bool(r.json().get("model_id")),
        token=token,
    )


#: How long Rasa may wait for one action call before the guard answers 504 (Rasa's own
#: timeout is five minutes and cannot be configured in 3.6): the shopper then gets
#: "please try again in a moment" within 2 s instead of waiting on a hung action server.
ACTION_TIMEOUT_MS = 1500
HAPROXY = Path(shutil.which("haproxy") or "/usr/sbin/haproxy")


def haproxy_config(port: int, backends: Sequence[int], *, timeout_ms: int) -> str:
    """HAProxy in front of the action server(s): a bounded call, health checks, balance.

    ``timeout server`` bounds a hung action server; ``retries``/``redispatch`` only move
    a call whose connection was refused (a dead worker) to another worker, never one an
    action server has started on (POSTs are not replayed).
    """
    servers = "\n".join(
        f"    server actions{i} 127.0.0.1:{p} check inter 1s fall 2 rise 1"
        for i, p in enumerate(backends, 1)
    )
    return f"""global
    maxconn 4096

defaults
    mode http
    option httplog
    timeout connect 500ms
    timeout client 30s
    timeout server {timeout_ms}ms
    timeout queue {timeout_ms}ms
    retries 1
    option redispatch
    http-reuse never

frontend action_guard
    bind 127.0.0.1:{port}
    default_backend action_servers

backend action_servers
    balance leastconn
    option httpchk GET /health
{servers}
"""


def action_guard_service(
    port: int, backends: Sequence[int], *, timeout_ms: int = ACTION_TIMEOUT_MS
) -> Service:
    """HAProxy on ``port`` (where Rasa sends action calls) in front of ``backends``.

    The config goes to ``var/`` (one file per port); ``-db`` keeps HAProxy in the
    foreground, so the stack supervises it like any other process.
    """
    config = REPO / "var" / f"action-guard-{port}.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(haproxy_config(port, backends, timeout_ms=timeout_ms), encoding="utf-8")
    argv = [str(HAPROXY), "-db", "-f", str(config)]
    return Service("guard", argv, port, "/health")


def guarded_actions(port: int, *, env: Mapping[str, str] | None = None) -> list[Service]:
    """The action server behind its guard on ``port``, or alone there without HAProxy."""
    if not HAPROXY.exists():
        print(
            "HAProxy is not installed (make haproxy): action calls are not bounded, "
            "a hung action server keeps shoppers waiting",
            file=sys.stderr,
        )
        return [action_service(port, env=env)]
    inner = free_port()
    return [action_service(inner, env=env), action_guard_service(port, [inner])]


def action_service(port: int, *, env: Mapping[str, str] | None = None) -> Service:
    """The rasa_sdk action server running our ``actions`` package."""
    argv = [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(port)]
    merged = {
        "SANIC_HOST": "127.0.0.1",
        "ACTION_SERVER_SANIC_WORKERS": "1",
        # Ready means warm: /health answers once the parsers are built (actions.runtime).
        "ADVISOR_WARM_UP": "1",
        **(env or {}),
    }
    return Service("actions", argv, port, "/health", merged)


def web_service(
    port: int | socket.socket,
    rasa_url: str,
    *,
    rasa_token: str = "",
    env: Mapping[str, str] | None = None,
) -> Service:
    """The FastAPI web app (shop page, chat proxy).

    Args:
        port: The web app's port, or a listening socket (:func:`listening_socket`) that
            uvicorn takes over.
        rasa_url: Where Rasa listens.
        rasa_token: The token of Rasa's HTTP API (``Service.token`` of
            :func:`rasa_service`), handed over as ``RASA_TOKEN``; empty leaves the
            environment's.
        env: Extra environment.
    """
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "web.app:create_app",
        "--factory",
        *(
            ["--fd", str(port.fileno())]
            if isinstance(port, socket.socket)
            else ["--host", "127.0.0.1", "--port", str(port)]
        ),
        # Open live-chat streams would hold a stop for up to their 30 s reconnect time;
        # the widget reconnects and loses nothing, so a stop need not wait for them.
        "--timeout-graceful-shutdown",
        "5",
    ]
    base = {"RASA_URL": rasa_url, **({"RASA_TOKEN": rasa_token} if rasa_token else {})}
    if isinstance(port, socket.socket):
        held, number = port, int(port.getsockname()[1])
    else:
        held, number = None, port
    return Service("web", argv, number, "/healthz", {**base, **(env or {})}, sock=held)


class DeprecationNoise:
    """Tells Python's deprecation warnings of Rasa's dependencies from what matters.

    Rasa prints a screenful of them at start-up (pkg_resources, distutils, pyparsing,
    jax …), none of them ours to fix. ``PYTHONWARNINGS`` cannot silence them: Sanic's
    import puts ``filterwarnings("once", category=DeprecationWarning)`` in front of every
    filter. So the launcher drops such a warning's lines from what it shows: the header
    (``file.py:12: SomethingDeprecationWarning: …``) and the lines that continue it (the
    source line, indented, and a wrapped message), up to the next line that is neither.
    """

    _HEADER = re.compile(r"^\S+\.py:\d+: \w*(?:Deprecation|PendingDeprecation|MovedIn20)Warning: ")
    _WRAPPED = ("Implementing implicit namespace packages",)

    def __init__(self) -> None:
        self._in_warning = False

    def is_noise(self, line: str) -> bool:
        """Whether ``line`` belongs to a deprecation warning (call for each line in order)."""
        if self._HEADER.match(line):
            self._in_warning = True
            return True
        if self._in_warning and (line.startswith((" ", "\t")) or line.startswith(self._WRAPPED)):
            return True
        self._in_warning = False
        return False


class Stack:
    """Starts services, prefixes their output, waits until ready, stops them all."""

    def __init__(self, services: list[Service], *, log: IO[str] | None = None) -> None:
        self.services = services
        self.log = log if log is not None else sys.stdout
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    def __getitem__(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def _pump(self, service: Service, stream: IO[bytes]) -> None:
        width = max(len(s.name) for s in self.services)
        noise = DeprecationNoise()
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if noise.is_noise(line):
                continue
            with self._write_lock:
                self.log.write(f"[{service.name:<{width}}] {line}\n")
                self.log.flush()

    def start(self, *, timeout: float = 180.0) -> None:
        """Start every service and wait until each answers its readiness check."""
        for service in self.services:
            env = {**os.environ, **service.env, "PYTHONUNBUFFERED": "1"}
            service.process = subprocess.Popen(
                service.argv,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(service.sock.fileno(),) if service.sock else (),
            )
            if service.sock is not None:
                service.sock.close()  # the child holds it now
            assert service.process.stdout is not None
            thread = threading.Thread(
                target=self._pump, args=(service, service.process.stdout), daemon=True
            )
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + timeout
        for service in self.services:
            self._wait_ready(service, deadline)

    def _wait_ready(self, service: Service, deadline: float) -> None:
        assert service.process is not None
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if service.process.poll() is not None:
                    raise RuntimeError(
                        f"{service.name} exited with code "
                        f"{service.process.returncode} while starting"
                    )
                try:
                    if service.ready(client.get(service.url + service.ready_path)):
                        return
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.3)
        raise TimeoutError(f"{service.name} was not ready on {service.url} in time")

    def stop(self, *, grace: float = 10.0) -> None:
        """Stop every service: its main process first, then whatever is left of its group.

        Sanic (Rasa and rasa_sdk) runs a manager with workers and helpers; signalling the
        whole group at once kills a helper before the manager and prints a BrokenPipe
        traceback, so the manager gets the first word and shuts its children down.
        """
        running = [s for s in self.services if s.process is not None and s.process.poll() is None]
        for service in running:
            assert service.process is not None
            service.process.terminate()
        deadline = time.monotonic() + grace
        for service in running:
            assert service.process is not None
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for service in self.services:
            if service.process is None:
                continue
            for sig in (signal.SIGTERM, signal.SIGKILL):  # leftovers of the group
                try:
                    os.killpg(service.process.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            try:
                service.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for thread in self._threads:
            thread.join(timeout=2)

    @contextmanager
    def running(self, *, timeout: float = 180.0) -> Iterator[Stack]:
        """Context manager: started on entry, stopped on exit whatever happens."""
        try:
            self.start(timeout=timeout)
            yield self
        finally:
            self.stop()


def ensure_admin(env: Mapping[str, str] | None = None) -> list[str] | None:
    """Run ``advisor users ensure-admin``; its lines (a new admin's password) or ``None``.

    The lines are shown with the URLs once everything is up, not before the services'
    start-up output, where they would scroll away.
    """
    done = subprocess.run(
        [sys.executable, "-m", "advisor.cli", "users", "ensure-admin"],
        cwd=REPO,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr.strip() or "advisor users ensure-admin failed", file=sys.stderr)
        return None
    return [line for line in done.stdout.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the stack in the foreground until Ctrl-C (``make run``)."""
    parser = argparse.ArgumentParser(description="Run Rasa, the action server and the web app.")
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--web-port", type=int, default=8000)
    parser.add_argument(
        "--model", type=Path, default=MODELS, help="model file or folder (bot/models)"
    )
    args = parser.parse_args(argv)
    if not RASA_BIN.exists():
        print("Rasa is not installed: run `make run` (it installs .venv-rasa).", file=sys.stderr)
        return 1
    if trained_model(args.model) is None:
        # Rasa starts without a model and then answers every message with nothing.
        print(
            f"no trained Rasa model in {args.model}: run `make train` first "
            "(about 6 minutes on 2 cores), or `make run`, which trains when the model is missing.",
            file=sys.stderr,
        )
        return 1
    migrated = subprocess.run(
        [sys.executable, "-m", "advisor.cli", "db", "upgrade"], cwd=REPO, check=False
    )
    if migrated.returncode != 0:
        return 1
    admin_notice = ensure_admin()
    if admin_notice is None:
        return 1
    # Only Rasa and the web app know the token: a new one per start unless one is given.
    from advisor.settings import get_settings  # not at the top: tests import the launcher

    token = get_settings().rasa_token or new_rasa_token()
    rasa = rasa_service(args.rasa_port, args.action_port, token=token, model=args.model)
    web = web_service(args.web_port, rasa.url, rasa_token=token)
    stack = Stack([*guarded_actions(args.action_port), rasa, web])
    stop = threading.Event()
    # Handle both explicitly: a shell that starts us in the background ignores SIGINT,
    # and the services run in their own sessions, so we are the one who stops them.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        print(
            "starting the action server, Rasa (loading the model takes about a minute) "
            "and the web app…",
            flush=True,
        )
        stack.start(timeout=300)
        print(
            f"\n  shop page + chat:  http://localhost:{args.web_port}/\n"
            f"  Rasa REST channel: http://localhost:{args.rasa_port}/webhooks/rest/webhook\n"
            f"  action server:     http://localhost:{args.action_port}/health\n"
            f"  staff console:     http://localhost:{args.web_port}/console\n"
            f"  rule workbench:    http://localhost:{args.web_port}/admin/rules\n"
            f"  staff sign-in:     http://localhost:{args.web_port}/login\n"
            + "".join(f"  {line}\n" for line in admin_notice)
            + "  Ctrl-C stops everything.\n",
            flush=True,
        )
        admin_notice = []
        while not stop.wait(1.0):
            if any(s.process is not None and s.process.poll() is not None for s in stack.services):
                print("a service stopped; shutting down the rest", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping…", flush=True)
        stack.stop()
        for line in admin_notice:  # the stack did not come up: do not lose the password
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
