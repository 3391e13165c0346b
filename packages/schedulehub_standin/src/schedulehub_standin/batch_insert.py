"""A batch insert checked and applied by PostgreSQL from the JSON text sent, in one statement.

Parsing thousands of records in Python (exactly: numbers as ``Decimal``), checking each
and writing them out again cost about 20 µs of the stand-in's CPU per record; PostgreSQL
parses the body once as ``jsonb`` (numbers exact), splits it, checks every record, stores
the good ones, logs them and answers the failures as JSON text, so the stand-in does no
work per record. The checks are those of ``records.parse_record``, which checks updates
and webhook events in Python; ``tests/test_batch_bodies.py`` holds the two to the same
answers.
Rules set through the control API are Python (a regex, ``==`` of Python values), so
their errors are worked out by the caller and passed in by position.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bridge_core.db.repository import Repository
from bridge_core.errors import Unprocessable

# Failures come in the order the Python of records.py found them: first pass (not a
# record, breaking a rule, its key sent before in the call), then a parent not held,
# then its key held already; by position within a pass.
# A failure's ``record`` is the record as PostgreSQL keeps it (``jsonb`` text: the same
# JSON value, every digit kept, keys in jsonb's order).
_INSERT = text("""
-- sent_body, envelope and checked are MATERIALIZED: computed once, never inlined where
-- PostgreSQL could evaluate them again for each record or reference (sent_body inlined
-- once parsed the body for every record: seconds)
WITH sent_body AS MATERIALIZED (
    -- bytes, not text: no decoding and encoding of megabytes in the stand-in
    SELECT CAST(convert_from(CAST(:body AS bytea), 'UTF8') AS jsonb) AS b
),
envelope AS MATERIALIZED (
    SELECT jsonb_typeof(b) AS body_type,
        jsonb_typeof(b -> 'records') AS records_type,
        CASE WHEN jsonb_typeof(b -> 'records') = 'array'
            THEN jsonb_array_length(b -> 'records') END AS sent,
        CASE WHEN jsonb_typeof(b -> 'records') = 'array' THEN (
            SELECT min(e.n) FROM jsonb_array_elements(b -> 'records') WITH ORDINALITY AS e (r, n)
            WHERE jsonb_typeof(e.r) <> 'object'
        ) END AS not_an_object
    FROM sent_body
),
sent AS (
    -- nothing at all when the call is refused whole (the caller raises a 422)
    SELECT e.n, e.r, e.r ->> 'erp_key_hash' AS key,
        -- records.parse_record: ``raw.get("parent_refs") or {}`` (jsonb '0' equals 0.0 and -0)
        CASE WHEN e.r -> 'parent_refs' IS NULL
                OR e.r -> 'parent_refs' IN ('null', 'false', '0', '""', '[]', '{}')
            THEN '{}'::jsonb ELSE e.r -> 'parent_refs' END AS parent_refs
    FROM sent_body, envelope,
        jsonb_array_elements(b -> 'records') WITH ORDINALITY AS e (r, n)
    WHERE envelope.sent <= :limit AND envelope.not_an_object IS NULL
),
checked AS MATERIALIZED (
    SELECT n, r, key, parent_refs, CASE
        WHEN jsonb_typeof(r -> 'erp_rowversion') NOT IN ('null', 'string', 'number', 'boolean')
            THEN 'erp_rowversion must be a string or a number'
        WHEN jsonb_typeof(r -> 'erp_ref_str') NOT IN ('null', 'string')
            THEN 'erp_ref_str must be a string'
        WHEN CASE WHEN jsonb_typeof(parent_refs) = 'object' THEN EXISTS (
                SELECT FROM jsonb_each(parent_refs) AS p
                WHERE jsonb_typeof(p.value) NOT IN ('null', 'string')
            ) ELSE true END
            THEN 'parent_refs must map parent entities to key hashes'
        WHEN jsonb_typeof(r -> 'erp_key_hash') IS DISTINCT FROM 'string'
                OR key !~ '^[0-9a-fA-F]+$'
            THEN 'erp_key_hash must be a hex string'
        WHEN jsonb_typeof(r -> 'erp_data_hash') IS DISTINCT FROM 'string'
                OR r ->> 'erp_data_hash' !~ '^[0-9a-fA-F]+$'
            THEN 'erp_data_hash must be a hex string'
    END AS invalid
    FROM sent
),
judged AS (
    SELECT c.n, c.r, c.key, c.parent_refs,
        coalesce(c.invalid, rule.error) AS error,
        CASE WHEN c.invalid IS NOT NULL THEN 'invalid' ELSE 'rule' END AS reason
    FROM checked AS c
    LEFT JOIN unnest(CAST(:rule_positions AS int[]), CAST(:rule_errors AS text[]))
        AS rule (n, error) ON rule.n = c.n AND c.invalid IS NULL
),
accepted AS (
    -- a key's first good record; the later ones fail as sent twice
    SELECT DISTINCT ON (key) n, r, key, parent_refs FROM judged WHERE error IS NULL
    ORDER BY key, n
),
orphans AS (
    -- with require_parents: a parent not held live (of several, the last in jsonb's key
    -- order, where records.py names the last in the order sent)
    SELECT DISTINCT ON (a.n) a.n, 'parent ' || p.key || ' ' || (p.value #>> '{}')
        || ' not found' AS error
    FROM accepted AS a, jsonb_each(a.parent_refs) WITH ORDINALITY AS p (key, value, i)
    WHERE CAST(:require_parents AS boolean) AND jsonb_typeof(p.value) = 'string'
        AND NOT EXISTS (
            SELECT FROM records AS parent WHERE parent.entity = p.key
                AND parent.erp_key_hash = p.value #>> '{}' AND parent.deleted_at IS NULL
        )
    ORDER BY a.n, p.i DESC
),
fresh AS (
    SELECT * FROM accepted WHERE n NOT IN (SELECT n FROM orphans)
),
stored AS (
    INSERT INTO records AS held (entity, erp_key_hash, uid, erp_data_hash, erp_rowversion,
        erp_ref_str, parent_refs, data, created_at, updated_at)
    SELECT CAST(:entity AS text), key,
        encode(substring(CAST(:uids AS bytea) FROM CAST(n AS int) * 16 - 15 FOR 16), 'hex')::uuid,
        r ->> 'erp_data_hash',
        -- str() of what Python parsed: True, not true
        CASE jsonb_typeof(r -> 'erp_rowversion') WHEN 'boolean'
            THEN initcap(r ->> 'erp_rowversion') ELSE r ->> 'erp_rowversion' END,
        r ->> 'erp_ref_str', parent_refs,
        r - ARRAY['erp_key_hash', 'erp_data_hash', 'erp_rowversion', 'erp_ref_str',
            'parent_refs', 'uid'],
        CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM fresh
    -- in key order, so that racing calls take their row locks in one order (no deadlock)
    ORDER BY key
    ON CONFLICT (entity, erp_key_hash) DO UPDATE SET
        uid = excluded.uid, erp_data_hash = excluded.erp_data_hash,
        erp_rowversion = excluded.erp_rowversion, erp_ref_str = excluded.erp_ref_str,
        parent_refs = excluded.parent_refs, data = excluded.data,
        created_at = excluded.created_at, updated_at = excluded.updated_at, deleted_at = NULL
    WHERE held.deleted_at IS NOT NULL
    RETURNING held.erp_key_hash, held.uid, held.erp_data_hash, held.erp_rowversion
),
logged AS (
    INSERT INTO apply_log (entity, erp_key_hash, uid, op, via, erp_data_hash,
        erp_rowversion, at)
    SELECT CAST(:entity AS text), erp_key_hash, uid, 'insert', 'batch', erp_data_hash,
        erp_rowversion, CAST(:now AS timestamptz)
    FROM stored
),
failed AS (
    SELECT 1 AS stage, n, r, error, reason FROM judged WHERE error IS NOT NULL
    UNION ALL
    SELECT 1, n, r, 'erp_key_hash appears twice in this call', 'duplicate' FROM judged
    WHERE error IS NULL AND n NOT IN (SELECT n FROM accepted)
    UNION ALL
    SELECT 2, o.n, a.r, o.error, 'parent' FROM orphans AS o JOIN accepted AS a USING (n)
    UNION ALL
    SELECT 3, n, r, 'a record with erp_key_hash ' || key || ' exists already', 'duplicate'
    FROM fresh WHERE key NOT IN (SELECT erp_key_hash FROM stored)
)
SELECT envelope.*,
    (SELECT coalesce(json_agg(json_build_object('record', r, 'error', error)
        ORDER BY stage, n), '[]')::text FROM failed) AS failures,
    (SELECT coalesce(json_object_agg(reason, count), '{}')::text FROM (
        SELECT reason, count(*) AS count FROM failed GROUP BY reason
    ) AS reasons) AS rejected
FROM envelope
""")


@dataclass(frozen=True)
class Inserted:
    """What became of a call's records: how many were sent, the failures (a JSON array
    of ``{record, error}``), and how many failed for each reason."""

    count: int
    failures: orjson.Fragment
    rejected: dict[str, int]


class BatchInsertRepository(Repository):
    async def insert(
        self,
        entity: str,
        body: bytes,
        *,
        limit: int,
        uids: bytes,
        rule_errors: dict[int, str],
        require_parents: bool,
        now: datetime,
    ) -> Inserted:
        """Insert the records of ``body`` (``{"records": [...]}``) whose key is not held
        live (a soft-deleted one is revived) and log them; the others fail. ``uids``
        holds 16 bytes for each of up to ``limit`` records; ``rule_errors`` the error of
        the n-th record (from 1) that breaks a rule. A body that is not such an object
        is refused (422); one that carries more than ``limit`` records changes nothing
        (the caller refuses it)."""
        try:
            result = await self.conn.execute(
                _INSERT,
                {
                    "body": body,
                    "entity": entity,
                    "limit": limit,
                    "uids": uids,
                    "rule_positions": list(rule_errors),
                    "rule_errors": list(rule_errors.values()),
                    "require_parents": require_parents,
                    "now": now,
                },
            )
        except DBAPIError as exc:
            # class 22 (data exception): the body is not JSON PostgreSQL can hold (not
            # UTF-8, NaN, a number out of numeric's range, ...)
            if str(getattr(exc.orig, "sqlstate", "")).startswith("22"):
                raise Unprocessable("the body is not valid JSON") from exc
            raise
        row = result.one()
        _refuse_envelope(row)
        return Inserted(
            count=row.sent,
            failures=orjson.Fragment(row.failures),
            rejected=orjson.loads(row.rejected),
        )


def _refuse_envelope(row: Any) -> None:
    """422 naming what is wrong with a body that is not ``{"records": [record, ...]}``."""
    if row.body_type != "object":
        raise Unprocessable("the body must be an object: {records: [...]}")
    if row.records_type is None:
        raise Unprocessable("records is required", loc=("body", "records"))
    if row.records_type != "array":
        raise Unprocessable("records must be a list of records", loc=("body", "records"))
    if row.not_an_object is not None:
        position = row.not_an_object - 1
        raise Unprocessable(
            f"records[{position}] must be an object", loc=("body", "records", position)
        )
