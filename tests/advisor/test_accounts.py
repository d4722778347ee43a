"""Staff accounts: hashing, roles, throttling, login sessions and the ``advisor`` CLI."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine, select

from advisor import accounts
from advisor.accounts import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    MAX_IP_FAILURES,
    AccountError,
    DuplicateUserError,
    InvalidCredentialsError,
    InvalidNameError,
    InvalidRoleError,
    LoginSession,
    LoginThrottledError,
    Role,
    StaffUser,
    UnknownUserError,
    WeakPasswordError,
    authenticate,
    create_user,
    end_login_session,
    ensure_admin,
    get_user,
    list_users,
    resolve_login_session,
    role_allows,
    set_password,
    start_login_session,
)
from advisor.cli import main
from tests.tables import create_schema

PASSWORD = "correct horse battery"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PRODUCTION_HASHER = accounts.PASSWORD_HASHER


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the production ones cost ~0.1 s per hash, by design."""
    monkeypatch.setattr(
        accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture()
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    yield create_schema(engine)
    engine.dispose()


@pytest.fixture()
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture()
def anna(session: Session) -> StaffUser:
    return create_user(session, name="anna", role="staff", password=PASSWORD)


# --- users, passwords, roles -------------------------------------------------------


def test_create_user_stores_argon2id_hash_never_the_password(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "PASSWORD_HASHER", PRODUCTION_HASHER)

    user = create_user(session, name="anna", role="staff", password=PASSWORD)

    assert user.password_hash.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(user.password_hash)  # today's parameters
    assert PASSWORD not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, PASSWORD)


def test_create_user_hashes_with_a_fresh_salt(session: Session) -> None:
    one = create_user(session, name="one", role="staff", password=PASSWORD)
    two = create_user(session, name="two", role="staff", password=PASSWORD)

    assert one.password_hash != two.password_hash


def test_create_user_normalises_name_and_role(session: Session) -> None:
    user = create_user(session, name="  Anna.Berg ", role=" Merchandiser", password=PASSWORD)

    assert (user.name, user.role, user.disabled) == ("anna.berg", "merchandiser", False)
    assert user.created_at.tzinfo is not None
    assert get_user(session, name="ANNA.BERG") == user


def test_create_user_duplicate_name_refused(session: Session, anna: StaffUser) -> None:
    with pytest.raises(DuplicateUserError, match="exists already.*set-password anna"):
        create_user(session, name="Anna", role="admin", password=PASSWORD)


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("admn", "did you mean 'admin'"),
        ("merchandizer", "did you mean 'merchandiser'"),
        ("boss", "choose one of: staff, merchandiser, admin"),
        ("", "choose one of"),
    ],
    ids=["typo_admin", "typo_merchandiser", "unknown", "empty"],
)
def test_create_user_invalid_role_suggests_valid_ones(
    session: Session, role: str, message: str
) -> None:
    with pytest.raises(InvalidRoleError, match=message):
        create_user(session, name="bob", role=role, password=PASSWORD)
    assert list_users(session) == []


@pytest.mark.parametrize(
    "name", ["", "   ", "has space", "-dash-first", "x" * 65, "<script>", "tab\tname"]
)
def test_create_user_invalid_name_refused(session: Session, name: str) -> None:
    with pytest.raises(InvalidNameError, match="use 1 to 64 characters"):
        create_user(session, name=name, role="staff", password=PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "empty"), ("123456789", "too short.*at least 10"), ("x" * 1025, "too long")],
    ids=["empty", "nine_characters", "too_long"],
)
def test_create_user_weak_password_refused(session: Session, password: str, message: str) -> None:
    with pytest.raises(WeakPasswordError, match=message):
        create_user(session, name="bob", role="staff", password=password)


def test_exceptions_form_one_tree() -> None:
    for error in (
        InvalidNameError,
        InvalidRoleError,
        WeakPasswordError,
        DuplicateUserError,
        UnknownUserError,
        InvalidCredentialsError,
        LoginThrottledError,
    ):
        assert issubclass(error, AccountError)
    assert issubclass(LoginThrottledError, accounts.LoginError)


@pytest.mark.parametrize(
    ("role", "required", "allowed"),
    [
        ("staff", "staff", True),
        ("staff", "merchandiser", False),
        ("staff", "admin", False),
        ("merchandiser", "staff", True),
        ("merchandiser", "merchandiser", True),
        ("merchandiser", "admin", False),
        ("admin", "staff", True),
        ("admin", "merchandiser", True),
        ("admin", "admin", True),
    ],
)
def test_role_allows_admin_over_merchandiser_over_staff(
    role: str, required: str, allowed: bool
) -> None:
    assert role_allows(role, required) is allowed


