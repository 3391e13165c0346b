"""What ScheduleHub does with a batch call or a webhook: check each record, apply it by
key, log what was applied. (Query and insert, which carry thousands of records, are
served from the JSON text by ``sent_json``, with the same checks.)

ScheduleHub is strict, so that a sloppy client shows: inserting a key it holds live,
updating or deleting a uid it does not hold or has deleted, and changing a record's key
are per-record failures, as are records that break a rule the control API set and
(with ``require_parents``) records whose parent it does not hold live.
"""

import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.errors import Unprocessable
from schedulehub_standin.repository import Applied, HeldRecord, NewRecord, RecordRepository
from schedulehub_standin.runtime import Runtime
from schedulehub_standin.schemas import (
    BatchResult,
    Failure,
    UpdateItem,
    WebhookEvent,
    WebhookReceipt,
)

ERP_FIELDS = ("erp_key_hash", "erp_data_hash", "erp_rowversion", "erp_ref_str", "parent_refs")
# what a record carries that is not a mapped field
_NOT_MAPPED = frozenset((*ERP_FIELDS, "uid"))
# what each batch call carries, and the call it is
_CALLS = {"erp_key_hashes": "query", "records": "insert", "updates": "update", "uids": "delete"}
_HEX = re.compile(r"[0-9a-fA-F]+")


class _Outcome:
    """Successes and failures of one call; failures counted by reason in the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.successes = 0
        self.failures: list[Failure] = []

    def fail(self, record: dict[str, Any], error: str, *, reason: str) -> None:
        self.failures.append(Failure(record=record, error=error))
        self.runtime.counters[f"rejected_{reason}"] += 1

    def result(self) -> BatchResult:
        return BatchResult(
            success_count=self.successes,
            failure_count=len(self.failures),
            failures=self.failures,
        )


def _hex(value: Any, name: str, *, required: bool) -> str | None:
    """``value`` as sent (keys are compared as text), when it is hex."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError(f"{name} must be a hex string")
    return value


def parse_record(raw: dict[str, Any], *, key_required: bool = True) -> NewRecord:
    """A record as sent, checked; ``ValueError`` saying what is wrong."""
    rowversion = raw.get("erp_rowversion")
    if rowversion is not None and not isinstance(rowversion, (str, int, float, Decimal)):
        raise ValueError("erp_rowversion must be a string or a number")
    ref_str = raw.get("erp_ref_str")
    if ref_str is not None and not isinstance(ref_str, str):
        raise ValueError("erp_ref_str must be a string")
    parent_refs = raw.get("parent_refs") or {}
    if not isinstance(parent_refs, dict) or not all(
        value is None or isinstance(value, str) for value in parent_refs.values()
    ):
        raise ValueError("parent_refs must map parent entities to key hashes")
    return NewRecord(
        erp_key_hash=_hex(raw.get("erp_key_hash"), "erp_key_hash", required=key_required) or "",
        erp_data_hash=_hex(raw.get("erp_data_hash"), "erp_data_hash", required=True),
        erp_rowversion=None if rowversion is None else str(rowversion),
        erp_ref_str=ref_str,
        parent_refs=parent_refs,
        data={name: value for name, value in raw.items() if name not in _NOT_MAPPED},
    )


def rule_error(runtime: Runtime, entity: str, record: NewRecord) -> str | None:
    """The error of the first rule ``record`` breaks, or None."""
    for rule in runtime.rules.rules:
        if rule.entity not in (None, entity):
            continue
        if rule.field in record.data:
            value = record.data[rule.field]
        elif rule.field in ERP_FIELDS:
            value = getattr(record, rule.field)
        else:
            continue
        if rule.pattern is not None:
            broken = value is not None and re.search(rule.pattern, str(value)) is not None
        else:
            broken = value == rule.equals
        if broken:
            return rule.error or f"{rule.field} {value!r} is not accepted"
    return None


async def _missing_parents(
    repo: RecordRepository, runtime: Runtime, records: Sequence[NewRecord]
) -> dict[str, str]:
    """``{key: error}`` of records whose parent is not held live (with ``require_parents``)."""
    if not runtime.rules.require_parents:
        return {}
    wanted: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for parent, key in record.parent_refs.items():
            if key is not None:
                wanted[parent].add(key)
    held = {parent: await repo.live_keys(parent, keys) for parent, keys in wanted.items()}
    missing: dict[str, str] = {}
    for record in records:
        for parent, key in record.parent_refs.items():
            if key is not None and key not in held[parent]:
                missing[record.erp_key_hash] = f"parent {parent} {key} not found"
    return missing


