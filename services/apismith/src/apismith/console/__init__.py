"""APISmith's API workbench under ``/console`` (built on ``bridge_core.console``)."""
