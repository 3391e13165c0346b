"""SyncFlow: moves ERP data from APISmith into ScheduleHub's PostgreSQL, every batch tracked."""

__version__ = "0.1.0"