def test_has_role_false_for_disabled_user(session: Session) -> None:
    user = create_user(session, name="boss", role="admin", password=PASSWORD)
    user.disabled = True

    assert not user.has_role(Role.STAFF)


def test_list_users_by_name(session: Session) -> None:
    for name in ("zoe", "anna", "mia"):
        create_user(session, name=name, role="staff", password=PASSWORD)

    assert [u.name for u in list_users(session)] == ["anna", "mia", "zoe"]


def test_set_password_replaces_hash_and_ends_sessions(session: Session, anna: StaffUser) -> None:
    assert anna.id is not None
    token = start_login_session(session, user_id=anna.id)

    set_password(session, name="anna", password="a whole new phrase")

    assert resolve_login_session(session, token=token) is None
    assert authenticate(session, name="anna", password="a whole new phrase") == anna
    with pytest.raises(InvalidCredentialsError):
        authenticate(session, name="anna", password=PASSWORD)


def test_set_password_unknown_user(session: Session) -> None:
    with pytest.raises(UnknownUserError, match="advisor users list"):
        set_password(session, name="nobody", password=PASSWORD)


# --- authenticate and throttling ---------------------------------------------------


def test_authenticate_ok_any_case(session: Session, anna: StaffUser) -> None:
    assert authenticate(session, name=" ANNA ", password=PASSWORD) == anna


@pytest.mark.parametrize(
    ("name", "password"),
    [("anna", "wrong password!"), ("nobody", PASSWORD), ("anna", ""), ("", PASSWORD)],
    ids=["wrong_password", "unknown_user", "empty_password", "empty_name"],
)
def test_authenticate_refused(session: Session, anna: StaffUser, name: str, password: str) -> None:
    with pytest.raises(InvalidCredentialsError, match="wrong user name or password"):
        authenticate(session, name=name, password=password)


def test_authenticate_disabled_user_refused_like_a_wrong_password(
    session: Session, anna: StaffUser
) -> None:
    anna.disabled = True
    session.commit()

    with pytest.raises(InvalidCredentialsError):
        authenticate(session, name="anna", password=PASSWORD)


