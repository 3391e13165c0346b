"""Verify: read the whole source through the pipeline's pure stages and compare its
keys and data hashes with the live rows of the target table.

Memory stays bounded: the source is streamed in chunks into a temporary table and
compared set-wise in the target database. ``missing`` are source rows not in the
target (rows that fail the pipeline count here too: they are not loaded),
``extra`` target rows the source no longer has, ``different`` rows whose data
hash differs. Samples of missing and different rows show their business key
(``k1|k2``), samples of extra rows their key hash (the source has no values for them).
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Database
from bridge_core.errors import BadGateway
from bridge_core.http.client import ServiceClientError
from syncflow.entities.service import load_spec
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.settings import Settings
from syncflow.sources.service import client_for
from syncflow.verify.repository import VerifyRepository
from syncflow.verify.schemas import VerifyReport

CHUNK_ROWS = 5_000


def _business_key(raw: dict[str, Any], keys: tuple[str, ...]) -> str:
    return "|".join("" if raw.get(k) is None else str(raw.get(k)) for k in keys)


async def verify_entity(
    conn: AsyncConnection, *, target_database: Database, settings: Settings, name: str
) -> VerifyReport:
    """Compare source and target for entity ``name``."""
    spec = await load_spec(conn, name, source_timezone=settings.source_timezone)
    pipeline = EntityPipeline(spec)
    seconds: dict[str, float] = {}
    async with (
        await client_for(conn, settings, spec.source_name) as client,
        target_database.transaction() as target,
    ):
        repository = VerifyRepository(target)
        await repository.create_staging()
        chunk: list[dict[str, Any]] = []

        async def flush() -> None:
            records, failures = pipeline.prepare(chunk, seconds)
            rows: list[tuple[str, str | None, str]] = [
                (r.key_hash, r.data_hash, _business_key(r.raw, spec.business_keys)) for r in records
            ]
            rows += [
                (f.key_hash, None, _business_key(f.raw, spec.business_keys))
                for f in failures
                if f.key_hash
            ]
            await repository.stage(rows)
            chunk.clear()

        try:
            async for row in client.stream_rows(spec.api_slug, filters=[], sort=[]):
                chunk.append(row)
                if len(chunk) >= CHUNK_ROWS:
                    await flush()
        except ServiceClientError as exc:
            where = f"APISmith (source {spec.source_name!r}, API {spec.api_slug!r})"
            if exc.status_code == 404:
                raise BadGateway(
                    f"{where} no longer has the entity's API: define it again in APISmith "
                    "or point the entity at another API"
                ) from exc
            raise BadGateway(f"{where} failed while reading the source: {exc}") from exc
        if chunk:
            await flush()
        result = await repository.compare(spec)
    equal = result["missing"] == 0 and result["extra"] == 0 and result["different"] == 0
    return VerifyReport(entity=name, equal=equal, **result)
