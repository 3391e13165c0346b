"""Alembic environment for APISmith: async, reads ``apismith.tables.metadata``."""

from apismith.tables import metadata
from bridge_core.db.migrations import run_env

run_env(metadata)
