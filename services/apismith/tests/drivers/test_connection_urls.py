"""Connection URLs: accepted forms, refusals that never quote the URL, per-driver parameters."""

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from apismith.drivers.urls import (
    masked_url,
    mssql_connection_string,
    mysql_params,
    oracle_params,
    parse_connection_url,
    postgres_endpoint,
    postgres_target,
    sqlite_path,
    sqlite_uri,
)
from bridge_core.errors import Unprocessable

CASES = json.loads((Path(__file__).parent / "connection_url_cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["url"] for c in CASES])
def test_connection_url(case):
    if "error" in case:
        with pytest.raises(Unprocessable) as caught:
            parse_connection_url(case["dialect"], case["url"])
        assert case["error"] in caught.value.detail
        assert ":pw@" not in caught.value.detail
        assert caught.value.__cause__ is None or "pw" not in str(caught.value.__cause__)
    else:
        assert masked_url(parse_connection_url(case["dialect"], case["url"])) == case["masked"]


def test_postgres_target_reads_host_and_port_like_asyncpg():
    target = postgres_target(
        make_url("postgresql://erp:p%40ss@ignored:1/erp?host=/run/pg&port=5433")
    )
    assert (target.endpoint.host, target.endpoint.port, target.endpoint.database) == (
        "/run/pg",
        5433,
        "erp",
    )
    assert (target.user, target.password) == ("erp", "p@ss")


def test_postgres_endpoint_defaults():
    endpoint = postgres_endpoint(make_url("postgresql+asyncpg://apismith@/"))
    assert (endpoint.host, endpoint.port, endpoint.database) == ("localhost", 5432, "apismith")


def test_mysql_params():
    assert mysql_params(make_url("mariadb://erp:pw@db/erp")) == {
        "host": "db",
        "port": 3306,
        "user": "erp",
        "password": "pw",
        "db": "erp",
        "charset": "utf8mb4",
    }


def test_sqlite_uri_is_read_only_and_escaped(tmp_path):
    path = sqlite_path(make_url(f"sqlite:///{tmp_path}/erp #1%.db"))
    assert sqlite_uri(path) == f"file:{tmp_path}/erp%20%231%25.db?mode=ro"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "oracle://erp:pw@ora:1521/?service_name=ERPPDB",
            {"service_name": "ERPPDB", "port": 1521, "protocol": "tcp"},
        ),
        ("oracle://erp:pw@ora/ORCL", {"sid": "ORCL", "port": 1521}),
        (
            "oracle://erp:pw@ora:2484/?service_name=X&protocol=tcps",
            {"port": 2484, "protocol": "tcps"},
        ),
    ],
)
def test_oracle_params(url, expected):
    params = oracle_params(make_url(url))
    assert params["user"] == "erp"
    assert params["password"] == "pw"
    assert params["host"] == "ora"
    assert expected.items() <= params.items()
    assert not {"service_name", "sid"} <= params.keys()


def test_mssql_connection_string_is_read_only():
    url = make_url(
        "mssql://erp:pw@sql.example.com:1433/erp?driver=ODBC+Driver+18+for+SQL+Server"
        "&TrustServerCertificate=yes"
    )
    assert mssql_connection_string(url) == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=sql.example.com,1433;DATABASE=erp;"
        "UID=erp;PWD=pw;ApplicationIntent=ReadOnly;TrustServerCertificate=yes"
    )


def test_mssql_connection_string_braces_values_that_could_end_an_attribute():
    url = make_url("mssql://erp:a%3Bb%7Dc%3DApplicationIntent@sql/erp")
    text = mssql_connection_string(url)
    assert "PWD={a;b}}c=ApplicationIntent};" in text
    assert text.startswith("DRIVER={ODBC Driver 18 for SQL Server};SERVER=sql,1433;")
    assert text.endswith(";ApplicationIntent=ReadOnly")