def check_size(count: int, runtime: Runtime, name: str) -> None:
    """Count the call (``calls_query``, ...); refuse it whole when it carries too much."""
    runtime.counters[f"calls_{_CALLS[name]}"] += 1
    limit = runtime.settings.max_batch_records
    if count > limit:
        raise Unprocessable(f"at most {limit} {name} per call, got {count}", loc=("body", name))


async def update_records(
    conn: AsyncConnection, *, entity: str, updates: list[UpdateItem], runtime: Runtime
) -> BatchResult:
    """Replace what live records hold; unknown and deleted uids fail."""
    check_size(len(updates), runtime, "updates")
    repo = RecordRepository(conn)
    outcome = _Outcome(runtime)
    parsed: list[tuple[dict[str, Any], uuid.UUID, NewRecord]] = []
    for item in updates:
        sent = item.model_dump()
        try:
            uid = _uid(item.uid)
            record = parse_record(item.data, key_required=False)
        except ValueError as exc:
            outcome.fail(sent, str(exc), reason="invalid")
            continue
        parsed.append((sent, uid, record))
    held = {h.uid: h for h in await repo.lock_by_uids(entity, [uid for _, uid, _ in parsed])}
    accepted: list[tuple[dict[str, Any], uuid.UUID, NewRecord]] = []
    seen: set[uuid.UUID] = set()
    for sent, uid, record in parsed:
        error, reason = _update_error(held.get(uid), record, runtime, entity)
        if error is None and uid in seen:
            error, reason = "uid appears twice in this call", "duplicate"
        if error is not None:
            outcome.fail(sent, error, reason=reason)
            continue
        seen.add(uid)
        key = held[uid].erp_key_hash
        accepted.append((sent, uid, _with_key(record, key)))
    missing = await _missing_parents(repo, runtime, [record for _, _, record in accepted])
    changes, applied = [], []
    for sent, uid, record in accepted:
        if record.erp_key_hash in missing:
            outcome.fail(sent, missing[record.erp_key_hash], reason="parent")
            continue
        outcome.successes += 1
        changes.append((uid, record))
        applied.append(_applied(record, uid, "update"))
    now = datetime.now(UTC)
    await repo.replace(entity, changes, now=now)
    await repo.log(entity, applied, via="batch", now=now)
    return outcome.result()


def _update_error(
    held: HeldRecord | None, record: NewRecord, runtime: Runtime, entity: str
) -> tuple[str | None, str]:
    if held is None or held.deleted:
        return _unchangeable(held)
    if record.erp_key_hash and record.erp_key_hash != held.erp_key_hash:
        return f"erp_key_hash cannot change (held: {held.erp_key_hash})", "key_changed"
    return rule_error(runtime, entity, record), "rule"


def _unchangeable(held: HeldRecord | None) -> tuple[str, str]:
    """Why an update or delete cannot change the record a uid names (error, reason): it is
    not held, or it is deleted (before this call, or earlier in it)."""
    if held is None:
        return "no record with this uid", "unknown_uid"
    return "the record with this uid is deleted", "deleted"


async def delete_records(
    conn: AsyncConnection, *, entity: str, uids: list[str], runtime: Runtime
) -> BatchResult:
    """Soft-delete live records; unknown and deleted uids fail."""
    check_size(len(uids), runtime, "uids")
    repo = RecordRepository(conn)
    outcome = _Outcome(runtime)
    parsed: list[tuple[str, uuid.UUID]] = []
    for sent in uids:
        try:
            parsed.append((sent, _uid(sent)))
        except ValueError as exc:
            outcome.fail({"uid": sent}, str(exc), reason="invalid")
    held = {h.uid: h for h in await repo.lock_by_uids(entity, [uid for _, uid in parsed])}
    deleted: set[uuid.UUID] = set()
    applied = []
    for sent, uid in parsed:
        record = held.get(uid)
        if record is None or record.deleted or uid in deleted:
            error, reason = _unchangeable(record)
            outcome.fail({"uid": sent}, error, reason=reason)
        else:
            outcome.successes += 1
            deleted.add(uid)
            applied.append(Applied(record.erp_key_hash, uid, "delete", record.erp_data_hash, None))
    now = datetime.now(UTC)
    await repo.soft_delete(entity, deleted, now=now)
    await repo.log(entity, applied, via="batch", now=now)
    return outcome.result()


