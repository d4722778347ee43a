"""The advisor service as the web app uses it: one set per app, made on first use.

The staff console and the share page call the same :class:`advisor.service.Advisor`
as the chat's actions do (one registry of rule sets, one parser, one engine), plus the
console's :class:`advisor.assisted.AssistedAdvisor`, the assisted sessions and the
share codes. They are built lazily from the settings (``DATABASE_URL``,
``PRODUCT_RULES_DIR``) the first time a request needs them and kept on ``app.state``,
so the shop page and the chat proxy never touch the database. Tests put their own
:class:`Services` on ``app.state.services`` (an in-memory catalogue) before the first
request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from advisor.assisted import AssistedAdvisor
from advisor.events import Event, EventLog, Scope
from advisor.facts import current_scope
from advisor.handover import HandoverStore
from advisor.live import LiveChannel, LiveDesk, make_channel
from advisor.service import Advisor
from advisor.sessions import SessionStore
from advisor.settings import Settings
from advisor.sharing import ShareStore
from catalog.db import make_engine
from product_rules.registry import RuleRegistry

__all__ = ["Live", "LiveDep", "Services", "ServicesDep", "get_live", "get_services", "live_of"]

log = logging.getLogger("web")
_lock = threading.Lock()
_events_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Services:
    """The advisor and its stores, shared by every request of one app."""

    advisor: Advisor
    assisted: AssistedAdvisor
    sessions: SessionStore
    codes: ShareStore

    @classmethod
    def build(cls, db: Engine, rules_dir: Path, *, events: EventLog | None = None) -> Services:
        """The advisor over the rule sets in ``rules_dir`` and the catalogue in ``db``.

        With ``events``, what the console's sessions do is recorded for the analytics.
        """
        codes = ShareStore(db)
        advisor = Advisor(RuleRegistry(rules_dir, db), codes=codes, events=events)
        log.info(
            "console serves rule sets from %s: %s",
            rules_dir,
            ", ".join(s.ruleset.id for s in advisor.registry.all()) or "none",
        )
        return cls(
            advisor=advisor,
            assisted=AssistedAdvisor(advisor),
            sessions=SessionStore(db),
            codes=codes,
        )


def _engine(request: Request, settings: Settings) -> Engine:
    # One database for accounts, sessions and the catalogue: reuse the app's engine
    # when the auth area made one, so SQLite sees one pool, not two.
    database = getattr(request.app.state, "db", None)
    engine = getattr(database, "engine", None)
    if isinstance(engine, Engine):
        return engine
    return make_engine(settings.database_url)


def app_event_log(request: Request) -> EventLog | None:
    """The app's analytics event log (one writer thread), made on first use.

    ``None`` when ``ADVISOR_EVENTS=off``. The app's lifespan writes it out at shutdown.
    """
    state = request.app.state
    if not state.settings.events_enabled:
        return None
    events: EventLog | None = getattr(state, "events", None)
    if events is None:
        with _events_lock:  # not _lock: get_services holds that one while calling here
            events = getattr(state, "events", None)
            if events is None:
                events = state.events = EventLog(_engine(request, state.settings))
    return events


def record_beside(request: Request, conversation: str, event: Event) -> None:
    """Record what happened beside a conversation's turns (a click, a hand-over taken).

    Filed under the conversation's current run (its rule set, version, language); a
    database that does not answer costs the analytics one event, never the request.
    """
    events = app_event_log(request)
    if events is None:
        return
    try:
        with events.engine.connect() as connection:
            scope = current_scope(connection, conversation)
    except SQLAlchemyError:
        log.exception("event %s of conversation %s filed without its run", event.kind, conversation)
        scope = None
    events.record(scope or Scope(conversation, None, None, "chat", "en"), [event], turn=False)


def get_services(request: Request) -> Services:
    """The app's :class:`Services`, built on first use."""
    state = request.app.state
    services: Services | None = getattr(state, "services", None)
    if services is None:
        with _lock:
            services = getattr(state, "services", None)
            if services is None:
                settings: Settings = state.settings
                services = Services.build(
                    _engine(request, settings), settings.rules_dir, events=app_event_log(request)
                )
                state.services = services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True, slots=True)
