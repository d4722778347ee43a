"""Relations between products from a feed: tags on a row, or a relations file.

A tag with a prefix the mapping names (``accessory-of:road-bike-tempo``, ``fits:CDZ-PED-520``)
relates the row's model to another model or SKU. A relations file is a CSV with the
columns ``source``, ``target``, ``kind`` (``accessory_of`` or ``compatible_with``) and an
optional ``note``. Either side must be a SKU or model of the same import; a relation
naming anything else is reported with its line and left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from catalog.importing.mapping import Mapping
from catalog.importing.problems import RowProblem, did_you_mean
from catalog.importing.records import Record, read_delimited
from catalog.models import RelationKind

__all__ = ["PendingRelation", "check_relations", "relations_from_file", "relations_from_tags"]


@dataclass(frozen=True, slots=True)
class PendingRelation:
    """A relation read from a feed, not yet checked against the imported products."""

    file: str
    line: int
    source: str
    target: str
    kind: RelationKind
    note: str = ""


def relations_from_tags(
    record: Record, row_source: str, mapping: Mapping, file: str
) -> Iterator[PendingRelation]:
    """The relations a record's tags name, from its model ``row_source``."""
    rule = mapping.relations
    if not rule.prefixes:
        return
    for field in rule.sources:
        for tag in record.get(field).split(","):
            prefix, colon, target = tag.strip().partition(":")
            kind = rule.prefixes.get(prefix.strip().casefold()) if colon else None
            if kind is not None and target.strip():
                yield PendingRelation(file, record.line, row_source, target.strip(), kind)


def relations_from_file(path: Path) -> Iterator[PendingRelation | RowProblem]:
    """The rows of a relations file; a row without a known kind is a problem."""
    kinds = [k.value for k in RelationKind]
    for record in read_delimited(path):
        source, target, kind = record.get("source"), record.get("target"), record.get("kind")
        if not source or not target:
            yield RowProblem(path.name, record.line, "a relation needs a source and a target")
        elif kind not in kinds:
            hint = did_you_mean(kind, kinds)
            yield RowProblem(
                path.name,
                record.line,
                f"relation kind {kind!r} is none of {', '.join(kinds)}{hint}",
            )
        else:
            yield PendingRelation(
                path.name, record.line, source, target, RelationKind(kind), record.get("note")
            )


def check_relations(
    pending: Iterable[PendingRelation], known: set[str]
) -> tuple[list[PendingRelation], list[RowProblem]]:
    """Keep the relations whose ends are SKUs or models of the import, once each."""
    kept: dict[tuple[str, str, str], PendingRelation] = {}
    problems: list[RowProblem] = []
    for relation in pending:
        missing = [end for end in (relation.source, relation.target) if end not in known]
        if missing:
            hint = did_you_mean(missing[0], known) if len(known) < 50_000 else ""
            problems.append(
                RowProblem(
                    relation.file,
                    relation.line,
                    f"relation {relation.kind.value} names {missing[0]!r}, which is no SKU "
                    f"or model of this import{hint}",
                )
            )
            continue
        kept.setdefault((relation.source, relation.target, relation.kind.value), relation)
    return list(kept.values()), problems
