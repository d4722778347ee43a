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

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from advisor.assisted import AssistedAdvisor
from advisor.service import Advisor
from advisor.sessions import SessionStore
from advisor.sharing import ShareStore
from catalog.db import make_engine
from product_rules.registry import RuleRegistry
from web.settings import WebSettings

__all__ = ["Services", "ServicesDep", "get_services"]

log = logging.getLogger("web")
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Services:
    """The advisor and its stores, shared by every request of one app."""

    advisor: Advisor
    assisted: AssistedAdvisor
    sessions: SessionStore
    codes: ShareStore

    @classmethod
    def build(cls, db: Engine, rules_dir: Path) -> Services:
        """The advisor over the rule sets in ``rules_dir`` and the catalogue in ``db``."""
        codes = ShareStore(db)
        advisor = Advisor(RuleRegistry(rules_dir, db), codes=codes)
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


def _engine(request: Request, settings: WebSettings) -> Engine:
    # One database for accounts, sessions and the catalogue: reuse the app's engine
    # when the auth area made one, so SQLite sees one pool, not two.
    database = getattr(request.app.state, "db", None)
    engine = getattr(database, "engine", None)
    if isinstance(engine, Engine):
        return engine
    return make_engine(settings.database_url)


def get_services(request: Request) -> Services:
    """The app's :class:`Services`, built on first use."""
    state = request.app.state
    services: Services | None = getattr(state, "services", None)
    if services is None:
        with _lock:
            services = getattr(state, "services", None)
            if services is None:
                settings: WebSettings = state.settings
                services = Services.build(_engine(request, settings), settings.rules_dir)
                state.services = services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
