"""Shared, generic glue for the ERP Bridge services (APISmith and SyncFlow).

Nothing feature-specific lives here: settings, logging, ids, errors, database
engines and migrations, the HTTP app factory and client base, the embedded
PostgreSQL manager and the pytest plugin.
"""

__version__ = "0.1.0"
