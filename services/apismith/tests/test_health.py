"""Health, metadata, metrics and docs answer; migrations match the tables
(the checks are shared with the other service: bridge_core.testing.service_checks)."""

from apismith.main import build_app
from apismith.tables import metadata
from bridge_core.testing import service_checks as checks


async def test_health_names_the_service(apismith_client):
    await checks.health_names_the_service(apismith_client, "apismith")


async def test_health_db_reports_latency(apismith_client):
    await checks.health_db_reports_latency(apismith_client)


async def test_health_db_is_503_when_database_goes_away(apismith_settings):
    await checks.health_db_is_503_when_database_goes_away(build_app(apismith_settings))


async def test_metadata_has_no_secrets(apismith_client, apismith_settings):
    await checks.metadata_has_no_secrets(apismith_client, apismith_settings, "apismith")


async def test_metrics_and_docs_are_served(apismith_client):
    await checks.metrics_and_docs_are_served(apismith_client, "apismith")


async def test_migrations_match_tables(apismith_client, apismith_database_url):
    await checks.migrations_match_tables(apismith_database_url, metadata)
