"""Staff accounts: users with roles, argon2 passwords, throttled logins, login sessions.

Roles are ordered, ``staff`` < ``merchandiser`` < ``admin``, and a role may open whatever
a lower role may (:func:`role_allows`): an admin opens the console and the workbench.

Passwords are hashed with argon2id (:data:`PASSWORD_HASHER`, argon2-cffi's defaults); a
hash made with other parameters is replaced on the next successful login.

Failed logins are rows of a table, not counters in process memory, so the limit holds
across the web app's worker processes, its restarts and several app instances on one
database: after :data:`MAX_FAILURES` failures for one name, or :data:`MAX_IP_FAILURES`
from one IP address (a shop's staff often share one public address, so a few typos
must not lock out the whole shop), within :data:`FAILURE_WINDOW`, further tries are
refused until the oldest of those failures leaves the window (at most 15 minutes). A
refused try is not counted, so the cooldown cannot be stretched by hammering.

Login sessions are server-side: the browser holds a random token, the table holds only
its SHA-256, so a logout or a password change ends a session for good and a copy of
the table opens nothing.

Every exception is an :class:`AccountError` whose message says what to do::

    AccountError
    ├── InvalidNameError          not 1 to 64 of a-z 0-9 . _ - @
    ├── InvalidRoleError          not one of ROLES ("did you mean …?")
    ├── WeakPasswordError         empty, shorter than MIN_PASSWORD_LENGTH, or absurdly long
    ├── DuplicateUserError        the name is taken
    ├── UnknownUserError          no user by that name
    └── LoginError                a login was refused
        ├── InvalidCredentialsError   wrong name or password, or the account is disabled
        └── LoginThrottledError       too many failures; ``retry_at`` says when to retry
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import DateTime, Dialect, TypeDecorator, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

__all__ = [
    "FAILURE_WINDOW",
    "LOGIN_SESSION_LIFETIME",
    "MAX_FAILURES",
    "MAX_IP_FAILURES",
    "MIN_PASSWORD_LENGTH",
    "PASSWORD_HASHER",
    "ROLES",
    "TABLE_NAMES",
    "AccountError",
    "DuplicateUserError",
    "InvalidCredentialsError",
    "InvalidNameError",
    "InvalidRoleError",
    "LoginError",
    "LoginFailure",
    "LoginSession",
    "LoginThrottledError",
    "Role",
    "StaffUser",
    "StaffUserPublic",
    "UnknownUserError",
    "WeakPasswordError",
    "authenticate",
    "check_password",
    "create_user",
    "end_login_session",
    "ensure_admin",
    "get_user",
    "get_user_by_id",
    "list_users",
    "parse_name",
    "parse_role",
    "resolve_login_session",
    "role_allows",
    "set_password",
    "start_login_session",
]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 pre-hashes, so this only keeps request bodies sane
MAX_FAILURES = 5
MAX_IP_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=15)
LOGIN_SESSION_LIFETIME = timedelta(hours=12)  # one working day in the shop
PASSWORD_HASHER = PasswordHasher()
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class AccountError(Exception):
    """Base of every error of this module; the message says what to do."""


class InvalidNameError(AccountError):
    """A user name that cannot be stored."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"invalid user name {name!r}: use 1 to 64 characters from a-z, 0-9, '.', '_', "
            "'-' and '@', starting with a letter or a digit"
        )
        self.name = name


class InvalidRoleError(AccountError):
    """A role that is not one of :data:`ROLES`."""

    def __init__(self, role: str) -> None:
        valid = [r.value for r in ROLES]
        close = difflib.get_close_matches(role.strip().lower(), valid, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        super().__init__(f"unknown role {role!r}: {hint}choose one of: {', '.join(valid)}")
        self.role = role


class WeakPasswordError(AccountError):
    """A password the policy refuses."""


class DuplicateUserError(AccountError):
    """A user with this name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a user named {name!r} exists already: choose another name, or give it a new "
            f"password with `advisor users set-password {name}`"
        )
        self.name = name


class UnknownUserError(AccountError):
    """No user has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no user named {name!r}: see `advisor users list`, or create it with "
            f"`advisor users add {name} --role staff`"
        )
        self.name = name


class LoginError(AccountError):
    """A login was refused."""


class InvalidCredentialsError(LoginError):
    """Wrong name or password, or a disabled account (deliberately not told apart)."""

    def __init__(self) -> None:
        super().__init__("wrong user name or password: check both and try again")