def test_authenticate_rehashes_outdated_parameters(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = accounts.PASSWORD_HASHER
    monkeypatch.setattr(
        accounts, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    create_user(session, name="old", role="staff", password=PASSWORD)
    monkeypatch.setattr(accounts, "PASSWORD_HASHER", current)
    old_hash = get_user(session, name="old").password_hash  # type: ignore[union-attr]

    user = authenticate(session, name="old", password=PASSWORD)

    assert user.password_hash != old_hash
    assert not accounts.PASSWORD_HASHER.check_needs_rehash(user.password_hash)
    assert authenticate(session, name="old", password=PASSWORD).password_hash == user.password_hash


def _fail(session: Session, times: int, *, name: str = "anna", ip: str | None = None) -> None:
    for i in range(times):
        with pytest.raises(InvalidCredentialsError):
            authenticate(
                session, name=name, password="wrong guess!", ip=ip, now=T0 + timedelta(minutes=i)
            )


def test_authenticate_throttled_after_five_failures_even_with_right_password(
    session: Session, anna: StaffUser
) -> None:
    _fail(session, MAX_FAILURES)

    with pytest.raises(LoginThrottledError) as caught:
        authenticate(session, name="anna", password=PASSWORD, now=T0 + timedelta(minutes=5))

    assert caught.value.retry_at == T0 + FAILURE_WINDOW  # when the first failure expires
    assert caught.value.retry_after_seconds(T0 + timedelta(minutes=5)) == 10 * 60
    assert "try again after 09:15 UTC" in str(caught.value)


def test_authenticate_four_failures_do_not_throttle(session: Session, anna: StaffUser) -> None:
    _fail(session, MAX_FAILURES - 1)

    assert authenticate(session, name="anna", password=PASSWORD, now=T0 + timedelta(minutes=5))


def test_authenticate_accepted_again_after_the_window(session: Session, anna: StaffUser) -> None:
    _fail(session, MAX_FAILURES)

    later = T0 + FAILURE_WINDOW + timedelta(seconds=1)
    assert authenticate(session, name="anna", password=PASSWORD, now=later) == anna


def test_authenticate_refused_tries_do_not_extend_the_cooldown(
    session: Session, anna: StaffUser
) -> None:
    _fail(session, MAX_FAILURES)
    for minute in range(5, 14):
        with pytest.raises(LoginThrottledError):
            authenticate(session, name="anna", password="x", now=T0 + timedelta(minutes=minute))

    assert authenticate(session, name="anna", password=PASSWORD, now=T0 + timedelta(minutes=16))


def test_authenticate_throttles_an_address_across_names(session: Session, anna: StaffUser) -> None:
    # Staff share a shop's address: a few typos by several people lock nobody out ...
    for i in range(MAX_IP_FAILURES):
        if i == 4:
            assert authenticate(session, name="anna", password=PASSWORD, ip="203.0.113.9", now=T0)
        with pytest.raises(InvalidCredentialsError):
            authenticate(
                session,
                name=f"a{i}",
                password="guess!",
                ip="203.0.113.9",
                now=T0 + timedelta(seconds=30 * i),
            )

    # ... but guessing across many names from one address is stopped.
    now = T0 + timedelta(minutes=11)
    with pytest.raises(LoginThrottledError):
        authenticate(session, name="anna", password=PASSWORD, ip="203.0.113.9", now=now)
    assert authenticate(session, name="anna", password=PASSWORD, ip="198.51.100.1", now=now)


def test_authenticate_success_forgets_the_names_failures(session: Session, anna: StaffUser) -> None:
    _fail(session, MAX_FAILURES - 1)
    authenticate(session, name="anna", password=PASSWORD, now=T0 + timedelta(minutes=4))

    _fail(session, 1)  # would be the fifth without the reset
    assert authenticate(session, name="anna", password=PASSWORD, now=T0 + timedelta(minutes=5))


# --- login sessions ----------------------------------------------------------------


def test_login_session_resolves_until_ended(session: Session, anna: StaffUser) -> None:
    assert anna.id is not None
    token = start_login_session(session, user_id=anna.id)

    assert resolve_login_session(session, token=token) == anna
    end_login_session(session, token=token)
    assert resolve_login_session(session, token=token) is None


def test_login_session_stores_only_a_hash_of_the_token(session: Session, anna: StaffUser) -> None:
    assert anna.id is not None
    token = start_login_session(session, user_id=anna.id)

    [row] = session.exec(select(LoginSession)).all()
    assert row.token_hash != token and token not in row.token_hash


def test_login_session_expires(session: Session, anna: StaffUser) -> None:
    assert anna.id is not None
    token = start_login_session(session, user_id=anna.id, now=T0)

    assert resolve_login_session(session, token=token, now=T0 + timedelta(hours=11)) == anna
    assert resolve_login_session(session, token=token, now=T0 + timedelta(hours=12)) is None


def test_login_session_of_disabled_user_is_dead(session: Session, anna: StaffUser) -> None:
    assert anna.id is not None
    token = start_login_session(session, user_id=anna.id)
    anna.disabled = True
    session.commit()

    assert resolve_login_session(session, token=token) is None


def test_login_session_unknown_token(session: Session) -> None:
    assert resolve_login_session(session, token="made-up") is None


# --- ensure_admin ------------------------------------------------------------------


def test_ensure_admin_creates_once(session: Session) -> None:
    password = ensure_admin(session)

    assert password is not None and len(password) >= 20
    assert authenticate(session, name="admin", password=password).role == "admin"
    assert ensure_admin(session) is None
    assert [u.name for u in list_users(session)] == ["admin"]


def test_ensure_admin_keeps_an_existing_admin(session: Session) -> None:
    create_user(session, name="chief", role="admin", password=PASSWORD)

    assert ensure_admin(session) is None
    assert get_user(session, name="admin") is None


def test_ensure_admin_name_taken_by_staff(session: Session) -> None:
    create_user(session, name="admin", role="staff", password=PASSWORD)

    with pytest.raises(AccountError, match="belongs to a staff account.*--role admin"):
        ensure_admin(session)


# --- the advisor command line ------------------------------------------------------


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    """A database at the newest schema, as `advisor db upgrade` leaves it."""
    url = f"sqlite:///{tmp_path / 'advisor.db'}"
    create_schema(create_engine(url)).dispose()
    return url


def test_cli_on_a_database_without_tables_says_to_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert _run(fresh, "add", "anna", "--role", "staff", stdin=f"{PASSWORD}\n") == 1
    assert "has no tables yet: run `advisor db upgrade`" in capsys.readouterr().err


def _users(db_url: str) -> list[StaffUser]:
    from advisor.db import AdvisorDatabase, make_engine

    db = AdvisorDatabase(make_engine(db_url))
    try:
        with db.session() as session:
            return list_users(session)
    finally:
        db.dispose()


def _run(db_url: str, *args: str, stdin: str = "") -> int:
    return main(["users", *args, "--database-url", db_url], stdin=io.StringIO(stdin))


def test_cli_users_add_reads_password_from_stdin(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(db_url, "add", "anna", "--role", "staff", stdin=f"{PASSWORD}\n") == 0

    assert "created anna (role staff)" in capsys.readouterr().out
    [user] = _users(db_url)
    assert (user.name, user.role) == ("anna", "staff")
    assert PasswordHasher().verify(user.password_hash, PASSWORD)


def test_cli_users_add_prompts_twice_on_a_terminal(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]

    assert (
        main(["users", "add", "anna", "--role", "admin", "--database-url", db_url], stdin=terminal)
        == 0
    )
    assert [u.role for u in _users(db_url)] == ["admin"]


def test_cli_users_add_different_passwords_refused(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]

    assert (
        main(["users", "add", "anna", "--role", "staff", "--database-url", db_url], stdin=terminal)
        == 1
    )
    assert "the two passwords differ" in capsys.readouterr().err
    assert _users(db_url) == []


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "bob", "--role", "admn"], PASSWORD, "unknown role 'admn': did you mean 'admin'?"),
        (["add", "bob", "--role", "boss"], PASSWORD, "choose one of: staff, merchandiser, admin"),
        (["add", "bob", "--role", "staff"], "short\n", "too short (5 characters)"),
        (["add", "bob", "--role", "staff"], "", "the password is empty"),
        (["add", "two words", "--role", "staff"], PASSWORD, "invalid user name"),
        (["set-password", "nobody"], PASSWORD, "no user named 'nobody'"),
    ],
    ids=["role_typo", "role_unknown", "short_password", "no_password", "bad_name", "unknown"],
)
def test_cli_users_bad_input_exits_1_with_a_clear_message(
    db_url: str, capsys: pytest.CaptureFixture[str], args: list[str], stdin: str, message: str
) -> None:
    assert _run(db_url, *args, stdin=stdin) == 1

    err = capsys.readouterr().err
    assert err.startswith("advisor: ") and message in err
    assert "Traceback" not in err
    assert _users(db_url) == []


