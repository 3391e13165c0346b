"""SQL of verify: the source's keys in a staging table, compared with the target set-wise."""

from typing import Any

import pyarrow as pa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.driver import asyncpg_connection
from syncflow.domain import EntitySpec
from syncflow.pipeline.frames.copy_binary import encode
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

    async def stage(self, rows: pa.Table) -> None:
        """Rows of :data:`staged.SCHEMA`: key hash, data hash (NULL for a row that
        fails the pipeline), business key; in the order the source gave them."""
        if not rows.num_rows:
            return
        driver = await self._driver()
        await driver.copy_to_table(
            "_verify_read",
            source=memoryview(encode(rows)),
            columns=list(staged.SCHEMA.names),
            format="binary",
        )

    async def _settle(self) -> None:
        """The source as one row per key: a key read twice counts as its last row."""
        driver = await self._driver()
        await driver.execute(
            "CREATE TEMP TABLE _verify_source ON COMMIT DROP AS "
            "SELECT DISTINCT ON (key_hash) key_hash, data_hash, business_key "
            "FROM _verify_read ORDER BY key_hash, seq DESC"
        )
        await driver.execute("ALTER TABLE _verify_source ADD PRIMARY KEY (key_hash)")
        await driver.execute("ANALYZE _verify_source")

    async def compare(self, spec: EntitySpec) -> dict[str, Any]:
        await self._settle()
        driver = await self._driver()
        target = target_name(spec)
        live = f"(SELECT * FROM {target} WHERE _bridge_deleted_at IS NULL)"
        counts = await driver.fetchrow(
            f"SELECT (SELECT count(*) FROM _verify_source) AS source_rows, "
            f"(SELECT count(*) FROM {live} t) AS target_rows, "
            f"(SELECT count(*) FROM _verify_source s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {live} t WHERE t._bridge_key_hash = s.key_hash)) AS missing, "
            f"(SELECT count(*) FROM {live} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM _verify_source s WHERE s.key_hash = t._bridge_key_hash)) AS extra, "
            f"(SELECT count(*) FROM _verify_source s JOIN {live} t "
            f"ON t._bridge_key_hash = s.key_hash "
            f"WHERE t._bridge_data_hash IS DISTINCT FROM s.data_hash) AS different"
        )
        sample_missing = await driver.fetch(
            f"SELECT business_key FROM _verify_source s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {live} t WHERE t._bridge_key_hash = s.key_hash) "
            f"ORDER BY business_key LIMIT {SAMPLE_SIZE}"
        )
        sample_different = await driver.fetch(
            f"SELECT s.business_key FROM _verify_source s JOIN {live} t "
            f"ON t._bridge_key_hash = s.key_hash "
            f"WHERE t._bridge_data_hash IS DISTINCT FROM s.data_hash "
            f"ORDER BY s.business_key LIMIT {SAMPLE_SIZE}"
        )
        sample_extra = await driver.fetch(
            f"SELECT t._bridge_key_hash FROM {live} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM _verify_source s WHERE s.key_hash = t._bridge_key_hash) "
            f"ORDER BY t._bridge_key_hash LIMIT {SAMPLE_SIZE}"
        )
        return {
            **dict(counts),
            "sample_missing": [r[0] for r in sample_missing],
            "sample_different": [r[0] for r in sample_different],
            "sample_extra": [r[0].hex for r in sample_extra],
        }