class LoginThrottledError(LoginError):
    """Too many failed logins for this name or from this address."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(
            f"too many failed logins: try again after {retry_at:%H:%M} UTC, or ask an admin "
            "to set a new password"
        )
        self.retry_at = retry_at

    def retry_after_seconds(self, now: datetime | None = None) -> int:
        """Whole seconds until a try is accepted again (at least 1)."""
        remaining = (self.retry_at - (now or _now())).total_seconds()
        return max(1, math.ceil(remaining))


class Role(StrEnum):
    """What a staff user may open; each role includes the ones before it."""

    STAFF = "staff"
    MERCHANDISER = "merchandiser"
    ADMIN = "admin"


ROLES: tuple[Role, ...] = (Role.STAFF, Role.MERCHANDISER, Role.ADMIN)  # lowest first
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def parse_role(value: str) -> Role:
    """Return the role named ``value`` (case and surrounding blanks ignored).

    Raises:
        InvalidRoleError: ``value`` names no role.
    """
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InvalidRoleError(value) from None


def role_allows(role: str, required: str) -> bool:
    """Whether a user with ``role`` may open what needs ``required``."""
    return _RANK[parse_role(role)] >= _RANK[parse_role(required)]


def parse_name(value: str) -> str:
    """Return the stored form of a user name: trimmed and lower-case.

    Raises:
        InvalidNameError: The name is empty, too long or has other characters.
    """
    name = value.strip().lower()
    if not _NAME.fullmatch(name):
        raise InvalidNameError(value)
    return name


def check_password(password: str) -> None:
    """Refuse a password the policy does not accept.

    Raises:
        WeakPasswordError: The password is empty, too short or too long.
    """
    if not password:
        raise WeakPasswordError("the password is empty: type one, or pipe it in on stdin")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(
            f"the password is too short ({len(password)} characters): use at least "
            f"{MIN_PASSWORD_LENGTH}; a phrase of a few words is easy to remember"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"the password is too long: use at most {MAX_PASSWORD_LENGTH}")


def _now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC timestamp: stored without zone (SQLite has none), read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware datetimes as naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read naive UTC back as aware UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


class StaffUserBase(SQLModel):
    """What every view of a staff user shows."""

    name: str = Field(index=True, unique=True, max_length=64)
    role: str = Field(max_length=16, description="staff, merchandiser or admin")
    disabled: bool = False

    def has_role(self, required: str) -> bool:
        """Whether this user may open what needs ``required`` (never when disabled)."""
        return not self.disabled and role_allows(self.role, required)


class StaffUser(StaffUserBase, table=True):
    """A staff account as stored."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)


class StaffUserPublic(StaffUserBase):
    """A staff user without the password hash: what the web layer hands around."""

    id: int
    created_at: datetime


class LoginFailure(SQLModel, table=True):
    """One failed login, kept for :data:`FAILURE_WINDOW` to throttle guessing."""

    __tablename__ = "staff_login_failure"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=64)
    ip: str | None = Field(default=None, index=True, max_length=64)
    at: datetime = Field(sa_type=UTCDateTime, index=True)


class LoginSession(SQLModel, table=True):
    """A signed-in browser: the SHA-256 of its token, never the token itself."""

    __tablename__ = "staff_login_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    created_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


TABLE_NAMES = ("staff_user", "staff_login_failure", "staff_login_session")


def get_user(session: Session, *, name: str) -> StaffUser | None:
    """The user called ``name`` (any case), or ``None``."""
    key = name.strip().lower()
    return session.exec(select(StaffUser).where(StaffUser.name == key)).first()


def get_user_by_id(session: Session, *, user_id: int) -> StaffUser | None:
    """The user with this id, or ``None``."""
    return session.get(StaffUser, user_id)


def list_users(session: Session) -> list[StaffUser]:
    """Every user, by name."""
    return list(session.exec(select(StaffUser).order_by(col(StaffUser.name))).all())


def create_user(session: Session, *, name: str, role: str, password: str) -> StaffUser:
    """Create a user and commit.

    Raises:
        InvalidNameError, InvalidRoleError, WeakPasswordError: Bad input.
        DuplicateUserError: The name is taken.
    """
    key, parsed = parse_name(name), parse_role(role)
    check_password(password)
    if get_user(session, name=key) is not None:
        raise DuplicateUserError(key)
    user = StaffUser(name=key, role=parsed.value, password_hash=PASSWORD_HASHER.hash(password))
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # created by someone else in the meantime
        session.rollback()
        raise DuplicateUserError(key) from None
    session.refresh(user)
    return user


def set_password(session: Session, *, name: str, password: str) -> StaffUser:
    """Give a user a new password, end their login sessions and commit.

    Raises:
        WeakPasswordError: The policy refuses the password.
        UnknownUserError: No user has this name.
    """
    check_password(password)
    user = get_user(session, name=name)
    if user is None:
        raise UnknownUserError(name.strip().lower())
    user.password_hash = PASSWORD_HASHER.hash(password)
    session.exec(delete(LoginSession).where(col(LoginSession.user_id) == user.id))
    session.commit()
    session.refresh(user)
    return user


