"""Verify: read the whole source through the pipeline's pure stages and compare its
keys and data hashes with the live rows of the target table.

The source is read as a sync reads it: APISmith's pages in keyset order (Arrow where
APISmith answers it), one page ahead, each through the column lane in a worker thread
(rows the lane cannot finish row by row). Memory stays bounded: each page's key
hashes, data hashes and business keys are COPYed into a temporary table and compared
set-wise in the target database. ``missing`` are source rows not in the target (rows
that fail the pipeline count here too: they are not loaded), ``extra`` target rows the
source no longer has, ``different`` rows whose data hash differs. A key the source
gives twice counts as its later row (within one page, a row that fails the pipeline
counts after the rows that pass). Samples of missing and different rows show their
business key (``k1|k2``, the values as the source sent them), samples of extra rows
their key hash (the source has no values for them).
"""

import asyncio
import time
from contextlib import aclosing

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Database
from bridge_core.errors import BadGateway
from bridge_core.http.client import ServiceClientError
from syncflow.entities.service import load_spec
from syncflow.pipeline import fetch
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.settings import Settings
from syncflow.sources.service import client_for
from syncflow.verify.repository import VerifyRepository
from syncflow.verify.schemas import VerifyReport
from syncflow.verify.staged import staged_payload


async def verify_entity(
    conn: AsyncConnection, *, target_database: Database, settings: Settings, name: str
) -> VerifyReport:
    """Compare source and target for entity ``name``."""
    spec = await load_spec(conn, name, source_timezone=settings.source_timezone)
    pipeline = EntityPipeline(spec)
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def staged(page: fetch.ExecutedPage) -> bytes:
        prepared = pipeline.prepare_page(page.data, seconds, as_records=False)
        return staged_payload(prepared, spec.business_keys)

    async with (
        await client_for(conn, settings, spec.source_name) as client,
        target_database.transaction() as target,
    ):
        repository = VerifyRepository(target)
        await repository.create_staging()
        pages = fetch.read_pages(client, spec, filters=[], page_cursor=None)
        try:
            async with aclosing(pages):
                async for page in pages:
                    await repository.stage(await asyncio.to_thread(staged, page))
        except ServiceClientError as exc:
            where = f"APISmith (source {spec.source_name!r}, API {spec.api_slug!r})"
            if exc.status_code == 404:
                raise BadGateway(
                    f"{where} no longer has the entity's API: define it again in APISmith "
                    "or point the entity at another API"
                ) from exc
            raise BadGateway(f"{where} failed while reading the source: {exc}") from exc
        result = await repository.compare(spec)
    logger.info(
        "verify of {}: {} source rows in {:.2f} s (stages: {})",
        name,
        result["source_rows"],
        time.perf_counter() - start,
        ", ".join(f"{stage} {value:.2f} s" for stage, value in seconds.items()),
    )
    equal = result["missing"] == 0 and result["extra"] == 0 and result["different"] == 0
    return VerifyReport(entity=name, equal=equal, **result)
