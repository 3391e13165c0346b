"""The batch calls served from the JSON text sent: query and insert.

They carry thousands of records, so the stand-in does no Python per record for them:
a query's keys are read by orjson (strings: no digits to keep), an insert's records are
checked and stored by PostgreSQL (``batch_insert``). Updates, deletes and webhooks are
checked in Python (``records``).
"""

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.errors import Unprocessable
from bridge_core.ids import new_id_block
from schedulehub_standin import exact_json
from schedulehub_standin.batch_insert import BatchInsertRepository
from schedulehub_standin.records import check_size, parse_record, rule_error
from schedulehub_standin.repository import RecordRepository
from schedulehub_standin.runtime import Runtime


async def query_records(
    conn: AsyncConnection, *, entity: str, body: bytes, runtime: Runtime
) -> orjson.Fragment:
    """The live records held for the keys of ``body`` (``{"erp_key_hashes": [...]}``), as
    a JSON array."""
    keys = _sent_keys(body)
    check_size(len(keys), runtime, "erp_key_hashes")
    return await RecordRepository(conn).live_records(entity, keys)


def _sent_keys(body: bytes) -> list[str]:
    """The keys of a query body; 422 naming what is wrong with it. Read by orjson, which
    is fast and loses nothing here: keys are strings, so no number has digits to keep."""
    try:
        sent = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unprocessable("the body is not valid JSON") from exc
    if not isinstance(sent, dict):
        raise Unprocessable("the body must be an object: {erp_key_hashes: [...]}")
    loc = ("body", "erp_key_hashes")
    if "erp_key_hashes" not in sent:
        raise Unprocessable("erp_key_hashes is required", loc=loc)
    keys = sent["erp_key_hashes"]
    if not isinstance(keys, list):
        raise Unprocessable("erp_key_hashes must be a list of key hashes", loc=loc)
    for position, key in enumerate(keys):
        if not isinstance(key, str):
            raise Unprocessable(
                f"erp_key_hashes[{position}] must be a string", loc=(*loc, position)
            )
    return keys


async def insert_records(
    conn: AsyncConnection, *, entity: str, body: bytes, runtime: Runtime
) -> dict[str, Any]:
    """Insert the records of ``body`` (``{"records": [...]}``) whose key ScheduleHub does
    not hold live; the others fail. The answer's body.

    PostgreSQL checks and stores the records from the JSON text (``batch_insert``):
    nothing here costs a thing per record, unless a rule applies to ``entity``.
    """
    limit = runtime.settings.max_batch_records
    inserted = await BatchInsertRepository(conn).insert(
        entity,
        body,
        limit=limit,
        # the count is known once PostgreSQL has split the body, but each record is an
        # object: there are no more records than "{" in the body
        uids=new_id_block(min(limit, body.count(b"{"))),
        rule_errors=_rule_errors(body, runtime, entity),
        require_parents=runtime.rules.require_parents,
        now=datetime.now(UTC),
    )
    check_size(inserted.count, runtime, "records")
    for reason, count in inserted.rejected.items():
        runtime.counters[f"rejected_{reason}"] += count
    failed = sum(inserted.rejected.values())
    return {
        "success_count": inserted.count - failed,
        "failure_count": failed,
        "failures": inserted.failures,
    }


def _rule_errors(body: bytes, runtime: Runtime, entity: str) -> dict[int, str]:
    """``{position from 1: error}`` of the records of an insert body that break a rule.

    Rules are Python (a regex over ``str()``, ``==`` of Python values), so with a rule
    for ``entity`` in force the body is parsed here, exactly, as it used to be; a body
    that is not a batch of records is left to PostgreSQL's check (422).
    """
    if not any(rule.entity in (None, entity) for rule in runtime.rules.rules):
        return {}
    try:
        sent = exact_json.loads(body)["records"]
    except (ValueError, TypeError, KeyError):
        return {}
    errors: dict[int, str] = {}
    for position, raw in enumerate(sent if isinstance(sent, list) else [], start=1):
        if not isinstance(raw, dict):
            return {}
        try:
            record = parse_record(raw)
        except ValueError:
            continue  # PostgreSQL says what is wrong with it, as parse_record would
        if (error := rule_error(runtime, entity, record)) is not None:
            errors[position] = error
    return errors
