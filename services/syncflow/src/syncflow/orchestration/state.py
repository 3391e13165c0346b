"""What a batch carries from chunk to chunk, and the ways a run ends early."""

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from bridge_core.db.transaction import Database
from syncflow.clock import Clock, utc_now
from syncflow.domain import Counters
from syncflow.pipeline import resolve
from syncflow.settings import Settings


class LeaseLost(Exception):
    """Another worker owns the batch now; this one must stop without writing."""


class StopRequested(Exception):
    """An operator asked the batch to stop; it ends after its last committed chunk."""


class Paused(Exception):
    """The batch's window closed or its daily portion is read: it is pending again,
    its progress committed, until ``until``."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(f"{reason}; paused until {until.isoformat()}")
        self.until = until


@dataclass
class RunContext:
    """What a batch runs with: databases, settings, who runs it, and the clock that says
    when windows close and retries are due (tests pass a simulated one)."""

    database: Database
    target_database: Database
    settings: Settings
    worker_id: str
    now: Clock = utc_now


@dataclass
class ChunkOutcome:
    """What one chunk (or one generation of freed children) did."""

    counters: Counters = field(default_factory=Counters)
    seen: list[str] = field(default_factory=list)
    unkeyed_failures: int = 0
    parked: list[resolve.ParkedChild] = field(default_factory=list)


class BatchState:
    """A claimed batch's row as the run keeps it: read from ``sync_batches`` at the
    start, written back with every chunk."""

    def __init__(self, batch: dict[str, Any]) -> None:
        self.uid: UUID = batch["uid"]
        self.entity: str = batch["entity_name"]
        self.mode: str = batch["mode"]
        self.dry_run: bool = batch["dry_run"]
        self.created_at: datetime = batch["created_at"]
        self.counters = Counters.from_dict(batch["counters"])
        self.checkpoint: dict[str, Any] = dict(batch["checkpoint"] or {})
        self.seconds: dict[str, float] = defaultdict(float, batch["stage_seconds"] or {})
        self.warnings: list[str] = list(batch["warnings"] or [])
        self.options: dict[str, Any] = dict(batch.get("options") or {})
        # the window's close while a paced batch runs in it
        self.stop_at: datetime | None = None
        self.stage: str = "setup"
        # an operator's stop, as read in the last chunk transaction
        self.stop_requested = False
        self.started = time.monotonic()
        self.fetched_before = self.counters.fetched
