"""ERP source databases for these tests (see tests/erp_fixtures.py)."""

from services.apismith.tests.erp_fixtures import (  # noqa: F401
    erp_mysql,
    erp_postgres,
    erp_source,
    erp_sqlite,
)
