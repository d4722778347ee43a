"""The ``advisor`` command: staff accounts, the database schema, privacy requests.

``advisor db upgrade`` applies the schema migrations (``advisor/migrations``) to
``DATABASE_URL``; ``advisor db check`` says whether the database matches the models
(exit status 1 if not); ``advisor db current`` prints the migration it is at.

``advisor users add NAME --role ROLE`` asks for the password twice on a terminal, or
reads one line from standard input otherwise (``echo "$PW" | advisor users add anna
--role staff``), so a password never appears in the process list or the shell history.
``advisor users ensure-admin`` is what ``make run`` calls: it creates ``admin`` with a
random password and prints it once, and prints nothing when an admin exists.

``advisor privacy export|erase ID`` and ``advisor privacy purge`` answer privacy
requests and apply the retention (:mod:`advisor.privacy_cli`).

Errors end in one line on stderr: exit status 1 for refused input or a database
failure, 2 for a usage error; never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from advisor import accounts, privacy_cli
from advisor.db import AdvisorDatabase, make_engine
from advisor.settings import get_settings
from catalog.db import normalise_url

__all__ = ["main"]


class _InputError(Exception):
    """Bad input found by the command line itself (not by the accounts module)."""


def _say(message: str) -> None:
    print(f"advisor: {message}", file=sys.stderr, flush=True)


def _shown_url(url: str) -> str:
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<unparseable database URL>"


def _read_password(stdin: TextIO) -> str:
    """Ask twice on a terminal; otherwise read the first line of standard input."""
    if stdin.isatty():
        try:
            first = getpass.getpass(
                f"Password (at least {accounts.MIN_PASSWORD_LENGTH} characters): "
            )
            second = getpass.getpass("The same password again: ")
        except EOFError:
            raise _InputError("no password given: type it when asked") from None
        if first != second:
            raise _InputError("the two passwords differ: run the command again")
        return first
    return stdin.readline().rstrip("\r\n")


def _add(db: AdvisorDatabase, name: str, role: str, stdin: TextIO) -> int:
    key, parsed = accounts.parse_name(name), accounts.parse_role(role)  # before asking
    with db.session() as session:
        if accounts.get_user(session, name=key) is not None:
            raise accounts.DuplicateUserError(key)
    password = _read_password(stdin)
    with db.session() as session:
        user = accounts.create_user(session, name=key, role=parsed, password=password)
        print(f"created {user.name} (role {user.role})")
    return 0


def _set_password(db: AdvisorDatabase, name: str, stdin: TextIO) -> int:
    with db.session() as session:
        if accounts.get_user(session, name=name) is None:
            raise accounts.UnknownUserError(name.strip().lower())
    password = _read_password(stdin)
    with db.session() as session:
        user = accounts.set_password(session, name=name, password=password)
        print(f"new password set for {user.name}; their login sessions have ended")
    return 0


def _list(db: AdvisorDatabase) -> int:
    with db.session() as session:
        users = accounts.list_users(session)
    if not users:
        print("no staff accounts yet: create one with `advisor users add NAME --role ROLE`")
        return 0
    width = max(4, *(len(u.name) for u in users)) + 2
    print(f"{'name':<{width}}{'role':<14}{'status':<10}created (UTC)")
    for user in users:
        status = "disabled" if user.disabled else "active"
        created = f"{user.created_at:%Y-%m-%d %H:%M}"
        print(f"{user.name:<{width}}{user.role:<14}{status:<10}{created}")
    return 0


def _ensure_admin(db: AdvisorDatabase) -> int:
    with db.session() as session:
        password = accounts.ensure_admin(session)
    if password is not None:
        print(
            f"admin account created: user admin, password {password}  (shown only this "
            "once; change it with `advisor users set-password admin`)",
            flush=True,
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="advisor", description="Manage the advisor.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    users = commands.add_parser("users", help="staff accounts")
    users.set_defaults(help_for=users)
    actions = users.add_subparsers(dest="action", metavar="ACTION")

    def database_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--database-url",
            metavar="URL",
            help="database (default: $DATABASE_URL or the SQLite file var/catalog.db)",
        )

    roles = ", ".join(r.value for r in accounts.ROLES)
    add = actions.add_parser(
        "add", help="create a user; the password is asked for, or read from stdin"
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, metavar="ROLE", help=f"one of: {roles}")
    database_option(add)
    set_password = actions.add_parser(
        "set-password", help="give a user a new password (asked for, or read from stdin)"
    )
    set_password.add_argument("name", metavar="NAME")
    database_option(set_password)
    database_option(actions.add_parser("list", help="show every user"))
    database_option(
        actions.add_parser(
            "ensure-admin", help="create `admin` with a random password unless an admin exists"
        )
    )
    db = commands.add_parser("db", help="the database schema (Alembic migrations)")
    db.set_defaults(help_for=db)
    db_actions = db.add_subparsers(dest="action", metavar="ACTION")
    database_option(db_actions.add_parser("upgrade", help="apply the migrations"))
    database_option(db_actions.add_parser("check", help="compare the database with the models"))
    database_option(db_actions.add_parser("current", help="print the migration applied"))
    privacy_cli.add_parser(commands, database_option)
    return parser


def _db(action: str, url: str) -> int:
    from advisor import schema

    engine = make_engine(url)
    try:
        if action == "upgrade":
            print(f"database {_shown_url(url)}: {schema.upgrade(engine, url)}", flush=True)
            return 0
        if action == "current":
            print(schema.current(engine) or "none", flush=True)
            return 0
        differences = schema.check(engine)
        for line in differences:
            print(line, flush=True)
        if differences:
            _say(f"{len(differences)} differences: run `advisor db upgrade`")
            return 1
        print("the database matches the models", flush=True)
        return 0
    except RuntimeError as error:
        _say(str(error))
        return 1
    finally:
        engine.dispose()


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None) -> int:
    """Run the ``advisor`` command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.
        stdin: Where a password is read from; ``sys.stdin`` when omitted.

    Returns:
        The exit status: 0 on success, 1 on refused input or a database error, 2 on a
        usage error.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on usage errors
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None or args.action is None:
        getattr(args, "help_for", parser).print_help(sys.stderr)
        return 2
    stdin = stdin if stdin is not None else sys.stdin
    url: str = args.database_url or get_settings().database_url
    db: AdvisorDatabase | None = None
    try:
        if args.command == "db":
            return _db(args.action, url)
        if args.command == "privacy":
            return privacy_cli.run(args, url, say=_say, stdin=stdin)
        db = AdvisorDatabase(make_engine(url))
        from advisor import schema

        if schema.current(db.engine) is None:
            _say(f"the database {_shown_url(url)} has no tables yet: run `advisor db upgrade`")
            return 1
        if args.action == "add":
            return _add(db, args.name, args.role, stdin)
        if args.action == "set-password":
            return _set_password(db, args.name, stdin)
        if args.action == "list":
            return _list(db)
        return _ensure_admin(db)
    except (accounts.AccountError, _InputError) as error:
        _say(str(error))
        return 1
    except (SQLAlchemyError, OSError) as error:
        origin = getattr(error, "orig", None) or error
        reason = next((ln.strip() for ln in str(origin).splitlines() if ln.strip()), "")
        _say(f"database error at {_shown_url(url)}: {reason or type(error).__name__}")
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    finally:
        if db is not None:
            db.dispose()


if __name__ == "__main__":
    sys.exit(main())
