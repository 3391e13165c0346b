"""The Oracle driver without an Oracle server: type mapping and connection failures."""

import time

import oracledb
import pytest

from apismith.drivers.base import ConnectionOptions, ErpUnreachable
from apismith.drivers.oracle import OracleDriver, data_type


@pytest.mark.parametrize(
    ("type_code", "precision", "scale", "expected"),
    [
        (oracledb.DB_TYPE_NUMBER, 10, 0, "integer"),
        (oracledb.DB_TYPE_NUMBER, 18, 6, "number"),
        (oracledb.DB_TYPE_NUMBER, 0, -127, "number"),  # a bare NUMBER: keep it exact
        (oracledb.DB_TYPE_BINARY_DOUBLE, 0, 0, "number"),
        (oracledb.DB_TYPE_DATE, 0, 0, "timestamp"),  # Oracle DATE has a time of day
        (oracledb.DB_TYPE_TIMESTAMP_TZ, 0, 0, "timestamp"),
        (oracledb.DB_TYPE_VARCHAR, 0, 0, "string"),
        (oracledb.DB_TYPE_CLOB, 0, 0, "string"),
        (oracledb.DB_TYPE_BLOB, 0, 0, "binary"),
        (oracledb.DB_TYPE_RAW, 0, 0, "binary"),
        (oracledb.DB_TYPE_BOOLEAN, 0, 0, "boolean"),
        (oracledb.DB_TYPE_JSON, 0, 0, "json"),
        (oracledb.DB_TYPE_ROWID, 0, 0, "string"),
    ],
)
def test_data_type(type_code, precision, scale, expected):
    assert data_type(type_code, precision, scale) == expected


async def test_closed_port_is_unreachable_quickly_without_the_password():
    driver = OracleDriver(
        "oracle://erp:S3cret-pw@127.0.0.1:1/?service_name=ERPPDB", ConnectionOptions()
    )
    start = time.monotonic()
    with pytest.raises(ErpUnreachable) as caught:
        await driver.ping()
    assert time.monotonic() - start < 5
    assert caught.value.status_code == 502
    assert caught.value.detail.startswith("cannot reach Oracle at 127.0.0.1:1/ERPPDB: DPY-6005")
    assert "S3cret-pw" not in caught.value.detail
    await driver.close()
