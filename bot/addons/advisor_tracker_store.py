"""Rasa's SQL tracker store, with connections checked before use.

Runs inside Rasa's own environment (Python 3.10, ``.venv-rasa``): ``bot/endpoints.yml``
names it as the tracker store's ``type`` and the launchers put ``bot/addons`` on Rasa's
``PYTHONPATH``. Nothing of Rasa's is changed; this is a tracker store of ours, built on
Rasa's public ``SQLTrackerStore`` class, as its documentation allows for custom stores.

Why: Rasa 3.6 makes its engine without ``pool_pre_ping``. After PostgreSQL restarts,
each pooled connection is dead, and the first turn on it fails to load the tracker.
Rasa's ``FailSafeTrackerStore`` answers that failure with a new, empty tracker: the
shopper's next message would start the conversation again although the database is
back (seen in ``tests/integration/test_postgres_restart.py``, under load). A connection
checked before use is replaced silently instead.

And when the database really is away, the tracker is not silently new: :meth:`retrieve`
answers with a tracker whose ``session_started`` event says the conversation's events
could not be loaded (``metadata["advisor_tracker_lost"]``). The action server then reads
the conversation's state from our database (``advisor.conversation_store``), or, if that
is away too, answers "please try again" — a new conversation it is not. Saving such a
tracker later adds nothing to the stored one: Rasa appends only the events beyond the
count already stored.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

#: The ``session_started`` metadata key that tells the actions the tracker was not loaded.
LOST = "advisor_tracker_lost"


class CheckedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose pooled connections are checked (``SELECT 1``) before use.

    On SQLite (``make run``'s tracker) the file is in WAL mode with ``synchronous=NORMAL``,
    as our own SQLite database is (``catalog.db.make_engine``): Rasa's default journal
    syncs the disk twice per saved turn. WAL keeps every committed turn through a crash
    of the process; only a power cut may cost the last turns. PostgreSQL is left as is.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's tracker; one marked as not loaded while the database is away."""
        try:
            return await super().retrieve(sender_id)
        except sa.exc.SQLAlchemyError as error:
            logger.error("cannot load the tracker of conversation %s: %s", sender_id, error)
            tracker = self.init_tracker(sender_id)
            tracker.update(ActionExecuted(ACTION_SESSION_START_NAME))
            tracker.update(SessionStarted(metadata={LOST: True}))
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            return tracker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
