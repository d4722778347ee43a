"""Versioned rule sets: publish, roll back, and the record of who changed what when.

A published version is a snapshot of a rule set folder's files stored in the catalogue
database, so every action server sharing that database serves the same rules. The
registry (:mod:`product_rules.registry`) looks for new publications a few times a second
and switches without a restart. A version that fails its checks is refused with its
problems and the version in service stays.

Tables: ``rule_version`` (immutable snapshots, numbered per rule set) and
``rule_publication`` (the append-only log; the newest row per rule set is in service).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    UniqueConstraint,
    func,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from product_rules.errors import ProductRulesError, RuleProblem, RuleSetError
from product_rules.loader import LoadedRuleSet, load_ruleset

__all__ = [
    "PublishConflictError",
    "Publication",
    "PublishResult",
    "RuleVersion",
    "UnknownVersionError",
    "active_versions",
    "files_fingerprint",
    "history",
    "latest_publication_id",
    "materialize",
    "publish",
    "read_files",
    "rollback",
]

log = logging.getLogger("product_rules")

RULE_SUFFIXES = (".yml", ".yaml")
#: How often a publish takes the next number when another publish took its number first.
PUBLISH_ATTEMPTS = 5


class UnknownVersionError(ProductRulesError):
    """Rolling back to a version that was never stored."""


class PublishConflictError(ProductRulesError):
    """Other publishes of the same rule set kept taking the next version number."""


def _now() -> datetime:
    return datetime.now(UTC)


class RuleVersion(SQLModel, table=True):
    """An immutable snapshot of one rule set's files."""

    __tablename__ = "rule_version"
    __table_args__ = (UniqueConstraint("ruleset_id", "version", name="uq_rule_version"),)

    id: int | None = Field(default=None, primary_key=True)
    ruleset_id: str = Field(index=True, max_length=60)
    version: int
    fingerprint: str = Field(max_length=64)
    files: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author: str = Field(max_length=120)
    message: str = Field(default="", max_length=500)
    changes: str = Field(default="", description="What changed against the previous version.")
    created_at: datetime = Field(default_factory=_now)  # timestamptz on PostgreSQL


