"""Delivery's Prometheus series, labelled by ``destination`` and ``entity``.

``syncflow_delivered_rows_total`` is counted by the process that delivered (sum over
instances, as ``syncflow_rows_total``). ``syncflow_delivery_pending``,
``syncflow_delivery_dead`` and ``syncflow_delivery_lag_seconds`` (the age of the oldest
event not delivered yet) come from the database snapshot that the metrics job refreshes.
"""

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

DELIVERED = Counter(
    "syncflow_delivered_rows",
    "Events delivered to a destination (an event collapsed into a newer one counts too)",
    ["destination", "entity"],
)
DEAD_LETTERED = Counter(
    "syncflow_dead_lettered_rows",
    "Events this process dead-lettered",
    ["destination", "entity"],
)


class DeliveryGauges(Collector):
    """Pending, dead and lag per destination and entity, from the latest snapshot."""

    def __init__(self) -> None:
        self.summary: list[dict[str, Any]] | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families([])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.summary is not None:
            yield from self._families(self.summary)

    def _families(self, summary: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
        labels = ["destination", "entity"]
        pending = GaugeMetricFamily(
            "syncflow_delivery_pending", "Events waiting or in flight", labels=labels
        )
        dead = GaugeMetricFamily("syncflow_delivery_dead", "Dead-lettered events", labels=labels)
        lag = GaugeMetricFamily(
            "syncflow_delivery_lag_seconds",
            "Age of the oldest event not delivered yet (0 when none waits)",
            labels=labels,
        )
        now = time.time()
        for row in sorted(summary, key=lambda r: (r["destination"], r["entity"])):
            key = [row["destination"], row["entity"]]
            pending.add_metric(key, row["pending"] + row["delivering"])
            dead.add_metric(key, row["dead"])
            oldest = row["oldest_pending_at"]
            lag.add_metric(key, max(now - oldest.timestamp(), 0.0) if oldest else 0.0)
        yield pending
        yield dead
        yield lag


DELIVERY_GAUGES = DeliveryGauges()
REGISTRY.register(DELIVERY_GAUGES)