def ensure_admin(session: Session, *, name: str = "admin") -> str | None:
    """Create the user ``name`` with role admin unless an enabled admin exists.

    Returns:
        The new admin's random password (shown once, stored only as a hash), or ``None``
        when an admin existed already.

    Raises:
        AccountError: No enabled admin exists, but ``name`` is taken by another account.
    """
    admins = select(StaffUser).where(StaffUser.role == Role.ADMIN.value, ~col(StaffUser.disabled))
    if session.exec(admins).first() is not None:
        return None
    taken = get_user(session, name=name)
    if taken is not None:
        raise AccountError(
            f"no enabled admin exists and the name {taken.name!r} belongs to a "
            f"{'disabled ' if taken.disabled else ''}{taken.role} account: create an admin "
            "with `advisor users add NAME --role admin`"
        )
    password = secrets.token_urlsafe(15)  # 20 characters, 120 bits
    create_user(session, name=name, role=Role.ADMIN, password=password)
    return password


@cache
def _dummy_hash() -> str:
    return PASSWORD_HASHER.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _throttled_until(session: Session, *, name: str, ip: str | None, now: datetime) -> datetime:
    """When the next try is accepted; ``now`` or earlier when it is accepted at once."""
    cutoff = now - FAILURE_WINDOW
    until = now
    limits = ((LoginFailure.name, name, MAX_FAILURES), (LoginFailure.ip, ip, MAX_IP_FAILURES))
    for column, value, limit in limits:
        if value is None:
            continue
        recent = session.exec(
            select(LoginFailure.at)
            .where(column == value, col(LoginFailure.at) > cutoff)
            .order_by(col(LoginFailure.at).desc())
            .limit(limit)
        ).all()
        if len(recent) >= limit:  # accepted again once the oldest of them expires
            until = max(until, recent[-1] + FAILURE_WINDOW)
    return until


def authenticate(
    session: Session,
    *,
    name: str,
    password: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> StaffUser:
    """Check a login; record a failure, or forget this name's failures on success.

    Args:
        session: Database session; committed here.
        name: The name as typed.
        password: The password as typed.
        ip: The client's address, throttled like a name; ``None`` when unknown.
        now: The current time (tests pass one).

    Returns:
        The user, with the password hash upgraded if its parameters were outdated.

    Raises:
        LoginThrottledError: Too many recent failures; the password was not checked.
        InvalidCredentialsError: Wrong name or password, or the account is disabled.
    """
    now = now or _now()
    key = name.strip().lower()[:64]
    retry_at = _throttled_until(session, name=key, ip=ip, now=now)
    if retry_at > now:
        raise LoginThrottledError(retry_at)
    user = get_user(session, name=key) if key else None
    if user is None:
        _verify(_dummy_hash(), password)  # the same work as for a real name: no timing probe
        ok = False
    else:
        ok = _verify(user.password_hash, password) and not user.disabled
    if not ok or user is None:
        session.exec(delete(LoginFailure).where(col(LoginFailure.at) <= now - FAILURE_WINDOW))
        session.add(LoginFailure(name=key, ip=ip[:64] if ip else None, at=now))
        session.commit()
        raise InvalidCredentialsError()
    session.exec(delete(LoginFailure).where(col(LoginFailure.name) == key))
    if PASSWORD_HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = PASSWORD_HASHER.hash(password)
    session.commit()
    session.refresh(user)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_login_session(session: Session, *, user_id: int, now: datetime | None = None) -> str:
    """Open a login session for a user and commit.

    Returns:
        The session's token, for the browser's cookie; only its hash is stored.
    """
    now = now or _now()
    session.exec(delete(LoginSession).where(col(LoginSession.expires_at) <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=_token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + LOGIN_SESSION_LIFETIME,
        )
    )
    session.commit()
    return token


def resolve_login_session(
    session: Session, *, token: str, now: datetime | None = None
) -> StaffUser | None:
    """The enabled user a live login session belongs to, or ``None``.

    One statement: every staff request asks this, and on a database server each round
    trip counts (bench/live.py: it was the largest part of a staff message's POST).
    """
    query = (
        select(StaffUser)
        .join(LoginSession, col(LoginSession.user_id) == col(StaffUser.id))
        .where(
            col(LoginSession.token_hash) == _token_hash(token),
            col(LoginSession.expires_at) > (now or _now()),
            col(StaffUser.disabled).is_(False),
        )
    )
    return session.exec(query).first()


def end_login_session(session: Session, *, token: str) -> None:
    """End a login session (logging out) and commit; unknown tokens are ignored."""
    session.exec(delete(LoginSession).where(col(LoginSession.token_hash) == _token_hash(token)))
    session.commit()
