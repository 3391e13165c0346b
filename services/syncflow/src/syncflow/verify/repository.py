"""SQL of verify: the source's keys in a staging table, compared with the target set-wise."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.driver import asyncpg_connection
from syncflow.domain import EntitySpec
from syncflow.pipeline.load import target_name
from syncflow.verify import staged

SAMPLE_SIZE = 10


class VerifyRepository:
    """Works in the target database, inside one transaction (the staging table is temporary)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _driver(self) -> Any:
        return await asyncpg_connection(self.conn)

    async def create_staging(self) -> None:
        driver = await self._driver()
        await driver.execute(
            "CREATE TEMP TABLE _verify_read (seq bigint GENERATED ALWAYS AS IDENTITY, "
            "key_hash uuid NOT NULL, data_hash bytea, business_key text) ON COMMIT DROP"
        )

    async def stage(self, payload: bytes) -> None:
        """Binary COPY rows of :data:`staged.SCHEMA` (key hash, data hash or NULL for a
        row that fails the pipeline, business key), in the order the source gave them."""
        driver = await self._driver()
        await driver.copy_to_table(
            "_verify_read",
            source=memoryview(payload),
            columns=list(staged.SCHEMA.names),
            format="binary",
        )

    async def compare(self, spec: EntitySpec) -> dict[str, Any]:
        """Counts and samples of what differs, from one full join of the source (each
        key's last row) with the target's live rows: the rows that differ are kept in
        a temporary table (usually few), the counts and samples read from it."""
        driver = await self._driver()
        await driver.execute(
            "CREATE TEMP TABLE _verify_source ON COMMIT DROP AS "
            "SELECT DISTINCT ON (key_hash) key_hash, data_hash, business_key "
            "FROM _verify_read ORDER BY key_hash, seq DESC"
        )
        await driver.execute(
            "CREATE TEMP TABLE _verify_found ON COMMIT DROP AS "
            "SELECT CASE WHEN t._bridge_key_hash IS NULL THEN 'missing' "
            "WHEN s.key_hash IS NULL THEN 'extra' ELSE 'different' END AS kind, "
            "t._bridge_key_hash AS target_key, s.business_key "
            "FROM _verify_source s FULL JOIN "
            f"(SELECT _bridge_key_hash, _bridge_data_hash FROM {target_name(spec)} "
            "WHERE _bridge_deleted_at IS NULL) t ON t._bridge_key_hash = s.key_hash "
            "WHERE s.key_hash IS NULL OR t._bridge_key_hash IS NULL "
            "OR t._bridge_data_hash IS DISTINCT FROM s.data_hash"
        )
        counts = await driver.fetchrow(
            "SELECT (SELECT count(*) FROM _verify_source) AS source_rows, "
            f"(SELECT count(*) FROM {target_name(spec)} WHERE _bridge_deleted_at IS NULL) "
            "AS target_rows, "
            "count(*) FILTER (WHERE kind = 'missing') AS missing, "
            "count(*) FILTER (WHERE kind = 'extra') AS extra, "
            "count(*) FILTER (WHERE kind = 'different') AS different FROM _verify_found"
        )
        samples = {
            kind: [
                row[0]
                for row in await driver.fetch(
                    f"SELECT {column} FROM _verify_found WHERE kind = $1 "
                    f"ORDER BY 1 LIMIT {SAMPLE_SIZE}",
                    kind,
                )
            ]
            for kind, column in (
                ("missing", "business_key"),
                ("different", "business_key"),
                ("extra", "target_key"),
            )
        }
        return {
            **dict(counts),
            "sample_missing": samples["missing"],
            "sample_different": samples["different"],
            "sample_extra": [key.hex for key in samples["extra"]],
        }
