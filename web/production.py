"""The production profile on one machine (``make run-prod``): every process several times.

What runs (ports are the defaults; everything binds 127.0.0.1 unless ``--bind`` says)::

    shop's TLS proxy ──► HAProxy :8000 ──► web-1 … web-W (uvicorn, one process each)
                                             │ RASA_URL
                                             ▼
                         HAProxy :5005 ──► rasa-1 … rasa-N (Rasa 3.6, one model each)
                                             │ tracker store: PostgreSQL (advisor_tracker)
                                             │ lock store:    Redis (one conversation at
                                             │                a time, whichever instance)
                                             ▼ ACTION_ENDPOINT_URL
                         HAProxy :5055 ──► actions-1 … actions-M (rasa_sdk, one worker each)
                                             │
                                             ▼
                         PostgreSQL (advisor): catalogue, rule versions, accounts, events

Any Rasa instance serves any conversation: the tracker is in PostgreSQL and Redis locks
each conversation while one instance works on it, so HAProxy balances freely and a dead
instance's conversations go on at another one. Action calls are bounded by HAProxy's
``timeout server`` (:data:`web.stack.ACTION_TIMEOUT_MS`), as in ``make run``.

supervisord (the ``supervisor`` package) starts the processes, restarts one that dies
and keeps a log per process in ``var/prod/logs/``; ``supervisorctl -c
var/prod/supervisord.conf status`` shows them. Its config is written on every start
(mode 0600: it holds the secrets), from the same service definitions ``make run`` uses
(:mod:`web.stack`).

Secrets: ``WEB_SECRET_KEY`` and ``RASA_TOKEN`` come from the environment; when unset, a
random pair is made once and kept in ``var/prod/secrets.env`` (mode 0600), never a fixed
default. The session cookies are marked Secure unless ``WEB_COOKIE_SECURE=false``: set
that only when trying the profile over plain HTTP on this machine.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from web.stack import (
    ACTION_TIMEOUT_MS,
    HAPROXY,
    MODELS,
    RASA_BIN,
    REPO,
    Service,
    action_service,
    ensure_admin,
    free_port,
    rasa_service,
    trained_model,
    web_service,
)

__all__ = [
    "ProductionPlan",
    "database_on",
    "drop_databases",
    "haproxy_config",
    "main",
    "plan_services",
    "supervisord_config",
]

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/advisor"
DEFAULT_TRACKER_STORE_URL = "postgresql://postgres@127.0.0.1:5432/advisor_tracker"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
STATE_DIR = REPO / "var" / "prod"


@dataclass
class ProductionPlan:
    """How many of each process, where they listen and what they share."""

    rasa_instances: int = 2
    action_workers: int = 2
    web_workers: int = 2
    web_port: int = 8000
    rasa_port: int = 5005
    action_port: int = 5055
    bind: str = "127.0.0.1"
    database_url: str = DEFAULT_DATABASE_URL
    tracker_store_url: str = DEFAULT_TRACKER_STORE_URL
    redis_url: str = DEFAULT_REDIS_URL
    model: Path = MODELS
    state_dir: Path = STATE_DIR
    action_timeout_ms: int = ACTION_TIMEOUT_MS
    web_secret_key: str = field(default="", repr=False)
    rasa_token: str = field(default="", repr=False)
    cookie_secure: bool = True
    #: Internal ports of the instances behind HAProxy (chosen at start).
    rasa_ports: list[int] = field(default_factory=list)
    action_ports: list[int] = field(default_factory=list)
    web_ports: list[int] = field(default_factory=list)

    def choose_ports(self) -> None:
        """Free loopback ports for the instances behind the load balancer."""
        self.rasa_ports = [free_port() for _ in range(self.rasa_instances)]
        self.action_ports = [free_port() for _ in range(self.action_workers)]
        self.web_ports = [free_port() for _ in range(self.web_workers)]

    @property
    def logs(self) -> Path:
        """Where supervisord keeps one log per process."""
        return self.state_dir / "logs"

    @property
    def supervisor_conf(self) -> Path:
        """The generated supervisord config."""
        return self.state_dir / "supervisord.conf"


def plan_services(plan: ProductionPlan) -> list[Service]:
    """Every process of the profile but HAProxy, as :mod:`web.stack` defines them."""
    redis = urlsplit(plan.redis_url)
    services: list[Service] = []
    for i, port in enumerate(plan.action_ports, 1):
        service = action_service(port, env={"DATABASE_URL": plan.database_url})
        service.name = f"actions-{i}"
        services.append(service)
    for i, port in enumerate(plan.rasa_ports, 1):
        service = rasa_service(
            port,
            plan.action_port,
            token=plan.rasa_token,
            model=plan.model,
            env={
                "TRACKER_STORE_URL": plan.tracker_store_url,
                "LOCK_STORE": "redis",
                "LOCK_STORE_HOST": redis.hostname or "127.0.0.1",
                "LOCK_STORE_PORT": str(redis.port or 6379),
            },
        )
        service.name = f"rasa-{i}"
        services.append(service)
    # One uvicorn process per port rather than ``--workers``: a worker whose master was
    # killed keeps the port, and the restarted master could not bind it.
    for i, port in enumerate(plan.web_ports, 1):
        web = web_service(
            port,
            f"http://127.0.0.1:{plan.rasa_port}",
            rasa_token=plan.rasa_token,
            env={
                "APP_ENV": "production",
                "DATABASE_URL": plan.database_url,
                "WEB_SECRET_KEY": plan.web_secret_key,
                "WEB_COOKIE_SECURE": "true" if plan.cookie_secure else "false",
                # Several web processes: the live chats' channel must be shared.
                "LIVE_CHANNEL_URL": plan.redis_url,
            },
        )
        web.name = f"web-{i}"
        services.append(web)
    return services


def haproxy_config(plan: ProductionPlan) -> str:
    """HAProxy in front of the web processes, the Rasa instances and the action servers.

    Web: the public port; the live chat's event streams stay open up to two minutes,
    hence the long client and server timeouts there. Rasa: health-checked on ``GET /``
    (no token needed), least connections; a call whose connection is refused (a dead
    instance) is sent to another one. Actions: the bounded call of
    :func:`web.stack.haproxy_config`.
    """

    def servers(prefix: str, ports: Sequence[int]) -> str:
        return "\n".join(
            f"    server {prefix}{i} 127.0.0.1:{p} check inter 1s fall 2 rise 1"
            for i, p in enumerate(ports, 1)
        )

    return f"""global
    maxconn 8192

