"""Alembic environment for SyncFlow: async, reads ``syncflow.tables.metadata``."""

from bridge_core.db.migrations import run_env
from syncflow.tables import metadata

run_env(metadata)
