"""Drafts of rule sets: edited in the workbench, stored on the server, never in service.

One draft per rule set, shared by everyone who edits it. Each save carries the
revision it was based on; a save on an older revision is refused with
:class:`StaleDraftError`, which names who changed the draft since and what they
changed, so two people never overwrite each other silently. Publishing a draft puts
its files in service through :func:`product_rules.publishing.publish` (same checks,
same version log) and closes it; the next save opens a new draft.

Tables: ``rule_draft`` (the draft of each rule set, with its revision) and
``rule_draft_revision`` (every revision's files, who made it and how: ``save``,
``publish``, ``discard``).

Errors (one tree, :class:`~product_rules.errors.ProductRulesError`)::

    DraftError
    ├── StaleDraftError    saved on a revision someone else replaced
    └── UnknownDraftError  no open draft of that rule set
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, Column, Engine, UniqueConstraint, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from product_rules.errors import ProductRulesError, RuleProblem, RuleSetError
from product_rules.i18n import lazy_gettext as _
from product_rules.loader import LoadedRuleSet, load_ruleset
from product_rules.publishing import PublishResult, files_fingerprint, publish

__all__ = [
    "Draft",
    "DraftChange",
    "DraftError",
    "DraftRevision",
    "RuleDraft",
    "StaleDraftError",
    "UnknownDraftError",
    "changes_between",
    "check_files",
    "discard_draft",
    "get_draft",
    "load_files",
    "publish_draft",
    "save_draft",
    "write_files",
]

#: A rule file's name: letters, digits, ``_`` and ``-``, ending in ``.yml`` or ``.yaml``.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,60}\.ya?ml$")
#: A rule set id as drafts store it.
RULESET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")
#: Most files a draft may hold, and the most characters of one file.
MAX_FILES = 40
MAX_FILE_CHARS = 200_000

OPEN, PUBLISHED, DISCARDED = "open", "published", "discarded"


class DraftError(ProductRulesError):
    """Base of the draft errors."""


class UnknownDraftError(DraftError):
    """No open draft of this rule set."""


@dataclass(frozen=True, slots=True)
class DraftChange:
    """What changed in one file between two revisions, as a unified diff."""

    file: str
    diff: str


class StaleDraftError(DraftError):
    """A save or publish based on a revision that someone else has replaced since.

    Attributes:
        ruleset_id: The rule set.
        based_on: The revision the refused request started from.
        current: The draft as it is now (its ``author`` changed it last).
        authors: Everyone who changed it since ``based_on``, in order.
        changes: What they changed, per file.
    """

    def __init__(
        self,
        ruleset_id: str,
        based_on: int,
        current: Draft,
        authors: list[str],
        changes: list[DraftChange],
    ) -> None:
        self.ruleset_id = ruleset_id
        self.based_on = based_on
        self.current = current
        self.authors = authors
        self.changes = changes
        who = ", ".join(authors) or current.author
        super().__init__(
            f"{ruleset_id}: changed by {who} since you opened it "
            f"(revision {based_on}, now {current.revision}); reload to see the change"
        )


def _now() -> datetime:
    return datetime.now(UTC)


class RuleDraft(SQLModel, table=True):
    """The draft of one rule set; ``revision`` grows with every save, publish and discard."""

    __tablename__ = "rule_draft"

    id: int | None = Field(default=None, primary_key=True)
    ruleset_id: str = Field(max_length=60, unique=True)
    revision: int
    state: str = Field(default=OPEN, max_length=12)
    base_version: int | None = Field(default=None, description="published version it began from")
    files: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author: str = Field(max_length=120)
    updated_at: datetime = Field(default_factory=_now)  # timestamptz on PostgreSQL


class DraftRevision(SQLModel, table=True):
    """One revision of a draft: its files, who made it, and how."""

    __tablename__ = "rule_draft_revision"
    __table_args__ = (UniqueConstraint("ruleset_id", "revision", name="uq_rule_draft_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    ruleset_id: str = Field(index=True, max_length=60)
    revision: int
    action: str = Field(max_length=12)
    files: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author: str = Field(max_length=120)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class Draft:
    """A draft as read: what the editor shows and the revision the next save is based on."""

    ruleset_id: str
    revision: int
    state: str
    base_version: int | None
    files: dict[str, str] = field(default_factory=dict)
    author: str = ""
    updated_at: datetime | None = None

    @property
    def open(self) -> bool:
        """Whether the draft holds unpublished work."""
        return self.state == OPEN

    @property
    def fingerprint(self) -> str:
        """A digest of the files (names and contents)."""
        return files_fingerprint(self.files)


def _draft(row: RuleDraft) -> Draft:
    return Draft(
        row.ruleset_id,
        row.revision,
        row.state,
        row.base_version,
        dict(row.files),
        row.author,
        row.updated_at,
    )


def _check_names(files: Mapping[str, str]) -> None:
    if not files:
        raise ValueError(_("a draft needs at least one rule file"))
    if len(files) > MAX_FILES:
        message = _("a draft holds at most {most} files, got {count}")
        raise ValueError(message.format(most=MAX_FILES, count=len(files)))
    for name, text in files.items():
        if not FILE_NAME.match(name):
            message = _("{file!r} is not a rule file name (letters, digits, _ or -, .yml)")
            raise ValueError(message.format(file=name))
        if len(text) > MAX_FILE_CHARS:
            message = _("{file} is longer than {most} characters")
            raise ValueError(message.format(file=name, most=MAX_FILE_CHARS))


def get_draft(db: Engine, ruleset_id: str) -> Draft | None:
    """The draft of ``ruleset_id`` (open or closed), or ``None`` if it never had one."""
    with Session(db) as session:
        row = session.exec(select(RuleDraft).where(col(RuleDraft.ruleset_id) == ruleset_id)).first()
        return _draft(row) if row is not None else None


def _stale(session: Session, ruleset_id: str, based_on: int) -> StaleDraftError:
    row = session.exec(select(RuleDraft).where(col(RuleDraft.ruleset_id) == ruleset_id)).one()
    current = _draft(row)
    since = session.exec(
        select(DraftRevision)
        .where(
            col(DraftRevision.ruleset_id) == ruleset_id,
            col(DraftRevision.revision) > based_on,
        )
        .order_by(col(DraftRevision.revision))
    ).all()
    before = session.exec(
        select(DraftRevision).where(
            col(DraftRevision.ruleset_id) == ruleset_id, col(DraftRevision.revision) == based_on
        )
    ).first()
    authors = list(dict.fromkeys(r.author for r in since))
    changes = changes_between(before.files if before is not None else {}, current.files)
    return StaleDraftError(ruleset_id, based_on, current, authors, changes)


def changes_between(old: Mapping[str, str], new: Mapping[str, str]) -> list[DraftChange]:
    """The files that differ, each with a unified diff (a few lines of context)."""
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, ""), new.get(name, "")
        if before != after:
            diff = difflib.unified_diff(
                before.splitlines(), after.splitlines(), f"{name} (before)", name, lineterm="", n=1
            )
            changes.append(DraftChange(name, "\n".join(diff)))
    return changes


def save_draft(
    db: Engine,
    ruleset_id: str,
    files: Mapping[str, str],
    *,
    based_on: int,
    author: str,
    base_version: int | None = None,
) -> Draft:
    """Store ``files`` as the next revision of the draft of ``ruleset_id``.

    Args:
        db: The database.
        ruleset_id: The rule set.
        files: Every rule file of the draft, by name.
        based_on: The revision the editor opened (0: the rule set had no draft).
        author: Who saves.
        base_version: The published version in service when a new draft begins.

    Returns:
        The draft as stored, with its new revision.

    Raises:
        StaleDraftError: someone saved, published or discarded since ``based_on``.
        ValueError: a file name that is not a rule file, or no file at all.
    """
    if not author.strip():
        raise ValueError("a save needs an author")
    if not RULESET_ID.match(ruleset_id):
        raise ValueError(f"{ruleset_id!r} is not a rule set id")
    _check_names(files)
    with Session(db) as session:
        row = session.exec(select(RuleDraft).where(col(RuleDraft.ruleset_id) == ruleset_id)).first()
        now = _now()
        if row is None:
            if based_on != 0:
                raise UnknownDraftError(f"{ruleset_id} has no draft revision {based_on}")
            row = RuleDraft(
                ruleset_id=ruleset_id,
                revision=1,
                base_version=base_version,
                files=dict(files),
                author=author,
                updated_at=now,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                raise _stale(session, ruleset_id, based_on) from None
        else:
            values: dict[str, object] = {
                "revision": based_on + 1,
                "state": OPEN,
                "files": dict(files),
                "author": author,
                "updated_at": now,
            }
            if row.state != OPEN:
                values["base_version"] = base_version  # a new draft begins
            # Compare-and-set: only the revision the editor opened may be replaced.
            result = session.execute(
                update(RuleDraft)
                .where(
                    col(RuleDraft.ruleset_id) == ruleset_id,
                    col(RuleDraft.revision) == based_on,
                )
                .values(**values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                raise _stale(session, ruleset_id, based_on)
        revision = based_on + 1
        session.add(
            DraftRevision(
                ruleset_id=ruleset_id,
                revision=revision,
                action="save",
                files=dict(files),
                author=author,
                created_at=now,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise _stale(session, ruleset_id, based_on) from None
    found = get_draft(db, ruleset_id)
    assert found is not None
    return found


def _close(
    db: Engine, ruleset_id: str, *, based_on: int, author: str, action: str, note: str
) -> Draft:
    """Close the open draft at ``based_on`` (published or discarded) as the next revision."""
    with Session(db) as session:
        result = session.execute(
            update(RuleDraft)
            .where(
                col(RuleDraft.ruleset_id) == ruleset_id,
                col(RuleDraft.revision) == based_on,
                col(RuleDraft.state) == OPEN,
            )
            .values(revision=based_on + 1, state=action, author=author, updated_at=_now())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            raise _stale(session, ruleset_id, based_on)
        row = session.exec(select(RuleDraft).where(col(RuleDraft.ruleset_id) == ruleset_id)).one()
        session.add(
            DraftRevision(
                ruleset_id=ruleset_id,
                revision=based_on + 1,
                action=action,
                files=dict(row.files),
                author=author,
                note=note,
            )
        )
        session.commit()
        session.refresh(row)
        return _draft(row)


def _open(db: Engine, ruleset_id: str, based_on: int) -> Draft:
    draft = get_draft(db, ruleset_id)
    if draft is None or (not draft.open and draft.revision == based_on):
        raise UnknownDraftError(f"{ruleset_id} has no open draft")
    if draft.revision != based_on or not draft.open:
        with Session(db) as session:
            raise _stale(session, ruleset_id, based_on)
    return draft


def discard_draft(db: Engine, ruleset_id: str, *, based_on: int, author: str) -> Draft:
    """Throw the open draft away; the version in service is untouched.

    Raises:
        UnknownDraftError: the rule set has no open draft.
        StaleDraftError: the draft changed since ``based_on``.
    """
    _open(db, ruleset_id, based_on)
    return _close(db, ruleset_id, based_on=based_on, author=author, action=DISCARDED, note="")


def write_files(files: Mapping[str, str], directory: Path) -> Path:
    """Write rule files into ``directory`` (made if missing); returns ``directory``."""
    _check_names(files)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def load_files(files: Mapping[str, str], directory: Path) -> LoadedRuleSet:
    """Write the files into ``directory`` and load them as a checked rule set.

    Positions in problems name the files by their bare names (``questions.yml``).

    Raises:
        RuleSetError: with every problem found.
    """
    write_files(files, directory)
    return load_ruleset(directory, root=directory)


def check_files(files: Mapping[str, str]) -> list[RuleProblem]:
    """Every problem of a draft's files, the rule checks and the persona files' alike.

    Each problem names a file by its bare name, with line and column.
    """
    from product_rules.personas import load_personas

    try:
        _check_names(files)
    except ValueError as exc:
        # The message as made (lazy): str(exc) would keep only its English.
        return [RuleProblem("<draft>", 1, 1, exc.args[0] if exc.args else str(exc))]
    with tempfile.TemporaryDirectory(prefix="rule-draft-") as tmp:
        directory = Path(tmp) / "draft"
        try:
            loaded = load_files(files, directory)
            load_personas(directory, root=directory, ruleset=loaded.ruleset)
        except RuleSetError as exc:
            return sorted(exc.problems, key=lambda p: (p.file, p.line, p.column))
    return []


def publish_draft(
    db: Engine,
    ruleset_id: str,
    *,
    based_on: int,
    author: str,
    note: str = "",
    extra_checks: Callable[[LoadedRuleSet], list[RuleProblem]] | None = None,
) -> PublishResult:
    """Put the open draft in service as a new published version, and close the draft.

    The registry of every server sharing ``db`` serves it within a second.

    Raises:
        UnknownDraftError: the rule set has no open draft.
        StaleDraftError: the draft changed since ``based_on`` (publish what you reviewed).
        RuleSetError: the draft fails its checks, or names another rule set id; nothing
            is published and the draft stays open.
    """
    draft = _open(db, ruleset_id, based_on)

    def checks(loaded: LoadedRuleSet) -> list[RuleProblem]:
        problems: list[RuleProblem] = []
        if loaded.ruleset.id != ruleset_id:
            problems.append(
                loaded.sources.problem(
                    ("id",),
                    _("the draft of {draft!r} names rule set {ruleset!r}").format(
                        draft=ruleset_id, ruleset=loaded.ruleset.id
                    ),
                )
            )
        return problems + (extra_checks(loaded) if extra_checks is not None else [])

    with tempfile.TemporaryDirectory(prefix="rule-publish-") as tmp:
        directory = write_files(draft.files, Path(tmp) / "rules" / "draft")
        result = publish(db, directory, author=author, message=note, extra_checks=checks)
    try:
        _close(db, ruleset_id, based_on=based_on, author=author, action=PUBLISHED, note=note)
    except StaleDraftError:
        pass  # saved again meanwhile: what was reviewed is live, the newer work stays open
    return result
