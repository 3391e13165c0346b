"""SyncFlow's Prometheus metrics: ``syncflow_*``, every series labelled by ``entity``.

Two kinds, because batches may run in other processes than the one scraped:

- Counted where the batch runs (``syncflow_rows_total``, ``syncflow_batches_finished_total``,
  ``syncflow_stage_duration_seconds``). Each process exports its own: scrape ``serve``
  and every ``syncflow worker --metrics-port N``, and sum over instances.
- Read from the database, the same in every process (``syncflow_batches``,
  ``syncflow_failed_records``, ``syncflow_pending_children``,
  ``syncflow_seconds_since_last_success``). A periodic job takes a snapshot every
  ``SYNCFLOW_METRICS_REFRESH_SECONDS``; the seconds-since gauge is computed from it
  at scrape time, so it keeps growing between refreshes.
"""

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from syncflow.domain import COUNTER_NAMES, Counters

ROWS = Counter(
    "syncflow_rows",
    "Rows by pipeline outcome (fetched, inserted, updated, unchanged, failed, duplicate, "
    "pending, deleted, resolved), counted when their chunk commits",
    ["entity", "operation"],
)
BATCHES_FINISHED = Counter(
    "syncflow_batches_finished",
    "Batches this process ended, by final status (paused batches are not ended)",
    ["entity", "status"],
)
STAGE_SECONDS = Histogram(
    "syncflow_stage_duration_seconds",
    "Seconds one chunk spent in a pipeline stage",
    ["entity", "stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def count_rows(entity: str, counters: Counters) -> None:
    """Add one committed chunk's counters."""
    for name in COUNTER_NAMES:
        value = getattr(counters, name)
        if value:
            ROWS.labels(entity, name).inc(value)


def observe_stages(entity: str, before: dict[str, float], after: dict[str, float]) -> None:
    """Observe the time one chunk added to each stage."""
    for stage, seconds in after.items():
        spent = seconds - before.get(stage, 0.0)
        if spent > 0:
            STAGE_SECONDS.labels(entity, stage).observe(spent)


@dataclass
class DatabaseSnapshot:
    """What the database said at one refresh."""

    batches: dict[tuple[str, str], int] = field(default_factory=dict)
    failed_records: dict[str, int] = field(default_factory=dict)
    pending_children: dict[str, int] = field(default_factory=dict)
    last_success: dict[str, datetime] = field(default_factory=dict)


class DatabaseGauges(Collector):
    """Gauges from the latest :class:`DatabaseSnapshot` (none before the first refresh)."""

    def __init__(self) -> None:
        self.snapshot: DatabaseSnapshot | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families(DatabaseSnapshot())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.snapshot is not None:
            yield from self._families(self.snapshot)

    def _families(self, snapshot: DatabaseSnapshot) -> Iterator[GaugeMetricFamily]:
        batches = GaugeMetricFamily(
            "syncflow_batches", "Batches in the database by status", labels=["entity", "status"]
        )
        for (entity, status), count in sorted(snapshot.batches.items()):
            batches.add_metric([entity, status], count)
        yield batches
        yield _by_entity(
            "syncflow_failed_records",
            "Open (unresolved) failed records",
            snapshot.failed_records,
        )
        yield _by_entity(
            "syncflow_pending_children",
            "Children parked until their parent arrives",
            snapshot.pending_children,
        )
        now = time.time()
        yield _by_entity(
            "syncflow_seconds_since_last_success",
            "Seconds since the entity's last completed batch",
            {
                entity: max(now - at.timestamp(), 0.0)
                for entity, at in snapshot.last_success.items()
            },
        )


def _by_entity(name: str, documentation: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    """A gauge with one sample per entity (in entity order)."""
    family = GaugeMetricFamily(name, documentation, labels=["entity"])
    for entity, value in sorted(values.items()):
        family.add_metric([entity], value)
    return family


DATABASE_GAUGES = DatabaseGauges()
REGISTRY.register(DATABASE_GAUGES)
