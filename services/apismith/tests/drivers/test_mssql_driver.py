"""The SQL Server driver without a server: timeouts, types and missing ODBC libraries."""

import importlib.util
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from apismith.drivers.base import ConnectionOptions, ErpUnreachable
from apismith.drivers.mssql import MssqlDriver, data_type, datetimeoffset, query_timeout_s


def _odbc_available() -> bool:
    if importlib.util.find_spec("pyodbc") is None:
        return False
    try:
        import pyodbc  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize(("ms", "seconds"), [(1, 1), (1_000, 1), (1_001, 2), (30_000, 30)])
def test_query_timeout_rounds_up_to_whole_seconds(ms, seconds):
    assert query_timeout_s(ms) == seconds


@pytest.mark.parametrize(
    ("type_code", "expected"),
    [
        (int, "integer"),
        (Decimal, "number"),
        (datetime, "timestamp"),
        (bytearray, "binary"),
        (bool, "boolean"),
        (str, "string"),
    ],
)
def test_data_type(type_code, expected):
    assert data_type(type_code) == expected


def test_datetimeoffset_keeps_the_offset():
    raw = struct.pack("<6hI2h", 2024, 3, 1, 12, 30, 15, 123_456_700, 2, 0)
    value = datetimeoffset(raw)
    assert value == datetime(2024, 3, 1, 12, 30, 15, 123_456, tzinfo=timezone(timedelta(hours=2)))
    assert value.astimezone(UTC).hour == 10
    assert datetimeoffset(None) is None


async def test_closed_port_is_unreachable_quickly_without_the_password():
    with ThreadPoolExecutor(max_workers=1) as executor:
        driver = MssqlDriver(
            "mssql://erp:S3cret-pw@127.0.0.1:1/erp?TrustServerCertificate=yes",
            ConnectionOptions(),
            executor=executor,
        )
        start = time.monotonic()
        with pytest.raises(ErpUnreachable) as caught:
            await driver.ping()
    assert time.monotonic() - start < 15
    assert "S3cret-pw" not in caught.value.detail
    if not _odbc_available():
        assert caught.value.detail.startswith(
            "SQL Server needs unixODBC and Microsoft's ODBC driver on the APISmith host: "
        )
        assert "libodbc" in caught.value.detail
    else:
        assert caught.value.detail.startswith("cannot reach SQL Server at 127.0.0.1:1/erp")