def test_cli_users_add_duplicate_exits_1_before_asking(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(db_url, "add", "anna", "--role", "staff", stdin=PASSWORD)
    stdin = io.StringIO("second password\n")

    assert (
        main(["users", "add", "ANNA", "--role", "admin", "--database-url", db_url], stdin=stdin)
        == 1
    )
    assert "a user named 'anna' exists already" in capsys.readouterr().err
    assert stdin.tell() == 0  # the password was never read


def test_cli_usage_error_exits_2(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "anna"]) == 2  # --role missing
    assert main(["users"]) == 2
    assert "ensure-admin" in capsys.readouterr().err


def test_cli_users_list(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(db_url, "list") == 0
    assert "no staff accounts yet" in capsys.readouterr().out
    _run(db_url, "add", "mia", "--role", "merchandiser", stdin=PASSWORD)
    capsys.readouterr()

    assert _run(db_url, "list") == 0
    out = capsys.readouterr().out
    assert "mia" in out and "merchandiser" in out and "active" in out
    assert "$argon2" not in out


def test_cli_ensure_admin_prints_the_password_once(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(db_url, "ensure-admin") == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("admin account created: user admin, password ")
    password = line.split("password ", 1)[1].split()[0]

    assert _run(db_url, "ensure-admin") == 0
    assert capsys.readouterr().out == ""
    [admin] = _users(db_url)
    assert PasswordHasher().verify(admin.password_hash, password)


def test_cli_database_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    assert _run(f"sqlite:///{blocker / 'sub' / 'x.db'}", "list") == 1
    err = capsys.readouterr().err
    assert err.startswith("advisor: ") and "Traceback" not in err


def test_console_script_reads_password_from_a_pipe(tmp_path: Path) -> None:
    """On a new database, the way a shop sets up: the migrations, then the first user."""
    db_url = f"sqlite:///{tmp_path / 'new.db'}"
    advisor = Path(sys.executable).parent / "advisor"
    migrated = subprocess.run(
        [str(advisor), "db", "upgrade", "--database-url", db_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    done = subprocess.run(
        [str(advisor), "users", "add", "anna", "--role", "staff", "--database-url", db_url],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert [u.name for u in _users(db_url)] == ["anna"]