class Publication(SQLModel, table=True):
    """One entry of the publication log: which version went live, by whom, when."""

    __tablename__ = "rule_publication"

    id: int | None = Field(default=None, primary_key=True)
    ruleset_id: str = Field(index=True, max_length=60)
    version_id: int = Field(foreign_key="rule_version.id")
    version: int
    action: str = Field(max_length=20, description="publish or rollback")
    author: str = Field(max_length=120)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=_now)  # timestamptz on PostgreSQL


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a publish did."""

    ruleset_id: str
    version: int
    created: bool  # False when the files equal an existing version, which is republished
    changes: str


def _read_files(directory: Path) -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(directory.iterdir())
        if p.suffix in RULE_SUFFIXES and p.is_file()
    }


def _fingerprint(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(files[name].encode())
    return digest.hexdigest()[:16]


def read_files(directory: Path) -> dict[str, str]:
    """The rule files of a rule set folder by name, as a version stores them."""
    return _read_files(directory)


def files_fingerprint(files: dict[str, str]) -> str:
    """The fingerprint a version of these files is stored under."""
    return _fingerprint(files)


def describe_changes(old: dict[str, str], new: dict[str, str]) -> str:
    """A short review of what changed: files added, removed, and lines changed per file."""
    lines: list[str] = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"added {name} ({len(new[name].splitlines())} lines)")
        elif name not in new:
            lines.append(f"removed {name}")
        elif old[name] != new[name]:
            diff = list(
                difflib.unified_diff(
                    old[name].splitlines(), new[name].splitlines(), lineterm="", n=0
                )
            )
            plus = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
            minus = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
            lines.append(f"changed {name}: +{plus} -{minus} lines")
    return "\n".join(lines) or "no change"


def _current(session: Session, ruleset_id: str) -> RuleVersion | None:
    publication = session.exec(
        select(Publication)
        .where(col(Publication.ruleset_id) == ruleset_id)
        .order_by(col(Publication.id).desc())
        .limit(1)
    ).first()
    return session.get(RuleVersion, publication.version_id) if publication else None


def _log(session: Session, version: RuleVersion, action: str, *, author: str, note: str) -> None:
    """Append to the publication log: ``version`` is in service from now on."""
    assert version.id is not None  # flushed or loaded, so it has its id
    session.add(
        Publication(
            ruleset_id=version.ruleset_id,
            version_id=version.id,
            version=version.version,
            action=action,
            author=author,
            note=note,
        )
    )


def publish(
    db: Engine,
    directory: Path,
    *,
    author: str,
    message: str = "",
    extra_checks: Callable[[LoadedRuleSet], list[RuleProblem]] | None = None,
) -> PublishResult:
    """Check the rule set in ``directory`` and put it in service as a new version.

    Two publishes of one rule set at the same moment behave as if one came after the
    other: each gets its own number (the unique version constraint decides who was
    first, the other takes the next number, its change summary against the first);
    publishes of the same files store one version, which both report.

    Raises:
        RuleSetError: the rule set fails its checks; nothing is stored, the version in
            service stays.
        PublishConflictError: other publishes took the next number on every attempt;
            nothing is stored.
    """
    if not author.strip():
        raise ValueError("a publish needs an author")
    loaded = load_ruleset(directory, root=directory.parent.parent)
    if extra_checks is not None:
        problems = extra_checks(loaded)
        if problems:
            raise RuleSetError(problems)
    files = _read_files(directory)
    fingerprint = _fingerprint(files)
    ruleset_id = loaded.ruleset.id
    taken: list[int] = []
    for _ in range(PUBLISH_ATTEMPTS):
        try:
            return _store(db, ruleset_id, files, fingerprint, author=author, message=message)
        except IntegrityError as exc:
            # Another publish of this rule set took the number between our look and our
            # insert (the unique version constraint said so): take the next one, as if
            # the two had come one after the other. Same files: that publish stored them,
            # and the next attempt republishes its version.
            taken.append(_highest_version(db, ruleset_id))
            log.info("publish of %s raced another one (%s); trying again", ruleset_id, exc.orig)
    raise PublishConflictError(
        f"{ruleset_id}: other publishes took version "
        f"{', '.join(str(v) for v in taken)} while this one was being stored; "
        "nothing of it was stored, publish again"
    )


def _highest_version(db: Engine, ruleset_id: str) -> int:
    with Session(db) as session:
        number = session.exec(
            select(func.max(RuleVersion.version)).where(col(RuleVersion.ruleset_id) == ruleset_id)
        ).one()
        return int(number or 0)


def _store(
    db: Engine,
    ruleset_id: str,
    files: dict[str, str],
    fingerprint: str,
    *,
    author: str,
    message: str,
) -> PublishResult:
    """Store ``files`` as the next version (or republish an equal one) in one transaction.

    Raises:
        IntegrityError: another publish took the next version number first.
    """
    with Session(db) as session:
        current = _current(session, ruleset_id)
        existing = session.exec(
            select(RuleVersion).where(
                col(RuleVersion.ruleset_id) == ruleset_id,
                col(RuleVersion.fingerprint) == fingerprint,
            )
        ).first()
        created = existing is None
        if existing is None:
            number = session.exec(
                select(func.max(RuleVersion.version)).where(
                    col(RuleVersion.ruleset_id) == ruleset_id
                )
            ).one()
            existing = RuleVersion(
                ruleset_id=ruleset_id,
                version=(number or 0) + 1,
                fingerprint=fingerprint,
                files=files,
                author=author,
                message=message,
                changes=describe_changes(current.files if current else {}, files),
            )
            session.add(existing)
            session.flush()
        _log(session, existing, "publish", author=author, note=message)
        session.commit()
        return PublishResult(ruleset_id, existing.version, created, existing.changes)


def rollback(db: Engine, ruleset_id: str, version: int, *, author: str, note: str = "") -> int:
    """Put an earlier version back in service; returns its number.

    Raises:
        UnknownVersionError: no such version of that rule set was ever published.
    """
    with Session(db) as session:
        target = session.exec(
            select(RuleVersion).where(
                col(RuleVersion.ruleset_id) == ruleset_id, col(RuleVersion.version) == version
            )
        ).first()
        if target is None or target.id is None:
            known = session.exec(
                select(RuleVersion.version).where(col(RuleVersion.ruleset_id) == ruleset_id)
            ).all()
            raise UnknownVersionError(
                f"{ruleset_id} has no version {version}; known: "
                f"{', '.join(str(v) for v in sorted(known)) or 'none'}"
            )
        _log(session, target, "rollback", author=author, note=note)
        session.commit()
        return target.version


def history(db: Engine, ruleset_id: str | None = None) -> list[dict[str, Any]]:
    """The publication log, newest first, with each version's change summary."""
    with Session(db) as session:
        statement = select(Publication, RuleVersion).join(
            RuleVersion, col(RuleVersion.id) == col(Publication.version_id)
        )
        if ruleset_id is not None:
            statement = statement.where(col(Publication.ruleset_id) == ruleset_id)
        rows = session.exec(statement.order_by(col(Publication.id).desc())).all()
        return [
            {
                "ruleset": p.ruleset_id,
                "version": p.version,
                "action": p.action,
                "author": p.author,
                "at": p.created_at.isoformat(timespec="seconds"),
                "note": p.note,
                "changes": v.changes,
            }
            for p, v in rows
        ]


def latest_publication_id(db: Engine) -> int:
    """The id of the newest publication (0 if none): cheap to poll for changes."""
    with Session(db) as session:
        newest = session.exec(select(func.max(Publication.id))).one()
        return int(newest or 0)


def active_versions(db: Engine) -> dict[str, RuleVersion]:
    """The version in service per published rule set."""
    with Session(db) as session:
        newest = (
            select(Publication.ruleset_id, func.max(Publication.id).label("pid"))
            .group_by(col(Publication.ruleset_id))
            .subquery()
        )
        statement = (
            select(RuleVersion)
            .join(Publication, col(Publication.version_id) == col(RuleVersion.id))
            .join(newest, col(newest.c.pid) == col(Publication.id))
        )
        versions = session.exec(statement).all()
        for version in versions:
            session.expunge(version)
        return {v.ruleset_id: v for v in versions}


def materialize(version: RuleVersion, cache: Path) -> Path:
    """Write a version's files to ``cache/<ruleset>/v<version>-<fingerprint>/`` once.

    Loading from real files keeps error positions (file:line:column) meaningful.
    """
    target = cache / version.ruleset_id / f"v{version.version}-{version.fingerprint}"
    if not target.exists():
        # Stage in a folder of our own and rename: several server processes, and several
        # registries of one process (the web app has two), may race here.
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        for name, text in version.files.items():
            (staging / Path(name).name).write_text(text, encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another one won the race
    return target
