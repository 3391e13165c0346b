"""What a runtime call needs from its app (metadata database, catalog, audit, drivers,
settings), gathered once by the lifespan so a page request resolves one dependency for
them instead of five."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from apismith.catalog import RuntimeCatalog
from apismith.drivers.registry import DriverRegistry
from apismith.executions.writer import AuditWriter
from apismith.settings import Settings
from bridge_core.db.transaction import Database


@dataclass(frozen=True)
class RuntimeContext:
    database: Database
    catalog: RuntimeCatalog
    writer: AuditWriter
    drivers: DriverRegistry
    settings: Settings


async def get_runtime_context(request: Request) -> RuntimeContext:
    """The app's runtime context (set by the lifespan)."""
    context: RuntimeContext = request.app.state.runtime
    return context


Runtime = Annotated[RuntimeContext, Depends(get_runtime_context)]
