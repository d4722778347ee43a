"""Catalogue settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["CatalogSettings", "get_settings", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class CatalogSettings:
    """Where the catalogue lives."""

    database_url: str


@cache
def get_settings() -> CatalogSettings:
    """Read the settings once; ``DATABASE_URL`` defaults to a SQLite file under ``var/``."""
    default = f"sqlite:///{REPO_ROOT / 'var' / 'catalog.db'}"
    return CatalogSettings(database_url=os.environ.get("DATABASE_URL", default))
