"""The settings of every package of ours, read once from the environment.

One object for the web app, the action server and the command lines of the advisor, the
catalogue and the rules: each reads :func:`get_settings`, and no other module of theirs
reads the environment. The libraries below (:mod:`catalog`, :mod:`product_rules`) take
what they need as arguments; their command lines, being entry points, read these
settings. The launchers (:mod:`web.stack`, :mod:`web.production`) read these settings
too, plus their own command-line options (ports, how many processes), and hand the
variables below to the processes they start.

Variables:
    RASA_URL: base URL of the Rasa server (default ``http://localhost:5005``).
    RASA_TIMEOUT_SECONDS: how long one call to Rasa may take (default 30).
    DATABASE_URL: the database of the catalogue and the advisor (default: the SQLite
        file ``var/catalog.db``).
    PRODUCT_RULES_DIR: the rule sets in service (default ``product_rules/rules``).
    APP_ENV: ``development`` (default) or ``production``.
    WEB_SECRET_KEY: signs the staff session cookie and the shopper's conversation
        cookie. Required in production; in development a random key is made once and
        kept in ``var/secret_key`` (mode 0600), so a restart keeps everyone signed in
        and every shopper's conversation.
    WEB_COOKIE_SECURE: ``true`` sends the session cookies over HTTPS only, even when the
        app sees plain HTTP behind a proxy (default: true in production). Over HTTPS the
        cookie is always marked Secure.
    SHARE_DAYS: how many days a shared configuration link stays valid (default 14).
    RASA_TOKEN: the token of Rasa's HTTP API (``rasa run --enable-api --auth-token``);
        the web app sends it with every call to ``/conversations/…``. Required in
        production; ``make run`` and the test stacks make a random one per start and
        hand it to both Rasa and the web app. Unset in development, calls carry no token
        (for a Rasa started without ``--auth-token``).
    CONVERSATION_DAYS: how many days of silence a shopper's conversation cookie
        survives (default 30); every message starts the count again.
    LIVE_CHANNEL_URL: the live channel of the hand-over's chats: empty (default) for
        one process (in-process queues, no server), ``redis://host:6379/0`` when several
        web processes run.
    HANDOVER_ACCEPT_SECONDS: how long a shopper's request for a person waits for a
        staff member to accept it before they are told nobody is free (default 60).
    RULES_MERCHANDISERS_PUBLISH: ``true`` lets merchandisers publish and roll back rule
        sets themselves (default false: merchandisers write drafts, admins publish).
    TRACKER_STORE_URL: Rasa's SQL tracker store (default: the SQLite file
        ``var/tracker.db`` that ``make run`` gives Rasa).
    ADVISOR_EVENTS: ``off`` stops recording analytics events (default on).
    ADVISOR_WARM_UP: ``1`` makes the action server build every parser before it listens
        (set by the launchers).
    RETENTION_DAYS: how many days after its last activity a conversation is kept before
        ``advisor privacy purge`` erases it (default 30); the widget's notice says so.
    PRIVACY_URL_DE, PRIVACY_URL_EN: the shop's privacy page the widget's notice links to,
        per language (``https://…`` or a path of this site); unset, the notice links to
        the advisor's own page (``/de/datenschutz``, ``/en/privacy``).
    PRIVACY_NOTICE_DE, PRIVACY_NOTICE_EN: the notice's text, per language, replacing the
        catalogue's (plain text, at most 2,000 characters); unset, the catalogue's
        sentence is shown, with the retention days.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from product_rules.registry import DEFAULT_RULES_DIR

__all__ = ["APP_ENVS", "REPO_ROOT", "Settings", "get_settings", "load_or_create_secret_key"]

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_RASA_URL = "http://localhost:5005"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'var' / 'catalog.db'}"
DEFAULT_TRACKER_STORE_URL = f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"
DEFAULT_SHARE_DAYS = 14
DEFAULT_CONVERSATION_DAYS = 30
DEFAULT_ACCEPT_SECONDS = 60.0
DEFAULT_RETENTION_DAYS = 30
MAX_NOTICE_LENGTH = 2000
DEFAULT_VAR_DIR = REPO_ROOT / "var"
APP_ENVS = ("development", "production")
MIN_PRODUCTION_KEY_LENGTH = 32
_KEY_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything our processes are configured with.

    Attributes:
        rasa_url: Base URL of the Rasa server, without a trailing slash.
        request_timeout_s: Seconds one call to Rasa may take before the shopper
            is told the advisor is unavailable.
        database_url: The catalogue's and the advisor's database.
        rules_dir: The folder of rule sets in service.
        app_env: ``development`` or ``production``; production turns off the API docs
            and refuses to start without a secret key.
        cookie_secure: Mark the session cookie Secure even on plain HTTP requests.
        share_days: Days a shared configuration link stays valid.
        secret_key: Signs the session cookie and the conversation cookie. Left empty,
            development gets a random key for this object's lifetime; production refuses
            to start.
        rasa_token: Token of Rasa's HTTP API; empty sends none (development only).
        conversation_days: Days of silence after which the conversation cookie expires.
        live_channel_url: The live channel (``redis://…``); empty for in-process.
        handover_accept_s: Seconds a request for a person waits to be accepted.
        merchandisers_publish: Whether merchandisers may publish and roll back rule sets
            (otherwise only admins may).
        tracker_store_url: Rasa's SQL tracker store (read by privacy's erase and purge).
        events_enabled: Whether analytics events are recorded.
        warm_up: Whether the action server builds every parser before it listens.
        retention_days: Days after its last activity a conversation is purged.
        privacy_url_de: The shop's privacy page for German shoppers; empty: our own.
        privacy_url_en: The same for English shoppers.
        privacy_notice_de: The widget's privacy notice in German; empty: the catalogue's.
        privacy_notice_en: The same in English.
    """

    rasa_url: str = DEFAULT_RASA_URL
    request_timeout_s: float = DEFAULT_TIMEOUT_SECONDS
    database_url: str = DEFAULT_DATABASE_URL
    rules_dir: Path = DEFAULT_RULES_DIR
    app_env: str = "development"
    cookie_secure: bool = False
    share_days: int = DEFAULT_SHARE_DAYS
    secret_key: str = field(default="", repr=False, compare=False)
    rasa_token: str = field(default="", repr=False, compare=False)
    conversation_days: int = DEFAULT_CONVERSATION_DAYS
    live_channel_url: str = field(default="", repr=False)
    handover_accept_s: float = DEFAULT_ACCEPT_SECONDS
    merchandisers_publish: bool = False
    tracker_store_url: str = field(default=DEFAULT_TRACKER_STORE_URL, repr=False)
    events_enabled: bool = True
    warm_up: bool = False
    retention_days: int = DEFAULT_RETENTION_DAYS
    privacy_url_de: str = ""
    privacy_url_en: str = ""
    privacy_notice_de: str = ""
    privacy_notice_en: str = ""

    def __post_init__(self) -> None:
        # Normalise here so every way of building settings (env, tests) agrees.
        object.__setattr__(self, "rasa_url", self.rasa_url.rstrip("/"))
        if not self.rasa_url.startswith(("http://", "https://")):
            raise ValueError(f"RASA_URL must start with http:// or https://, got {self.rasa_url!r}")
        if not self.request_timeout_s > 0:
            raise ValueError(
                f"RASA_TIMEOUT_SECONDS must be a positive number, got {self.request_timeout_s!r}"
            )
        if self.app_env not in APP_ENVS:
            raise ValueError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {self.app_env!r}")
        if not self.share_days > 0:
            raise ValueError(f"SHARE_DAYS must be a positive number of days, got {self.share_days}")
        if not self.conversation_days > 0:
            raise ValueError(
                f"CONVERSATION_DAYS must be a positive number of days, got {self.conversation_days}"
            )
        if not self.handover_accept_s > 0:
            raise ValueError(
                "HANDOVER_ACCEPT_SECONDS must be a positive number of seconds, "
                f"got {self.handover_accept_s!r}"
            )
        if not self.retention_days > 0:
            raise ValueError(
                f"RETENTION_DAYS must be a positive number of days, got {self.retention_days}"
            )
        for language in ("de", "en"):
            url = getattr(self, f"privacy_url_{language}")
            if url and not (
                url.startswith(("https://", "http://"))
                or (url.startswith("/") and not url.startswith("//"))
            ):
                raise ValueError(
                    f"PRIVACY_URL_{language.upper()} must start with https://, http:// or / "
                    f"(a page of this site), got {url!r}"
                )
            notice = getattr(self, f"privacy_notice_{language}")
            if len(notice) > MAX_NOTICE_LENGTH:
                raise ValueError(
                    f"PRIVACY_NOTICE_{language.upper()} is {len(notice)} characters long: "
                    f"keep it to {MAX_NOTICE_LENGTH} and link the rest (PRIVACY_URL_"
                    f"{language.upper()})"
                )
        if self.production:
            if not self.secret_key:
                raise ValueError(
                    "WEB_SECRET_KEY must be set when APP_ENV=production: it signs the staff "
                    f"session cookie. Make one with: {_KEY_HINT}"
                )
            if len(self.secret_key) < MIN_PRODUCTION_KEY_LENGTH:
                raise ValueError(
                    f"WEB_SECRET_KEY is too short: use at least {MIN_PRODUCTION_KEY_LENGTH} "
                    f"random characters, for example from: {_KEY_HINT}"
                )
            if not self.rasa_token:
                raise ValueError(
                    "RASA_TOKEN must be set when APP_ENV=production: it is the token Rasa's "
                    "HTTP API was started with (rasa run --enable-api --auth-token …). "
                    f"Make one with: {_KEY_HINT}"
                )
        elif not self.secret_key:
            object.__setattr__(self, "secret_key", secrets.token_urlsafe(32))

    @property
    def production(self) -> bool:
        """Whether the app runs with ``APP_ENV=production``."""
        return self.app_env == "production"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, var_dir: Path = DEFAULT_VAR_DIR
    ) -> Settings:
        """Build settings from environment variables.

        Args:
            env: Variables to read; ``os.environ`` when omitted.
            var_dir: Where development keeps its generated ``secret_key``.

        Returns:
            The settings, with defaults for anything unset.

        Raises:
            ValueError: A variable is unset or set to something unusable; the message
                names it.
        """
        env = os.environ if env is None else env
        timeout = _seconds(env, "RASA_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        share_days = _days(env, "SHARE_DAYS", DEFAULT_SHARE_DAYS)
        conversation_days = _days(env, "CONVERSATION_DAYS", DEFAULT_CONVERSATION_DAYS)
        accept_s = _seconds(env, "HANDOVER_ACCEPT_SECONDS", DEFAULT_ACCEPT_SECONDS)
        app_env = env.get("APP_ENV", "").strip().lower() or "development"
        secret_key = env.get("WEB_SECRET_KEY", "").strip()
        if not secret_key and app_env == "development":
            secret_key = load_or_create_secret_key(var_dir / "secret_key")
        return cls(
            rasa_url=env.get("RASA_URL", DEFAULT_RASA_URL),
            request_timeout_s=timeout,
            database_url=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            rules_dir=Path(env.get("PRODUCT_RULES_DIR", str(DEFAULT_RULES_DIR))),
            app_env=app_env,
            cookie_secure=_flag(env, "WEB_COOKIE_SECURE", default=app_env == "production"),
            share_days=share_days,
            secret_key=secret_key,
            rasa_token=env.get("RASA_TOKEN", "").strip(),
            conversation_days=conversation_days,
            live_channel_url=env.get("LIVE_CHANNEL_URL", "").strip(),
            handover_accept_s=accept_s,
            merchandisers_publish=_flag(env, "RULES_MERCHANDISERS_PUBLISH", default=False),
            tracker_store_url=env.get("TRACKER_STORE_URL", "").strip() or DEFAULT_TRACKER_STORE_URL,
            events_enabled=_flag(env, "ADVISOR_EVENTS", default=True),
            warm_up=env.get("ADVISOR_WARM_UP", "").strip() == "1",
            retention_days=_days(env, "RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
            privacy_url_de=env.get("PRIVACY_URL_DE", "").strip(),
            privacy_url_en=env.get("PRIVACY_URL_EN", "").strip(),
            privacy_notice_de=env.get("PRIVACY_NOTICE_DE", "").strip(),
            privacy_notice_en=env.get("PRIVACY_NOTICE_EN", "").strip(),
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of days, got {raw!r}") from None


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def load_or_create_secret_key(path: Path) -> str:
    """Read the development key at ``path``, creating it (mode 0600) on first use.

    Creation is atomic (a temporary file linked into place), so processes starting
    together agree on one key.
    """
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its key
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


@cache
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use."""
    return Settings.from_env()
