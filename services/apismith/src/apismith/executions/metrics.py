"""Prometheus series of the runtime, served at ``/metrics`` with every other series.

Label values stay bounded: ``slug`` is a saved API's slug (calls to unknown slugs
count under ``unknown``), ``kind`` is execute or stream, ``status`` an audit status.
"""

from prometheus_client import Counter, Histogram

EXECUTIONS = Counter(
    "apismith_executions_total", "Runtime calls (execute and stream)", ["slug", "kind", "status"]
)
ROWS = Counter("apismith_rows_total", "Rows returned by runtime calls", ["slug", "kind"])
DURATION = Histogram(
    "apismith_execution_duration_seconds",
    "Duration of runtime calls, from the request to the last row",
    ["slug", "kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)

UNKNOWN_SLUG = "unknown"