async def apply_webhook(
    conn: AsyncConnection,
    *,
    entity: str,
    webhook_id: str,
    events: list[WebhookEvent],
    runtime: Runtime,
) -> WebhookReceipt:
    """Apply a webhook's events in order, once per ``webhook-id``: all of them, or none
    (422 naming the events ScheduleHub refuses)."""
    repo = RecordRepository(conn)
    now = datetime.now(UTC)
    if not await repo.receive_webhook(webhook_id, entity=entity, events=len(events), now=now):
        runtime.counters["webhooks_duplicate"] += 1
        return WebhookReceipt(webhook_id=webhook_id, duplicate=True, applied=0)
    changes: list[tuple[str, NewRecord]] = []
    problems: list[str] = []
    for position, event in enumerate(events):
        try:
            record = _event_record(event)
        except ValueError as exc:
            problems.append(f"events[{position}]: {exc}")
            continue
        if event.op == "upsert" and (error := rule_error(runtime, entity, record)) is not None:
            problems.append(f"events[{position}] ({record.erp_key_hash}): {error}")
        changes.append((event.op, record))
    upserts = [record for op, record in changes if op == "upsert"]
    for key, error in (await _missing_parents(repo, runtime, upserts)).items():
        problems.append(f"{key}: {error}")
    if problems:
        runtime.counters["webhooks_rejected"] += 1
        raise Unprocessable("; ".join(problems), loc=("body", "data", "events"))
    applied = [await _apply_event(repo, entity, op, record, now=now) for op, record in changes]
    runtime.counters["webhooks_applied"] += 1
    return WebhookReceipt(webhook_id=webhook_id, duplicate=False, applied=sum(applied))


def _event_record(event: WebhookEvent) -> NewRecord:
    """The record an event carries (a delete carries only its key)."""
    if event.op == "delete":
        return NewRecord(
            erp_key_hash=_hex(event.key_hash, "key_hash", required=True) or "",
            erp_data_hash=None,
            erp_rowversion=None if event.rowversion is None else str(event.rowversion),
            erp_ref_str=None,
            parent_refs={},
            data={},
        )
    return parse_record(
        {
            **event.data,
            "erp_key_hash": event.key_hash,
            "erp_data_hash": event.data_hash,
            "erp_rowversion": event.rowversion,
            "erp_ref_str": event.ref_str,
            "parent_refs": event.parent_key_hashes,
        }
    )


async def _apply_event(
    repo: RecordRepository, entity: str, op: str, record: NewRecord, *, now: datetime
) -> bool:
    """Upsert or delete one key, logged (an upsert of a key not held live inserts it; a
    delete of a key not held live does nothing); whether anything changed."""
    held = next(iter(await repo.lock_by_keys(entity, [record.erp_key_hash])), None)
    live = held is not None and not held.deleted
    if op == "delete":
        if held is None or not live:
            return False
        await repo.soft_delete(entity, [held.uid], now=now)
        change = Applied(held.erp_key_hash, held.uid, "delete", held.erp_data_hash, None)
    elif held is not None and live:
        await repo.replace(entity, [(held.uid, record)], now=now)
        change = _applied(record, held.uid, "update")
    else:
        await repo.insert(entity, [record], via="webhook", now=now)
        return True
    await repo.log(entity, [change], via="webhook", now=now)
    return True


def _applied(record: NewRecord, uid: uuid.UUID, op: str) -> Applied:
    return Applied(record.erp_key_hash, uid, op, record.erp_data_hash, record.erp_rowversion)


def _with_key(record: NewRecord, key: str) -> NewRecord:
    return NewRecord(
        erp_key_hash=key,
        erp_data_hash=record.erp_data_hash,
        erp_rowversion=record.erp_rowversion,
        erp_ref_str=record.erp_ref_str,
        parent_refs=record.parent_refs,
        data=record.data,
    )


def _uid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ValueError("uid is not a uuid") from exc
