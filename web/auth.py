"""The staff session cookie, CSRF tokens and the refusals the web layer turns into HTTP.

The cookie (``staff_session``) is signed with itsdangerous and holds two random values:
the CSRF token of this browser and, once signed in, the token of a server-side login
session (:mod:`advisor.accounts`). Signing in replaces both (no session fixation, no
token carried over from before the login); signing out ends the server-side session
and deletes the cookie. The cookie is HttpOnly, SameSite=Lax, and Secure on HTTPS or
when the settings say so. It is only set when something was stored in it, so the shop
page leaves shoppers without one.

CSRF: every state-changing request to a staff area, ``/login`` and ``/logout`` must
carry the session's token in the form field ``csrf_token`` or the ``X-CSRF-Token``
header (a synchronizer token; templates get it from ``csrf_token()``).

Refusals (raised by :mod:`web.deps`, shown by :mod:`web.app` as a page for a browser
or JSON for an API call)::

    AccessError
    ├── LoginRequiredError   no login: 303 to /login?next=… or 401 ``login_required``
    ├── RoleForbiddenError   the user's role is too low: 403 ``forbidden``
    └── CsrfError            missing or wrong CSRF token: 403 ``csrf_failed``
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advisor.accounts import LOGIN_SESSION_LIFETIME, StaffUserPublic

__all__ = [
    "COOKIE_NAME",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "AccessError",
    "CsrfError",
    "LoginRequiredError",
    "RoleForbiddenError",
    "SessionCookieMiddleware",
    "StaffSession",
    "check_csrf",
    "login_url",
    "safe_next",
    "same_origin",
    "staff_session",
    "wants_html",
]

COOKIE_NAME = "staff_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCOPE_KEY = "staff_session"
_MAX_AGE = int(LOGIN_SESSION_LIFETIME.total_seconds())
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class AccessError(Exception):
    """A request the web layer refuses; :mod:`web.app` shows it."""


class LoginRequiredError(AccessError):
    """Nobody is signed in; ``next_path`` is where to return after the login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(f"login required for {next_path}")
        self.next_path = next_path


class RoleForbiddenError(AccessError):
    """The signed-in user's role does not include ``required``."""

    def __init__(self, user: StaffUserPublic, required: str) -> None:
        super().__init__(f"{user.name} ({user.role}) may not open what needs {required}")
        self.user = user
        self.required = required


class CsrfError(AccessError):
    """A state-changing request without this session's CSRF token."""


class StaffSession:
    """What the signed cookie holds; changes are written back with the response."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self._data: dict[str, str] = {
            k: v for k, v in (data or {}).items() if k in ("csrf", "login") and isinstance(v, str)
        }
        self.modified = False

    @property
    def login_token(self) -> str | None:
        """The server-side login session's token, when signed in."""
        return self._data.get("login")

    @property
    def empty(self) -> bool:
        """Whether nothing is stored (the cookie is then deleted or never set)."""
        return not self._data

    def csrf_token(self) -> str:
        """This browser's CSRF token, made on first use."""
        if "csrf" not in self._data:
            self._data["csrf"] = secrets.token_urlsafe(32)
            self.modified = True
        return self._data["csrf"]

    def check_csrf(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is this session's CSRF token (constant-time)."""
        expected = self._data.get("csrf")
        return bool(expected and candidate) and secrets.compare_digest(
            str(expected).encode(), str(candidate).encode()
        )

    def begin_login(self, login_token: str) -> None:
        """Start a signed-in session: a new login token and a new CSRF token."""
        self._data = {"login": login_token, "csrf": secrets.token_urlsafe(32)}
        self.modified = True

    def forget_login(self) -> None:
        """Drop a login token the server no longer knows (expired or revoked)."""
        if self._data.pop("login", None) is not None:
            self.modified = True

    def clear(self) -> None:
        """Forget everything; the response deletes the cookie."""
        self._data = {}
        self.modified = True

    def dump(self) -> dict[str, str]:
        """The values to sign into the cookie."""
        return dict(self._data)


def staff_session(connection: HTTPConnection) -> StaffSession:
    """The session :class:`SessionCookieMiddleware` attached to this request."""
    session = connection.scope.get(_SCOPE_KEY)
    if not isinstance(session, StaffSession):
        raise RuntimeError("SessionCookieMiddleware is not installed (see web.app.create_app)")
    return session


class SessionCookieMiddleware:
    """Reads the signed ``staff_session`` cookie and writes it back when it changed."""

    def __init__(self, app: ASGIApp, *, secret_key: str, always_secure: bool = False) -> None:
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret_key, salt="web.staff-session")
        self.always_secure = always_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Attach the session to the scope; add ``Set-Cookie`` when it changed."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(COOKIE_NAME)
        session = StaffSession(self._load(raw) if raw else None)
        scope[_SCOPE_KEY] = session
        secure = self.always_secure or scope.get("scheme") in ("https", "wss")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if session.modified:
                    headers.append("Set-Cookie", self._cookie(session, secure=secure))
                if session.login_token and not scope["path"].startswith("/static/"):
                    # Signed-in pages must not stay in a shared shop computer's cache.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, raw: str) -> dict[str, Any] | None:
        try:
            data = self.serializer.loads(raw, max_age=_MAX_AGE)
        except BadSignature:  # forged, from another key, or expired: start afresh
            return None
        return data if isinstance(data, dict) else None

    def _cookie(self, session: StaffSession, *, secure: bool) -> str:
        flags = "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
        if session.empty:
            return f"{COOKIE_NAME}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; {flags}"
        value = self.serializer.dumps(session.dump())
        return f"{COOKIE_NAME}={value}; Max-Age={_MAX_AGE}; {flags}"


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request without the session's CSRF token.

    Raises:
        CsrfError: The token is missing or wrong.
    """
    if request.method in SAFE_METHODS:
        return
    session = staff_session(request)
    candidate = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if candidate is None and content_type.startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        candidate = value if isinstance(value, str) else None
    if not session.check_csrf(candidate):
        raise CsrfError("missing or wrong CSRF token")


def same_origin(connection: HTTPConnection) -> bool:
    """Whether the ``Origin`` header names this site (the host the client asked for)."""
    origin = connection.headers.get("origin")
    host = connection.headers.get("host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def wants_html(connection: HTTPConnection) -> bool:
    """Whether a person's browser asked (a page), rather than a script (an API call)."""
    path = connection.url.path
    if path.startswith("/api/") or "/api/" in path:
        return False
    return "text/html" in connection.headers.get("accept", "")


def safe_next(value: str | None) -> str | None:
    r"""``value`` if it is a path on this site to return to after a login, else ``None``.

    Only relative paths are kept: ``//evil.example``, ``/\\evil.example``, absolute URLs
    and control characters are refused, so the login page cannot send anyone away.
    """
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    if parts.path in ("/login", "/logout"):
        return None
    return value


def login_url(next_path: str | None) -> str:
    """The login page, returning to ``next_path`` when it is safe."""
    target = safe_next(next_path)
    return "/login" if target is None else f"/login?next={quote(target, safe='/')}"
