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
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs


class CheckedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose pooled connections are checked (``SELECT 1``) before use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
