"""Privacy requests: find one conversation in every store, erase it, and audit each request.

A conversation is Rasa's sender id (issued by the web app, :mod:`web.conversation`). What
is kept of it, and what erasing does to each store:

=============================  ==================================================  ===========
store                          held                                                erasing
=============================  ==================================================  ===========
Rasa's ``events`` (tracker)    every message, slot (our conversation state), offer  rows deleted
``advisor_conversation``       our copy of the conversation state (the answers)      deleted
``advisor_handover``           a request for a person, its state and staff note      deleted
``advisor_live_message``       the live chat: staff and shopper messages             deleted
``advisor_inbox_message``      a message left for staff, email, phone                deleted
``advisor_shared``             hand-over and share codes with their state            deleted
``advisor_code_claim/attempt`` who claimed or tried the conversation's codes         deleted
``advisor_assisted_session``   a console session picked up from one of its codes     deleted,
                                                                                     with its
                                                                                     ``advisor_audit``
``advisor_rating``             the rating and its comment                            comment
                                                                                     emptied
``advisor_event``,             the analytics: what was asked, answered, offered      anonymised
``advisor_offer_shown``,
``advisor_conversation_facts``
=============================  ==================================================  ===========

Anonymised means the counts stay and the link to the person goes: the conversation id is
replaced by a random pseudonym (``erased-…``, one per erasure, so the reports still count
one conversation), and texts the shopper typed (a message the advisor did not understand)
are emptied. Parsed answers (``endurance``, ``1500``) stay: they are what the reports count.

Every export and erasure leaves a row in ``advisor_privacy_audit``: who, when, what, and
which conversation as a SHA-256 digest of its id (:func:`digest`): the audit never holds
the id itself, so an erased conversation leaves no row that names it, yet whoever still
knows an id can check what was done to it.

Exceptions (one tree, :class:`PrivacyError`, messages meant for a person)::

    PrivacyError
    ├── InvalidReferenceError      neither a conversation id nor a code
    └── UnknownConversationError   nothing stored under that id or code
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    delete,
    inspect,
)
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.engine import make_url
from sqlmodel import Field, SQLModel

from advisor.accounts import UTCDateTime
from advisor.conversation_store import ConversationRecord
from advisor.events import AdvisorEvent, EventKind, OfferShown
from advisor.facts import ConversationFacts
from advisor.handover import HandoverRecord
from advisor.inbox import InboxMessage
from advisor.live_log import LiveMessage
from advisor.ratings import Rating
from advisor.sessions import AssistedSession, AuditEntry
from advisor.sharing import CODE_LENGTH, ClaimAttempt, CodeClaim, SharedConfiguration
from catalog.db import normalise_url

__all__ = [
    "ERASED",
    "ERASED_PREFIX",
    "NOT_CONVERSATION_DATA",
    "InvalidReferenceError",
    "PrivacyAudit",
    "PrivacyError",
    "Reference",
    "Stores",
    "UnknownConversationError",
    "audit",
    "audited",
    "digest",
    "entries",
    "erase",
    "rasa_events",
    "resolve",
    "tracker_engine",
    "tracker_missing",
]

log = logging.getLogger("advisor")

#: How a pseudonym of an erased conversation starts; never an id the web app issues.
ERASED_PREFIX = "erased-"
#: Every table of ours that :func:`erase` deletes from or anonymises.
ERASED = frozenset(
    {
        "advisor_conversation",
        "advisor_handover",
        "advisor_live_message",
        "advisor_inbox_message",
        "advisor_shared",
        "advisor_code_claim",
        "advisor_code_attempt",
        "advisor_assisted_session",
        "advisor_audit",
        "advisor_rating",
        "advisor_event",
        "advisor_offer_shown",
        "advisor_conversation_facts",
    }
)
#: The tables of ours that hold nothing of a shopper's conversation, and why. A new
#: table must go into one of the two (tests/advisor/test_privacy_tables.py), so no
#: store of conversations is added without its erasure.
NOT_CONVERSATION_DATA = {
    "advisor_answer_fact": "parsed answers of a facts run, linked by its id; the run is anonymised",
    "advisor_privacy_audit": "names a conversation by the SHA-256 digest of its id only",
    "advisor_opening_hours": "the shop's opening hours",
    "advisor_staff_presence": "staff status and capacity",
    "staff_user": "staff accounts",
    "staff_login_session": "staff sign-ins",
    "staff_login_failure": "failed staff sign-ins",
    "product": "the catalogue",
    "productrelation": "the catalogue's relations",
    "rule_version": "published rule sets",
    "rule_publication": "the publication log",
    "rule_draft": "rule drafts",
    "rule_draft_revision": "rule draft revisions",
}
#: A conversation id as Rasa takes it: the web app's 32 characters, or a test's sender.
_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
#: A code as a person may type it (spaces and dashes are dropped by normalise).
_CODE = re.compile(rf"^[A-Za-z0-9]{{{CODE_LENGTH}}}$")


class PrivacyError(Exception):
    """A privacy request that cannot be carried out; the message says why and what to do."""


class InvalidReferenceError(PrivacyError, ValueError):
    """The reference is neither a conversation id nor a hand-over or share code."""

    def __init__(self, reference: str) -> None:
        shown = reference if len(reference) <= 40 else reference[:40] + "…"
        super().__init__(
            f"{shown!r} is neither a conversation id (8 to 128 letters, digits, - or _) nor "
            f"a {CODE_LENGTH}-character hand-over or share code"
        )


class UnknownConversationError(PrivacyError, LookupError):
    """Nothing is stored under this id or code (mistyped, never used, or erased already)."""

    def __init__(self, reference: str, detail: str = "") -> None:
        self.reference = reference
        super().__init__(
            detail
            or f"no conversation is stored under {reference!r}: check the id or code (a "
            "conversation erased already or past retention is gone)"
        )


class PrivacyAudit(SQLModel, table=True):
    """One export or erasure: who, when, which conversation (as a digest). Never updated."""

    __tablename__ = "advisor_privacy_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    #: A staff member's name, ``shopper`` (from the widget) or ``retention`` (the purge).
    actor: str = Field(max_length=80)
    #: ``export`` or ``erase``.
    action: str = Field(max_length=16)
    #: SHA-256 of the conversation id, hex (:func:`digest`).
    conversation_digest: str = Field(max_length=64, index=True)
    #: How the conversation was named: ``id``, ``code``, ``cookie`` or ``retention``.
    via: str = Field(max_length=16)
    #: Rows touched per table (erasure); no content.
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def digest(conversation: str) -> str:
    """The audit's name for a conversation: SHA-256 of its id, 64 hex digits.

    The ids are 192 random bits, so the digest cannot be turned back into one.
    """
    return hashlib.sha256(conversation.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Stores:
    """Where a conversation is kept: our database and Rasa's tracker store.

    Attributes:
        engine: The advisor's database (``DATABASE_URL``).
        tracker: Rasa's SQL tracker store (``TRACKER_STORE_URL``); ``None`` when Rasa
            keeps its trackers elsewhere (then only our tables are erased, and the
            caller is told by :func:`erase`'s counts).
    """

    engine: Engine
    tracker: Engine | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    """A conversation found from what a person typed."""

    conversation: str
    via: str  # "id" or "code"


def tracker_engine(url: str) -> Engine:
    """An engine on Rasa's tracker store, failing fast when its server does not answer.

    SQLite gets a busy timeout instead of WAL: the file is Rasa's, its journal mode stays
    Rasa's choice.
    """
    normalised = normalise_url(url)
    if normalised.startswith("sqlite"):
        return create_engine(normalised, connect_args={"timeout": 10})
    return create_engine(normalised, connect_args={"connect_timeout": 5}, pool_pre_ping=True)


def tracker_missing(url: str) -> bool:
    """Whether ``url`` is a SQLite file that does not exist: Rasa has not written yet.

    Checked before connecting, which would create an empty file in Rasa's place.
    """
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("sqlite"):
        return False
    path = parsed.database or ""
    return not path or path == ":memory:" or not Path(path).exists()


def rasa_events(engine: Engine) -> Table | None:
    """Rasa's ``events`` table (SQLTrackerStore), or ``None`` before Rasa wrote any."""
    if not inspect(engine).has_table("events"):
        return None
    return Table("events", MetaData(), autoload_with=engine)


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _now() -> datetime:
    return datetime.now(UTC)


def _known(stores: Stores, conversation: str) -> bool:
    probes = [
        (_table(ConversationRecord), "conversation"),
        (_table(HandoverRecord), "conversation"),
        (_table(SharedConfiguration), "conversation"),
        (_table(Rating), "conversation"),
        (_table(ConversationFacts), "conversation"),
        (_table(AdvisorEvent), "conversation"),
        (_table(InboxMessage), "conversation"),
    ]
    existing = set(inspect(stores.engine).get_table_names())
    with stores.engine.connect() as connection:
        for table, column in probes:
            if table.name not in existing:
                continue
            found = connection.execute(
                sa_select(table.c[column]).where(table.c[column] == conversation).limit(1)
            ).first()
            if found is not None:
                return True
    if stores.tracker is not None:
        events = rasa_events(stores.tracker)
        if events is not None:
            with stores.tracker.connect() as connection:
                found = connection.execute(
                    sa_select(events.c.id).where(events.c.sender_id == conversation).limit(1)
                ).first()
                return found is not None
    return False


def resolve(stores: Stores, reference: str) -> Reference:
    """The conversation a person means by ``reference``: its id, or a code it was given.

    Raises:
        InvalidReferenceError: ``reference`` has the shape of neither.
        UnknownConversationError: Nothing is stored under it.
    """
    raw = reference.strip()
    squeezed = raw.replace(" ", "").replace("-", "")
    if _CODE.match(squeezed):
        code = squeezed.upper()
        with stores.engine.connect() as connection:
            found = _conversation_of_code(connection, code)
        if found is None:
            raise UnknownConversationError(
                code,
                f"no shopper's conversation has the code {code}: check it (codes of a "
                "conversation erased already are gone; a configuration staff made in the "
                "console has a code but no conversation)",
            )
        return Reference(found, "code")
    if not _ID.match(raw) or raw.startswith(ERASED_PREFIX):
        raise InvalidReferenceError(raw)
    if not _known(stores, raw):
        raise UnknownConversationError(raw)
    return Reference(raw, "id")


def _conversation_of_code(connection: Connection, code: str) -> str | None:
    existing = set(inspect(connection).get_table_names())
    for table in (_table(SharedConfiguration), _table(HandoverRecord)):
        if table.name not in existing:
            continue
        row = connection.execute(
            sa_select(table.c.conversation).where(table.c.code == code).limit(1)
        ).first()
        if row is not None and row[0]:
            return str(row[0])
    return None


def audit(
    connection: Connection,
    *,
    actor: str,
    action: str,
    conversation: str,
    via: str,
    counts: dict[str, int] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one privacy audit entry (in the caller's transaction)."""
    connection.execute(
        _table(PrivacyAudit)
        .insert()
        .values(
            at=now or _now(),
            actor=actor[:80],
            action=action,
            conversation_digest=digest(conversation),
            via=via,
            counts=dict(counts or {}),
        )
    )


def _ids(connection: Connection, statement: Any) -> list[Any]:
    return [row[0] for row in connection.execute(statement) if row[0] is not None]


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _erase_ours(connection: Connection, conversation: str, pseudonym: str) -> dict[str, int]:
    existing = set(inspect(connection).get_table_names())
    counts: dict[str, int] = {}

    def present(*models: type[SQLModel]) -> bool:
        return all(_table(m).name in existing for m in models)

    handover, shared = _table(HandoverRecord), _table(SharedConfiguration)
    handovers: list[str] = []
    codes: set[str] = set()
    if present(HandoverRecord):
        rows = connection.execute(
            sa_select(handover.c.id, handover.c.code).where(handover.c.conversation == conversation)
        ).all()
        handovers = [str(r[0]) for r in rows]
        codes |= {str(r[1]) for r in rows if r[1]}
    if present(SharedConfiguration):
        codes |= {
            str(c)
            for c in _ids(
                connection, sa_select(shared.c.code).where(shared.c.conversation == conversation)
            )
        }
    if present(ConversationRecord):
        state = _table(ConversationRecord)
        counts[state.name] = _count(
            connection.execute(delete(state).where(state.c.conversation == conversation))
        )
    if present(LiveMessage) and handovers:
        live = _table(LiveMessage)
        counts[live.name] = _count(
            connection.execute(delete(live).where(live.c.handover_id.in_(handovers)))
        )
    if present(InboxMessage):
        inbox = _table(InboxMessage)
        where = inbox.c.conversation == conversation
        if handovers:
            where = where | inbox.c.handover_id.in_(handovers)
        counts[inbox.name] = _count(connection.execute(delete(inbox).where(where)))
    if present(HandoverRecord):
        counts[handover.name] = _count(
            connection.execute(delete(handover).where(handover.c.conversation == conversation))
        )
    if present(AssistedSession) and codes:
        sessions_table = _table(AssistedSession)
        sessions = _ids(
            connection,
            sa_select(sessions_table.c.id).where(sessions_table.c.origin_code.in_(codes)),
        )
        if sessions and present(AuditEntry):
            entries = _table(AuditEntry)
            counts[entries.name] = _count(
                connection.execute(delete(entries).where(entries.c.session_id.in_(sessions)))
            )
        if sessions:
            counts[sessions_table.name] = _count(
                connection.execute(delete(sessions_table).where(sessions_table.c.id.in_(sessions)))
            )
    for claims in (CodeClaim, ClaimAttempt):
        if present(claims) and codes:
            table = _table(claims)
            counts[table.name] = _count(
                connection.execute(delete(table).where(table.c.code.in_(codes)))
            )
    if present(SharedConfiguration):
        where = shared.c.conversation == conversation
        if codes:
            where = where | shared.c.code.in_(codes)
        counts[shared.name] = _count(connection.execute(delete(shared).where(where)))
    if present(Rating):
        rating = _table(Rating)
        counts[rating.name] = _count(
            connection.execute(
                sa_update(rating)
                .where(rating.c.conversation == conversation)
                .values(conversation=pseudonym, comment="")
            )
        )
    if present(AdvisorEvent):
        events = _table(AdvisorEvent)
        # What the shopper typed and the advisor did not understand is their text: it goes.
        connection.execute(
            sa_update(events)
            .where(events.c.conversation == conversation)
            .where(events.c.kind == EventKind.NOT_UNDERSTOOD.value)
            .values(value=None)
        )
    for model in (AdvisorEvent, OfferShown, ConversationFacts):
        if present(model):
            table = _table(model)
            counts[table.name] = _count(
                connection.execute(
                    sa_update(table)
                    .where(table.c.conversation == conversation)
                    .values(conversation=pseudonym)
                )
            )
    return {name: n for name, n in counts.items() if n}


def erase(
    stores: Stores,
    conversation: str,
    *,
    actor: str,
    via: str,
    clock: Callable[[], datetime] = _now,
) -> dict[str, int]:
    """Erase one conversation from every store; rows deleted or anonymised per table.

    Rasa's tracker rows go first (they hold the most), in their own transaction; then
    ours, with the audit entry, in one. Run twice, the second finds nothing and says so
    (an empty count), and still leaves its audit entry.
    """
    if not conversation or conversation.startswith(ERASED_PREFIX):
        raise InvalidReferenceError(conversation)
    counts: dict[str, int] = {}
    if stores.tracker is not None:
        events = rasa_events(stores.tracker)
        if events is not None:
            with stores.tracker.begin() as connection:
                deleted = _count(
                    connection.execute(delete(events).where(events.c.sender_id == conversation))
                )
            if deleted:
                counts["rasa:events"] = deleted
    pseudonym = ERASED_PREFIX + secrets.token_hex(8)
    with stores.engine.begin() as connection:
        counts.update(_erase_ours(connection, conversation, pseudonym))
        audit(
            connection,
            actor=actor,
            action="erase",
            conversation=conversation,
            via=via,
            counts=counts,
            now=clock(),
        )
    log.info(
        "privacy: conversation %s erased by %s (%s)",
        digest(conversation)[:12],
        actor,
        ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing stored",
    )
    return counts


def audited(stores: Stores, *, actor: str, action: str, conversation: str, via: str) -> None:
    """Append an audit entry in a transaction of its own (an export, say)."""
    with stores.engine.begin() as connection:
        audit(connection, actor=actor, action=action, conversation=conversation, via=via)


def entries(stores: Stores, *, limit: int = 50) -> list[PrivacyAudit]:
    """The newest audit entries, newest first."""
    table = _table(PrivacyAudit)
    with stores.engine.connect() as connection:
        rows = (
            connection.execute(sa_select(table).order_by(table.c.id.desc()).limit(limit))
            .mappings()
            .all()
        )
    return [PrivacyAudit.model_validate(dict(row)) for row in rows]
