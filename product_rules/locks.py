"""Locks: what sales staff override in a recommendation, and the rules a lock breaks.

Staff may pin main products (offered first, in that order), exclude products (never
used: not as main product, required item or accessory), choose the item that fulfils a
requirement of one main product ("keep this bike, change the pedals") and confirm the
rule breaks this causes. A lock never makes the engine refuse: the offer is built and
every rule it breaks is reported as a violation with a stable key, so a confirmation
stored with the conversation still applies to the next request.

:class:`Locks` is immutable and reads and writes plain JSON (it lives in the
conversation state); the functions below load the locked products in one query each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sqlmodel import Session, col, select

from catalog.models import Product
from product_rules.i18n import gettext
from product_rules.offers import BreachPayload, TraceEntry, ViolationPayload
from product_rules.query import offerable

__all__ = ["Locks", "load_components", "load_pinned", "lock_entry", "violation", "violation_key"]


def _texts(raw: Any) -> tuple[str, ...]:
    """Distinct non-empty strings of a JSON list, in order; anything else is ignored."""
    if not isinstance(raw, list | tuple):
        return ()
    return tuple(dict.fromkeys(s for s in raw if isinstance(s, str) and s))


def _frozen(components: Mapping[str, Mapping[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType(
        {main: MappingProxyType(dict(chosen)) for main, chosen in components.items() if chosen}
    )


@dataclass(frozen=True, slots=True)
class Locks:
    """Staff overrides for one conversation.

    Attributes:
        pinned: Main-product SKUs offered first, in this order, even if they break hard
            wishes (at most ``max_offers`` of them are shown).
        excluded: SKUs never used, as main product, required item or cross-sell.
        components: Main SKU to requirement id to the SKU staff chose instead of the
            engine's pick.
        confirmed: Violation keys staff confirmed (see :class:`ViolationPayload`).
    """

    pinned: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    components: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    confirmed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "pinned", tuple(dict.fromkeys(self.pinned)))
        object.__setattr__(self, "excluded", tuple(dict.fromkeys(self.excluded)))
        object.__setattr__(self, "components", _frozen(self.components))
        object.__setattr__(self, "confirmed", frozenset(self.confirmed))

    def __hash__(self) -> int:
        chosen = tuple(sorted((m, tuple(sorted(c.items()))) for m, c in self.components.items()))
        return hash((self.pinned, self.excluded, chosen, self.confirmed))

    def __bool__(self) -> bool:
        """Whether any lock is set."""
        return bool(self.pinned or self.excluded or self.components or self.confirmed)

    # -- JSON ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The locks as JSON-friendly data (lists and objects of strings)."""
        return {
            "pinned": list(self.pinned),
            "excluded": list(self.excluded),
            "components": {main: dict(chosen) for main, chosen in self.components.items()},
            "confirmed": sorted(self.confirmed),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Locks:
        """Read what :meth:`to_dict` wrote; entries of the wrong shape are left out.

        A conversation state may come from an older version: a lock that cannot be read
        is dropped rather than failing the request (nothing here is a shopper's input).
        """
        if not isinstance(data, Mapping):
            return cls()
        raw = data.get("components")
        components: dict[str, dict[str, str]] = {}
        if isinstance(raw, Mapping):
            for main, chosen in raw.items():
                if isinstance(main, str) and isinstance(chosen, Mapping):
                    components[main] = {
                        r: s for r, s in chosen.items() if isinstance(r, str) and isinstance(s, str)
                    }
        return cls(
            pinned=_texts(data.get("pinned")),
            excluded=_texts(data.get("excluded")),
            components=components,
            confirmed=frozenset(_texts(data.get("confirmed"))),
        )

    # -- changes (each returns new locks) --------------------------------------------

    def pin(self, sku: str) -> Locks:
        """Pin a main product after those already pinned; it is no longer excluded."""
        return replace(
            self,
            pinned=(*[s for s in self.pinned if s != sku], sku),
            excluded=tuple(s for s in self.excluded if s != sku),
        )

    def exclude(self, sku: str) -> Locks:
        """Exclude a product everywhere; it is no longer pinned."""
        return replace(
            self,
            pinned=tuple(s for s in self.pinned if s != sku),
            excluded=(*self.excluded, sku),
        )

    def choose(self, main: str, requirement: str, sku: str | None) -> Locks:
        """Lock the item of ``requirement`` for ``main`` (None: back to the engine's pick)."""
        chosen = dict(self.components.get(main, {}))
        if sku is None:
            chosen.pop(requirement, None)
        else:
            chosen[requirement] = sku
        components = {m: dict(c) for m, c in self.components.items()}
        components[main] = chosen
        return replace(self, components=components)

    def confirm(self, *keys: str) -> Locks:
        """Confirm violations by key (see :class:`ViolationPayload`)."""
        return replace(self, confirmed=self.confirmed | set(keys))


def violation_key(kind: str, *parts: str) -> str:
    """A violation's stable key: ``pin:<sku>:<rule>``, ``component:<main>:<req>:<sku>`` ..."""
    return ":".join((kind, *parts))


def violation(
    locks: Locks, key: str, main: str, sku: str, breach: BreachPayload
) -> ViolationPayload:
    """A rule broken by a lock, marked confirmed when staff confirmed its key."""
    return {
        "key": key,
        "main": main,
        "sku": sku,
        "rule": breach["rule"],
        "kind": breach["kind"],
        "detail": breach,
        "confirmed": key in locks.confirmed,
    }


def lock_entry(rule: str, message: str) -> TraceEntry:
    """A trace entry of kind ``lock``: a staff override was applied (or could not be)."""
    return {"rule": rule, "kind": "lock", "message": message}


def _by_sku(session: Session, skus: Iterable[str]) -> dict[str, Product]:
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    # A product that left the shop cannot be pinned into an offer either.
    statement = select(Product).where(col(Product.sku).in_(wanted), offerable())
    return {p.sku: p for p in session.exec(statement)}


def load_pinned(
    session: Session, locks: Locks, max_offers: int, trace: list[TraceEntry]
) -> list[Product]:
    """The pinned products that will be offered, in order (one query; traced)."""
    for sku in locks.excluded:
        trace.append(lock_entry("excluded", gettext("{sku} excluded by staff").format(sku=sku)))
    found = _by_sku(session, locks.pinned)
    pinned: list[Product] = []
    for sku in locks.pinned:
        product = found.get(sku)
        if sku in locks.excluded:
            trace.append(
                lock_entry(
                    "pinned", gettext("{sku} is pinned and excluded: excluded").format(sku=sku)
                )
            )
        elif product is None:
            trace.append(
                lock_entry(
                    "pinned", gettext("{sku} pinned but not in the catalogue").format(sku=sku)
                )
            )
        elif len(pinned) == max_offers:
            trace.append(
                lock_entry(
                    "pinned",
                    gettext("{sku} pinned, not shown: {count} offers").format(
                        sku=sku, count=max_offers
                    ),
                )
            )
        else:
            pinned.append(product)
            trace.append(
                lock_entry(
                    "pinned",
                    gettext("{sku} pinned as offer {place}").format(sku=sku, place=len(pinned)),
                )
            )
    return pinned


def load_components(session: Session, locks: Locks) -> dict[str, Product]:
    """The products staff chose for requirements, by SKU (one query, none if no locks)."""
    return _by_sku(session, (s for chosen in locks.components.values() for s in chosen.values()))
