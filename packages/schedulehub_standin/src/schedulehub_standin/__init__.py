"""A ScheduleHub stand-in: ScheduleHub's batch API and signed webhooks over its own
PostgreSQL, with per-record rejections and fault injection on demand (tests, demo, bench)."""

__version__ = "0.1.0"