defaults
    mode http
    timeout connect 500ms
    timeout client 60s
    retries 2
    option redispatch
    # A new connection to the server for each request: a dead instance then refuses the
    # connection and the request goes to another one. A reused connection to a killed
    # instance would fail a request already sent, which HAProxy must not replay.
    http-reuse never

frontend web
    bind {plan.bind}:{plan.web_port}
    timeout client 150s
    option forwardfor
    default_backend web_processes

backend web_processes
    balance leastconn
    retry-on conn-failure empty-response
    timeout server 150s
    option httpchk GET /healthz
{servers("web", plan.web_ports)}

frontend rasa
    bind 127.0.0.1:{plan.rasa_port}
    default_backend rasa_instances

backend rasa_instances
    balance leastconn
    # An instance that died as the request reached it: the request goes to another.
    # (One that died after its work but before answering would see the message twice.)
    retry-on conn-failure empty-response
    timeout server 30s
    timeout queue 10s
    option httpchk GET /
{servers("rasa", plan.rasa_ports)}

frontend actions
    bind 127.0.0.1:{plan.action_port}
    default_backend action_servers

backend action_servers
    balance leastconn
    timeout server {plan.action_timeout_ms}ms
    timeout queue {plan.action_timeout_ms}ms
    option httpchk GET /health
{servers("actions", plan.action_ports)}
"""


def _ini_value(value: str) -> str:
    # supervisord expands %(name)s in its config: a literal % is written %%.
    return value.replace("%", "%%")


def _program(name: str, argv: Sequence[str], env: Mapping[str, str], plan: ProductionPlan) -> str:
    environment = ",".join(
        f'{k}="{_ini_value(v)}"' for k, v in sorted(env.items()) if '"' not in v and "\n" not in v
    )
    lines = [
        f"[program:{name}]",
        f"command={_ini_value(shlex.join(argv))}",
        f"directory={REPO}",
        *([f"environment={environment}"] if environment else []),
        "autostart=true",
        "autorestart=true",
        # Rasa loads its model for up to a minute: it counts as started after 5 s alive,
        # and a crash loop is given up after 10 tries (supervisorctl start brings it back).
        "startsecs=5",
        "startretries=10",
        "stopsignal=TERM",
        "stopwaitsecs=15",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={plan.logs / (name + '.log')}",
        "stdout_logfile_maxbytes=20MB",
        "stdout_logfile_backups=5",
    ]
    return "\n".join(lines) + "\n"


def supervisord_config(plan: ProductionPlan, services: Sequence[Service], haproxy_cfg: Path) -> str:
    """The supervisord config: HAProxy and every service, restarted when they die.

    Its control socket is 0700 and asks for a password made per start (kept in this
    0600 file, where supervisorctl reads it).
    """
    password = secrets.token_hex(16)
    head = f"""[supervisord]
