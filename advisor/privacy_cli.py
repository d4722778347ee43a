"""``advisor privacy``: export, erase and purge conversations from the command line.

* ``advisor privacy export REF [--output FILE]``: everything stored of a conversation, as
  JSON on standard output (or in ``FILE``);
* ``advisor privacy erase REF [--yes]``: erase it from every store (asks first on a
  terminal, unless ``--yes``);
* ``advisor privacy purge [--days N] [--dry-run]``: erase every conversation silent for
  longer than ``RETENTION_DAYS`` (default 30); what cron runs, once a day.

``REF`` is a conversation id or a hand-over or share code. The databases are
``DATABASE_URL`` and Rasa's ``TRACKER_STORE_URL`` (options override them). Each export
and erasure is audited under ``--by`` (default ``cli:<login name>``). Errors are one
line on stderr and exit status 1, as everywhere in ``advisor``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from advisor import privacy, retention
from advisor.db import make_engine
from advisor.privacy_export import export
from advisor.settings import get_settings

__all__ = ["add_parser", "run"]


def _login_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a container's passwd
        return "cli"


def add_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    database_option: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``privacy`` and its actions to the ``advisor`` command line."""
    command = commands.add_parser("privacy", help="export, erase or purge conversations")
    command.set_defaults(help_for=command)
    actions = command.add_subparsers(dest="action", metavar="ACTION")

    def common(action: argparse.ArgumentParser) -> None:
        database_option(action)
        action.add_argument(
            "--tracker-store-url",
            metavar="URL",
            help="Rasa's SQL tracker store (default: $TRACKER_STORE_URL or var/tracker.db)",
        )
        action.add_argument(
            "--by", metavar="NAME", help="who asks, for the audit (default: cli:<login name>)"
        )

    ref_help = "a conversation id, or a hand-over or share code"
    exporting = actions.add_parser("export", help="print everything stored of a conversation")
    exporting.add_argument("reference", metavar="ID", help=ref_help)
    exporting.add_argument("--output", metavar="FILE", help="write the JSON here, not to stdout")
    common(exporting)
    erasing = actions.add_parser("erase", help="erase a conversation from every store")
    erasing.add_argument("reference", metavar="ID", help=ref_help)
    erasing.add_argument("--yes", action="store_true", help="do not ask first")
    common(erasing)
    purging = actions.add_parser("purge", help="erase conversations past retention")
    purging.add_argument(
        "--days", type=int, metavar="N", help="retention in days (default: $RETENTION_DAYS or 30)"
    )
    purging.add_argument("--dry-run", action="store_true", help="only say what would go")
    common(purging)


def _tracker(url: str, say: Callable[[str], None]) -> Engine | None:
    """Rasa's store, or ``None`` (said) when it is a SQLite file that does not exist."""
    if privacy.tracker_missing(url):
        say(f"no Rasa tracker store at {url}: only the advisor's tables are read")
        return None
    return privacy.tracker_engine(url)


def _answers(tracker: Engine, url: str, say: Callable[[str], None]) -> bool:
    """Whether Rasa's tracker store answers; said in one line when it does not.

    Checked first, so a failure names the tracker store, not ``DATABASE_URL``.
    """
    try:
        with tracker.connect():
            return True
    except SQLAlchemyError as error:
        origin = getattr(error, "orig", None) or error
        reason = next((ln.strip() for ln in str(origin).splitlines() if ln.strip()), "")
        shown = make_url(url).render_as_string(hide_password=True)
        say(f"Rasa's tracker store at {shown} does not answer: {reason}; nothing was changed")
        return False


def run(
    args: argparse.Namespace,
    url: str,
    *,
    say: Callable[[str], None],
    stdin: TextIO | None = None,
) -> int:
    """Carry out ``advisor privacy ACTION``; the exit status.

    Raises:
        SQLAlchemyError: A database failed (``advisor.cli`` says so in one line).
        OSError: The output file cannot be written.
    """
    settings = get_settings()
    tracker_url = args.tracker_store_url or settings.tracker_store_url
    actor = (args.by or _login_name()).strip()[:80]
    engine = make_engine(url)
    tracker = _tracker(tracker_url, say)
    stores = privacy.Stores(engine, tracker)
    try:
        if tracker is not None and not _answers(tracker, tracker_url, say):
            return 1
        if args.action == "purge":
            days = settings.retention_days if args.days is None else args.days
            return _purge(stores, days, dry_run=args.dry_run)
        found = privacy.resolve(stores, args.reference)
        if args.action == "export":
            return _export(stores, found, actor, args.output)
        return _erase(stores, found, actor, confirmed=args.yes, stdin=stdin or sys.stdin)
    except privacy.PrivacyError as error:
        say(str(error))
        return 1
    except ValueError as error:  # a retention of 0 days
        say(str(error))
        return 1
    finally:
        engine.dispose()
        if tracker is not None:
            tracker.dispose()


def _export(
    stores: privacy.Stores, found: privacy.Reference, actor: str, output: str | None
) -> int:
    document = json.dumps(export(stores, found.conversation), ensure_ascii=False, indent=2)
    if output:
        Path(output).write_text(document + "\n", encoding="utf-8")
    else:
        print(document, flush=True)
    privacy.audited(
        stores, actor=actor, action="export", conversation=found.conversation, via=found.via
    )
    if output:
        print(f"exported to {output}", file=sys.stderr, flush=True)
    return 0


def _erase(
    stores: privacy.Stores,
    found: privacy.Reference,
    actor: str,
    *,
    confirmed: bool,
    stdin: TextIO,
) -> int:
    if not confirmed and stdin.isatty():
        print(
            f"Erase conversation {found.conversation} from every store? This cannot be "
            "undone. Type yes: ",
            end="",
            flush=True,
        )
        if stdin.readline().strip().lower() != "yes":
            print("nothing erased", flush=True)
            return 1
    counts = privacy.erase(stores, found.conversation, actor=actor, via=found.via)
    rows = ", ".join(f"{table} {n}" for table, n in sorted(counts.items()))
    print(f"erased conversation {found.conversation}: {rows or 'nothing was left'}", flush=True)
    return 0


def _purge(stores: privacy.Stores, days: int, *, dry_run: bool) -> int:
    if dry_run:
        cutoff = retention.cutoff(days, retention.now())
        due = retention.due(stores, cutoff)
        print(
            f"{len(due)} conversations silent since before {cutoff:%Y-%m-%d %H:%M} UTC "
            "would be erased",
            flush=True,
        )
        return 0
    result = retention.purge(stores, days=days)
    rows = ", ".join(f"{table} {n}" for table, n in sorted(result.counts.items()))
    print(
        f"erased {result.conversations} conversations silent since before "
        f"{result.cutoff:%Y-%m-%d %H:%M} UTC" + (f": {rows}" if rows else ""),
        flush=True,
    )
    return 0
