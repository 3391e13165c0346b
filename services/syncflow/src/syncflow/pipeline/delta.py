"""Delta (the pure part): duplicates, what each row does to the target, and whether
deletes may be applied. docs/delta.md explains the rules with examples.

- :func:`dedupe`: rows of one chunk sharing a key hash keep the one with the highest
  rowversion (NULL lowest; ties go to the last read); the others are ``duplicate``.
- :func:`classify`: against what the target holds, each surviving row is an insert,
  an update (changed, or soft-deleted and back), unchanged, or a duplicate of a row
  this batch already wrote in an earlier chunk. Such a cross-chunk duplicate is
  counted ``duplicate``; it is still written when its data differs, because chunks
  arrive in rowversion order, so the later read has the higher (or equal) rowversion
  and wins.
- :func:`decide_deletes`: whether the rows a full read did not see may be deleted.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, NamedTuple
from uuid import UUID

from syncflow.domain import (
    Counters,
    DeleteMode,
    DeletePolicy,
    DeltaStrategy,
    Record,
    SyncMode,
)


class ExistingRow(NamedTuple):
    """What the target holds for a key (``load.lookup_existing`` returns these tuples)."""

    data_hash: str
    batch_uid: UUID | None
    deleted: bool


@dataclass(slots=True)
class DeltaSet:
    """One chunk's rows by what they do. ``replaced`` rows collide with a row this batch
    wrote in an earlier chunk and win: they are written and counted ``duplicate``."""

    inserts: list[Record] = field(default_factory=list)
    updates: list[Record] = field(default_factory=list)
    unchanged: list[Record] = field(default_factory=list)
    duplicates: list[Record] = field(default_factory=list)
    replaced: list[Record] = field(default_factory=list)

    def to_write(self) -> list[Record]:
        """The rows load writes (inserts, updates and winning cross-chunk duplicates)."""
        return [*self.inserts, *self.updates, *self.replaced]

    def counters(self) -> Counters:
        """This chunk's ``inserted``, ``updated``, ``unchanged`` and ``duplicate``."""
        return Counters(
            inserted=len(self.inserts),
            updated=len(self.updates),
            unchanged=len(self.unchanged),
            duplicate=len(self.duplicates) + len(self.replaced),
        )


@dataclass(frozen=True, slots=True)
class DeleteDecision:
    apply: bool
    warning: str | None = None


def dedupe(records: Iterable[Record]) -> tuple[list[Record], list[Record]]:
    """``(winners, duplicates)``: one winner per key hash, in order of first appearance."""
    winners: dict[str, Record] = {}
    duplicates: list[Record] = []
    for record in records:
        current = winners.get(record.key_hash)
        if current is None:
            winners[record.key_hash] = record
        elif _wins(record.rowversion, current.rowversion):
            winners[record.key_hash] = record
            duplicates.append(current)
        else:
            duplicates.append(record)
    return list(winners.values()), duplicates


def classify(
    records: Iterable[Record],
    existing: Mapping[str, tuple[str, UUID | None, bool]],
    batch_uid: UUID,
) -> DeltaSet:
    """Dedupe ``records`` and sort the winners by what they do to the target.

    ``existing`` maps key hash -> ``(data_hash, batch_uid, deleted)`` (an
    :class:`ExistingRow`) for the keys the target already holds.
    """
    winners, duplicates = dedupe(records)
    delta = DeltaSet(duplicates=duplicates)
    for record in winners:
        found = existing.get(record.key_hash)
        if found is None:
            delta.inserts.append(record)
            continue
        data_hash, written_by, deleted = found
        if written_by == batch_uid:
            if data_hash == record.data_hash:
                delta.duplicates.append(record)
            else:
                delta.replaced.append(record)
        elif deleted or data_hash != record.data_hash:
            delta.updates.append(record)
        else:
            delta.unchanged.append(record)
    return delta


def detects_deletes(strategy: DeltaStrategy, mode: SyncMode) -> bool:
    """Whether a run reads the whole source: every ``hash`` and ``full`` run, and
    ``mode: full`` runs of ``rowversion`` entities."""
    return strategy is not DeltaStrategy.ROWVERSION or mode is SyncMode.FULL


def decide_deletes(
    candidates: int,
    target_rows: int,
    policy: DeletePolicy,
    read_ok: bool,
    rows_read: int,
) -> DeleteDecision:
    """Whether to delete the ``candidates`` live target rows the read did not see.

    Never after a failed or empty read, never with mode ``ignore``, and not when the
    candidates are more than ``max_ratio`` of ``target_rows`` (exactly ``max_ratio`` is
    allowed): then the batch gets the warning
    ``deletes skipped: N of M rows (X%) exceeds max_ratio Y``.
    """
    if policy.mode is DeleteMode.IGNORE or candidates <= 0 or target_rows <= 0:
        return DeleteDecision(apply=False)
    if not read_ok:
        return DeleteDecision(apply=False, warning="deletes skipped: the read did not complete")
    if rows_read <= 0:
        return DeleteDecision(apply=False, warning="deletes skipped: the source returned no rows")
    # exact arithmetic, so a ratio of exactly max_ratio is never "more" by a rounding error
    if Fraction(candidates, target_rows) > Fraction(Decimal(str(policy.max_ratio))):
        percent = (Decimal(candidates * 100) / Decimal(target_rows)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
        return DeleteDecision(
            apply=False,
            warning=(
                f"deletes skipped: {candidates} of {target_rows} rows ({percent}%) "
                f"exceeds max_ratio {policy.max_ratio}"
            ),
        )
    return DeleteDecision(apply=True)


def _wins(challenger: Any, holder: Any) -> bool:
    """Whether a later-read rowversion beats the one held: higher wins, ties go to the
    later read, NULL is lowest; values that do not compare count as a tie."""
    if challenger is None:
        return holder is None
    if holder is None:
        return True
    try:
        return bool(challenger >= holder)
    except TypeError:
        return True