nodaemon=true
logfile={plan.logs / "supervisord.log"}
pidfile={plan.state_dir / "supervisord.pid"}
childlogdir={plan.logs}

[unix_http_server]
file={plan.state_dir / "supervisor.sock"}
chmod=0700
username=operator
password={password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{plan.state_dir / "supervisor.sock"}
username=operator
password={password}
"""
    programs = [_program("haproxy", [str(HAPROXY), "-db", "-f", str(haproxy_cfg)], {}, plan)]
    for service in services:
        env = {**service.env, "PYTHONUNBUFFERED": "1"}
        programs.append(_program(service.name, service.argv, env, plan))
    return head + "\n" + "\n".join(programs)


def load_secrets(plan: ProductionPlan, env: Mapping[str, str]) -> str | None:
    """Fill in the secrets from ``env`` or ``secrets.env``; a notice when newly made."""
    kept: dict[str, str] = {}
    path = plan.state_dir / "secrets.env"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if value:
                kept[key.strip()] = value.strip()
    notice = None
    for key in ("WEB_SECRET_KEY", "RASA_TOKEN"):
        if env.get(key, "").strip():
            kept[key] = env[key].strip()
        elif key not in kept:
            kept[key] = secrets.token_hex(32)
            notice = f"made new secrets in {path} (set WEB_SECRET_KEY and RASA_TOKEN to choose)"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{k}={v}\n" for k, v in sorted(kept.items())))
    plan.web_secret_key, plan.rasa_token = kept["WEB_SECRET_KEY"], kept["RASA_TOKEN"]
    return notice


def ensure_databases(plan: ProductionPlan) -> None:
    """Create the PostgreSQL databases of the catalogue and the tracker when missing."""
    import psycopg
    from psycopg import sql

    for url in (plan.database_url, plan.tracker_store_url):
        parts = urlsplit(url.replace("+psycopg", ""))
        name = parts.path.lstrip("/")
        server = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created database {name}", flush=True)


def database_on(server: str, name: str, driver: str = "") -> str:
    """The URL of database ``name`` on the PostgreSQL server of URL ``server``."""
    parts = urlsplit(server)
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    return urlunsplit(parts._replace(scheme=scheme, path=f"/{name}"))


def drop_databases(server: str, names: Sequence[str]) -> None:
    """Drop the databases ``names`` on ``server``, their open connections first."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.replace("+psycopg", ""), autocommit=True) as conn:
        for name in names:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def prepare(plan: ProductionPlan) -> list[str]:
    """Databases, the demo catalogue when empty, the admin account; the admin's lines."""
    ensure_databases(plan)
    env = {**os.environ, "DATABASE_URL": plan.database_url}
    # The schema first, by one process: several starting at once would race to create
    # the same tables (seen: a duplicate pg_type on the first chat of two web processes).
    subprocess.run(
        [sys.executable, "-m", "advisor.cli", "db", "upgrade", "--database-url", plan.database_url],
        cwd=REPO,
        env=env,
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "catalog.cli", "build-demo", "--database-url", plan.database_url],
        cwd=REPO,
        env=env,
        check=True,
    )
    lines = ensure_admin(env)
    if lines is None:
        raise RuntimeError("advisor users ensure-admin failed")
    return lines


def write_configs(plan: ProductionPlan) -> list[Service]:
    """Choose the internal ports and write HAProxy's and supervisord's configs (0600)."""
    plan.choose_ports()
    plan.logs.mkdir(parents=True, exist_ok=True)
    services = plan_services(plan)
    haproxy_cfg = plan.state_dir / "haproxy.cfg"
    for path, text in (
        (haproxy_cfg, haproxy_config(plan)),
        (plan.supervisor_conf, supervisord_config(plan, services, haproxy_cfg)),
    ):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    return services


