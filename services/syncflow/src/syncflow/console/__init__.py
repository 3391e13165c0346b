"""SyncFlow's operator console under ``/console`` (built on ``bridge_core.console``)."""
