"""The execution audit: one row per runtime execute or stream, and its Prometheus metrics."""