def wait_ready(plan: ProductionPlan, supervisor: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the web app, every Rasa instance (with its model) and the actions answer."""
    checks = [
        f"http://127.0.0.1:{plan.web_port}/healthz",
        *(f"http://127.0.0.1:{p}/healthz" for p in plan.web_ports),
        f"http://127.0.0.1:{plan.rasa_port}/",
        f"http://127.0.0.1:{plan.action_port}/health",
        *(f"http://127.0.0.1:{p}/status?token={plan.rasa_token}" for p in plan.rasa_ports),
    ]
    deadline = time.monotonic() + timeout
    pending = list(checks)
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while pending and time.monotonic() < deadline:
            if supervisor.poll() is not None:
                raise RuntimeError(f"supervisord exited with code {supervisor.returncode}")
            for url in list(pending):
                try:
                    response = client.get(url)
                except httpx.HTTPError:
                    continue
                ok = response.status_code == 200 and (
                    "/status" not in url or bool(response.json().get("model_id"))
                )
                if ok:
                    pending.remove(url)
            time.sleep(0.5)
    if pending:
        shown = [u.split("?", 1)[0] for u in pending]
        raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(shown)}")


def parse_args(argv: Sequence[str] | None) -> tuple[ProductionPlan, float]:
    """The plan from the command line and the environment, and the start-up timeout."""
    parser = argparse.ArgumentParser(description="Run the production profile on this machine.")
    parser.add_argument("--rasa-instances", type=int, default=2)
    parser.add_argument("--action-workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-port", type=int, default=8000)
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--bind", default=os.environ.get("PROD_BIND", "127.0.0.1"))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--tracker-store-url", default=os.environ.get("TRACKER_STORE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--model", type=Path, default=MODELS)
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR)
    parser.add_argument("--start-timeout", type=float, default=420.0)
    args = parser.parse_args(argv)
    for name in ("rasa_instances", "action_workers", "web_workers"):
        if not 1 <= getattr(args, name) <= 16:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 16")
    cookie = os.environ.get("WEB_COOKIE_SECURE", "true").strip().lower()
    return ProductionPlan(
        rasa_instances=args.rasa_instances,
        action_workers=args.action_workers,
        web_workers=args.web_workers,
        web_port=args.web_port,
        rasa_port=args.rasa_port,
        action_port=args.action_port,
        bind=args.bind,
        database_url=args.database_url or DEFAULT_DATABASE_URL,
        tracker_store_url=args.tracker_store_url or DEFAULT_TRACKER_STORE_URL,
        redis_url=args.redis_url or DEFAULT_REDIS_URL,
        model=args.model,
        state_dir=args.state_dir,
        cookie_secure=cookie not in ("false", "0", "no", "off"),
    ), float(args.start_timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the profile under supervisord, wait until ready, run until Ctrl-C."""
    plan, start_timeout = parse_args(argv)
    missing = [
        message
        for ok, message in (
            (RASA_BIN.exists(), "Rasa is not installed: run `make install`"),
            (HAPROXY.exists(), "HAProxy is not installed: run `make haproxy`"),
            (trained_model(plan.model) is not None, "no trained model: run `make train`"),
        )
        if not ok
    ]
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 1
    notice = load_secrets(plan, os.environ)
    try:
        admin_lines = prepare(plan)
    except Exception as exc:  # noqa: BLE001 - said to the operator, with what to check
        print(
            f"could not prepare the databases ({exc}); is PostgreSQL running at "
            f"{urlsplit(plan.database_url).netloc}?",
            file=sys.stderr,
        )
        return 1
    services = write_configs(plan)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(plan.supervisor_conf)],
        cwd=REPO,
        start_new_session=True,
    )
    stop = {"now": False}

    def request_stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        print(
            f"starting {len(services) + 1} processes under supervisord "
            f"({plan.rasa_instances} Rasa, {plan.action_workers} action servers, "
            f"{plan.web_workers} web processes, HAProxy); logs in {plan.logs}…",
            flush=True,
        )
        wait_ready(plan, supervisor, start_timeout)
        print(
            f"\n  shop page + chat:  http://localhost:{plan.web_port}/\n"
            f"  Rasa (HAProxy):    http://localhost:{plan.rasa_port}/ "
            f"→ {plan.rasa_instances} instances\n"
            f"  actions (HAProxy): http://localhost:{plan.action_port}/health "
            f"→ {plan.action_workers} workers\n"
            f"  processes:         .venv/bin/supervisorctl -c {plan.supervisor_conf} status\n"
            + (f"  {notice}\n" if notice else "")
            + "".join(f"  {line}\n" for line in admin_lines)
            + "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stop["now"] and supervisor.poll() is None:
            time.sleep(0.5)
        return 0 if stop["now"] else 1
    except (RuntimeError, TimeoutError) as exc:
        print(f"could not start: {exc} (see {plan.logs})", file=sys.stderr)
        return 1
    finally:
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)  # supervisord stops its programs first
            try:
                supervisor.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(supervisor.pid, signal.SIGKILL)
        print("stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
