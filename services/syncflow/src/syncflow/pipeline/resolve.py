"""Resolve (the pure part): link child rows to their parents' target rows, park the
children whose parent is not loaded yet, and the retry schedule of parked children.

A child points at a parent through a ``ParentRef``: its ref fields hold the parent's
business keys, and identity has already turned them into the parent's key hash
(``record.parent_key_hashes``). All ref fields NULL means no parent (the uid column
stays NULL). Some but not all NULL can never match a parent (business keys are never
NULL), so such a row fails here instead of waiting forever. A child with several
parents is parked for the first one missing; it is looked at again when that one
arrives.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from syncflow.domain import EntitySpec, ParentRef, Record, RowFailure, Stage


class ParkedChild(NamedTuple):
    """A child waiting for its parent: the tuple ``ParkedRepository.park_children`` takes."""

    record: Record
    parent_entity: str
    parent_key_hash: str
    parent_key: list[Any]


@dataclass(slots=True)
class Resolution:
    ready: list[Record] = field(default_factory=list)
    parked: list[ParkedChild] = field(default_factory=list)
    failures: list[RowFailure] = field(default_factory=list)


def parent_lookups(spec: EntitySpec, records: Iterable[Record]) -> dict[str, set[str]]:
    """Parent entity -> the key hashes the records point at (what to look up in each
    parent's target table)."""
    wanted: dict[str, set[str]] = {ref.parent_entity: set() for ref in spec.parent_refs}
    for record in records:
        for parent_entity, hashed in record.parent_key_hashes.items():
            if parent_entity not in record.parent_uids and parent_entity in wanted:
                wanted[parent_entity].add(hashed)
    return wanted


def resolve(
    spec: EntitySpec,
    records: Iterable[Record],
    found: Mapping[tuple[str, str], UUID],
) -> Resolution:
    """Set ``record.parent_uids`` from ``found`` (``(parent_entity, parent_key_hash) ->
    parent _bridge_uid``) and split the records into ready, parked and failed.

    A uid already in ``record.parent_uids`` (a parked child whose parent just arrived) is
    kept as it is.
    """
    refs = spec.parent_refs
    resolution = Resolution()
    if not refs:
        resolution.ready.extend(records)
        return resolution
    for record in records:
        outcome = _resolve_one(record, refs, found)
        if outcome is None:
            resolution.ready.append(record)
        elif isinstance(outcome, ParkedChild):
            resolution.parked.append(outcome)
        else:
            resolution.failures.append(outcome)
    return resolution


def _resolve_one(
    record: Record, refs: Sequence[ParentRef], found: Mapping[tuple[str, str], UUID]
) -> ParkedChild | RowFailure | None:
    values = record.values
    for ref in refs:
        parent_entity = ref.parent_entity
        if parent_entity in record.parent_uids:
            continue
        hashed = record.parent_key_hashes.get(parent_entity)
        if hashed is None:
            continue
        empty = [name for name in ref.fields if name in values and values[name] is None]
        if empty:
            return RowFailure(
                stage=Stage.RESOLVE,
                error=(
                    f"parent {parent_entity}: {', '.join(empty)} is NULL but "
                    f"{', '.join(n for n in ref.fields if n not in empty)} is not "
                    f"(a parent key is all set or all NULL)"
                ),
                raw=record.raw,
                key_hash=record.key_hash or None,
            )
        uid = found.get((parent_entity, hashed))
        if uid is None:
            return ParkedChild(
                record=record,
                parent_entity=parent_entity,
                parent_key_hash=hashed,
                parent_key=[values.get(name) for name in ref.fields],
            )
        record.parent_uids[parent_entity] = uid
    return None


def give_up(attempts: int, max_retries: int) -> bool:
    """Whether a parked child has been tried ``max_retries`` times and goes to
    ``failed_records`` instead."""
    return attempts >= max_retries