class Live:
    """The live hand-over of one app: requests, live chats and their channel.

    Attributes:
        store: Requests, presence, history and inbox (the console's store).
        channel: Where payloads go live.
        desk: Store, then publish: what the routes call.
        stream_seconds: How long one event stream stays open at most (less up to a
            quarter at random, :func:`web.live_view.stream_length`); it then says
            ``reconnect`` and the widget or desk opens a new one at once after the
            last id it saw. Bounded, so a server stopping waits at most this long for
            open streams (``make run`` lets it wait 5 s, ``web.stack``).
        keepalive_seconds: How often a silent stream sends a comment.
    """

    store: HandoverStore
    channel: LiveChannel
    desk: LiveDesk
    stream_seconds: float = 120.0
    keepalive_seconds: float = 15.0

    @classmethod
    def build(cls, store: HandoverStore, channel: LiveChannel, **options: float) -> Live:
        """The live desk over ``store`` and ``channel``."""
        return cls(store=store, channel=channel, desk=LiveDesk(store, channel), **options)


#: The live desk's own pool on a database server (chat messages, one statement each).
CHAT_POOL_SIZE = 10
CHAT_POOL_OVERFLOW = 20


def _chat_engine(engine: Engine) -> Engine | None:
    """A pool of its own for chat messages on a server database; ``None`` for SQLite.

    Staff messages come in bursts (50 chats: 70 a second); on the app's pool (5 kept,
    10 more opened and closed as needed) a burst opened a connection per message, and
    waited behind page requests. No pre-ping: a connection the server dropped fails
    its statement, and :class:`HandoverStore` tries once more on a fresh one.
    """
    if engine.dialect.name == "sqlite":
        return None  # one file, one pool
    return create_engine(
        engine.url,
        pool_size=CHAT_POOL_SIZE,
        max_overflow=CHAT_POOL_OVERFLOW,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )


async def get_live(request: Request) -> Live:
    """The app's :class:`Live` (built on first use, in a worker thread: it may create tables).

    Async, so the live routes (every staff message) take no thread hop just to find it.
    """
    state = request.app.state
    live = getattr(state, "live", None)
    if isinstance(live, Live) and isinstance(getattr(state, "handover", None), HandoverStore):
        return live
    return await asyncio.to_thread(live_of, request)


def live_of(request: Request) -> Live:
    """The app's :class:`Live`, built on first use.

    On the advisor's database (the :class:`Services`' when they exist, else the app's),
    without building the advisor: the chat path needs only the store.
    """
    state = request.app.state
    live: Live | None = getattr(state, "live", None)
    if live is None:
        with _lock:
            live = getattr(state, "live", None)
            if live is None:
                settings: Settings = state.settings
                accept_timeout = timedelta(seconds=settings.handover_accept_s)
                store = getattr(state, "handover", None)
                if isinstance(store, HandoverStore):
                    store.accept_timeout = accept_timeout  # made by the console's start page
                else:
                    services: Services | None = getattr(state, "services", None)
                    engine = (
                        services.codes.engine
                        if services is not None
                        else _engine(request, settings)
                    )
                    store = HandoverStore(engine, accept_timeout=accept_timeout)
                    state.handover = store
                chat_engine = _chat_engine(store.engine)
                if chat_engine is not None and store.chat_engine is store.engine:
                    store.use_chat_engine(chat_engine)
                live = Live.build(store, make_channel(settings.live_channel_url or None))
                state.live = live
    if not isinstance(getattr(state, "handover", None), HandoverStore):
        state.handover = live.store  # a test's own Live: the console uses its store too
    return live


LiveDep = Annotated[Live, Depends(get_live)]
