"""Health, metadata, metrics and docs answer; migrations match the tables
(the checks are shared with the other service: bridge_core.testing.service_checks)."""

from bridge_core.testing import service_checks as checks
from syncflow.main import build_app
from syncflow.tables import metadata


async def test_health_names_the_service(syncflow_client):
    await checks.health_names_the_service(syncflow_client, "syncflow")


async def test_health_db_reports_latency(syncflow_client):
    await checks.health_db_reports_latency(syncflow_client)


async def test_health_db_is_503_when_database_goes_away(syncflow_settings):
    await checks.health_db_is_503_when_database_goes_away(build_app(syncflow_settings))


async def test_metadata_has_no_secrets(syncflow_client, syncflow_settings):
    await checks.metadata_has_no_secrets(syncflow_client, syncflow_settings, "syncflow")


async def test_metrics_and_docs_are_served(syncflow_client):
    await checks.metrics_and_docs_are_served(syncflow_client, "syncflow")


async def test_migrations_match_tables(syncflow_client, syncflow_database_url):
    await checks.migrations_match_tables(syncflow_database_url, metadata)
