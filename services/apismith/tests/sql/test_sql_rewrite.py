"""Runtime queries per dialect: goldens, binding, quoting, filters, order and injection attempts.

There is no Oracle or SQL Server in the test environment: the goldens in
rewrite_goldens.json ARE their tests. Regenerating them means reading the SQL.
"""

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from apismith.drivers.base import ColumnInfo, Dialect
from apismith.sql import (
    Filter,
    SortKey,
    build_count_query,
    build_describe_query,
    build_null_tail_query,
    build_page_query,
    build_sample_query,
    build_stream_query,
    null_tail_follows,
    resolve_order,
    validate_select,
)
from bridge_core.errors import BadRequest, Unprocessable

HERE = Path(__file__).parent
GOVERNANCE_DOC = HERE.parents[1] / "docs" / "sql-governance.md"
GOLDENS = json.loads((HERE / "rewrite_goldens.json").read_text())
FILTER_CASES = json.loads((HERE / "filter_cases.json").read_text())

COLUMNS = [
    ColumnInfo("id", "integer", False),
    ColumnInfo("Order Date", "date", True),
    ColumnInfo("amount", "number", True),
    ColumnInfo("select", "string", True),
    ColumnInfo("doc", "json", True),
]
FILTERS = [
    Filter("select", "like", "a%"),
    Filter("id", "in", [1, "2"]),
    Filter("amount", "ne", "10.5"),
    Filter("Order Date", "between", ["2024-01-01", "2024-12-31"]),
]
AFTER = [Decimal("10.50"), 7, date(2024, 3, 1), None]


def saved_query(dialect):
    quote = "`{}`" if dialect is Dialect.MYSQL else '"{}"'
    return validate_select(
        "WITH recent AS (SELECT * FROM orders WHERE status = :status) "
        f"SELECT id, order_date AS {quote.format('Order Date')}, amount, "
        f"note AS {quote.format('select')}, doc FROM recent "
        "WHERE note NOT LIKE '%test%' ORDER BY id",
        dialect,
    )


def page(dialect, *, filters=FILTERS, sort=(SortKey("amount", "desc"),), after=AFTER, size=50):
    order = resolve_order(sort=list(sort), columns=COLUMNS)
    return build_page_query(
        saved_query(dialect),
        columns=COLUMNS,
        params={"status": "open"},
        filters=list(filters),
        order=order,
        page_size=size,
        after=after,
    )


@pytest.mark.parametrize("dialect", list(Dialect), ids=str)
def test_page_query_matches_golden(dialect):
    query = page(dialect)
    golden = GOLDENS[dialect.value]
    assert query.sql == golden["sql"]
    assert repr(query.params) == golden["params"]


def test_the_documented_page_query_is_the_one_built():
    """docs/sql-governance.md shows a page query; it must be what APISmith sends."""
    text = GOVERNANCE_DOC.read_text()
    block = text[text.index("```sql\n", text.index("## How runtime queries are built")) + 7 :]
    documented, params = block[: block.index("```")].strip().split("\n-- params: ")
    saved = validate_select(
        "WITH recent AS (SELECT * FROM orders WHERE status = :status) SELECT id, "
        'order_date AS "Order Date", amount FROM recent ORDER BY id',
        Dialect.POSTGRESQL,
    )
    columns = [
        ColumnInfo("id", "integer", True),
        ColumnInfo("Order Date", "date", True),
        ColumnInfo("amount", "number", True),
    ]
    built = build_page_query(
        saved,
        columns=columns,
        params={"status": "open"},
        filters=[],
        order=resolve_order(sort=[SortKey("amount", "desc")], columns=columns),
        page_size=50,
        after=[Decimal("250.00"), 7, date(2024, 3, 1)],
    )

    assert " ".join(documented.split()) == built.sql
    assert params == repr(built.params).replace("datetime.date", "date")


def test_placeholders_are_numbered_in_text_order():
    """T-SQL moves TOP and the CTE around; the bound values must still line up with the markers."""
    query = page(Dialect.MSSQL)
    assert query.sql.index("status = ?") < query.sql.index("LIKE ?")
    assert query.params[0] == "open"
    assert query.sql.count("?") == len(query.params)


def test_mysql_doubles_every_literal_percent_for_the_driver():
    query = page(Dialect.MYSQL)
    assert "NOT LIKE '%%test%%'" in query.sql
    assert re.sub(r"%%|%s", "", query.sql).count("%") == 0
    # the filter's % stays in the bound value, never in the text
    assert "a%" in query.params


@pytest.mark.parametrize(
    ("dialect", "expected_sql", "expected_params"),
    [
        (Dialect.POSTGRESQL, "a = $1 OR b = $1", ("x",)),
        (Dialect.ORACLE, "a = :p1 OR b = :p1", {"p1": "x"}),
        (Dialect.SQLITE, "a = ? OR b = ?", ("x", "x")),
        (Dialect.MYSQL, "a = %s OR b = %s", ("x", "x")),
    ],
)
def test_a_repeated_parameter_binds_once_where_the_style_allows(
    dialect, expected_sql, expected_params
):
    query = validate_select("SELECT id FROM t WHERE a = :p OR b = :p", dialect)
    bound = build_describe_query(query, params={"p": "x"})
    assert expected_sql in bound.sql
    assert bound.params == expected_params


def test_describe_query_returns_no_rows_and_binds_missing_params_as_null():
    bound = build_describe_query(saved_query(Dialect.POSTGRESQL), params={})
    assert bound.sql.endswith(") AS q WHERE 1 = 0")
    assert bound.params == (None,)


def test_sample_query_is_limited_and_unordered():
    bound = build_sample_query(saved_query(Dialect.MSSQL), params={"status": "open"})
    assert bound.sql.startswith(
        "WITH recent AS (SELECT * FROM orders WHERE status = ?) SELECT TOP 100 *"
    )
    assert "ORDER BY" not in bound.sql


def test_count_query_filters_without_order_or_limit():
    bound = build_count_query(
        saved_query(Dialect.ORACLE),
        columns=COLUMNS,
        params={"status": "open"},
        filters=[Filter("doc", "not_null")],
    )
    assert bound.sql.startswith("WITH recent AS (SELECT * FROM orders WHERE status = :p1) ")
    assert bound.sql.endswith(
        'SELECT COUNT(*) AS total FROM (SELECT id, order_date AS "Order Date", amount, '
        "note AS \"select\", doc FROM recent WHERE note NOT LIKE '%test%') q "
        'WHERE NOT q."doc" IS NULL'
    )
    assert bound.params == {"p1": "open"}


def test_stream_query_orders_totally_without_limit():
    order = resolve_order(sort=[], columns=COLUMNS, business_keys=["id"])
    bound = build_stream_query(
        saved_query(Dialect.SQLITE),
        columns=COLUMNS,
        params={"status": "open"},
        filters=[],
        order=order,
    )
    assert bound.sql.endswith(
        'ORDER BY q."id" ASC NULLS LAST, q."Order Date" ASC NULLS LAST, '
        'q."amount" ASC NULLS LAST, q."select" ASC NULLS LAST'
    )
    assert "LIMIT" not in bound.sql


@pytest.mark.parametrize(
    ("sql", "kept"),
    [
        ("SELECT id FROM t ORDER BY id", False),
        ("SELECT id FROM t ORDER BY id LIMIT 5", True),
        ("SELECT id FROM t UNION SELECT id FROM u ORDER BY id", False),
    ],
)
def test_inner_order_by_survives_only_with_a_row_limit(sql, kept):
    bound = build_describe_query(validate_select(sql, Dialect.POSTGRESQL), params={})
    assert ("ORDER BY id" in bound.sql) is kept


def test_tsql_top_in_the_saved_query_keeps_its_order():
    saved = validate_select("SELECT TOP 5 id FROM t ORDER BY id DESC", Dialect.MSSQL)
    bound = build_describe_query(saved, params={})
    assert (
        bound.sql
        == "SELECT * FROM (SELECT TOP 5 id AS id FROM t ORDER BY id DESC) AS q WHERE 1 = 0"
    )


def test_comments_never_reach_the_database():
    """MySQL executes /*! ... */ comments; validation never saw their text, so it is dropped."""
    saved = validate_select("SELECT 1 AS x /*!50000 , SLEEP(5) */ -- tail", Dialect.MYSQL)
    bound = build_describe_query(saved, params={})
    assert bound.sql == "SELECT * FROM (SELECT 1 AS x) AS q WHERE 1 = 0"


def test_function_names_keep_their_case():
    saved = validate_select('SELECT "MyFunc"(a) AS x, lower(b) AS y FROM t', Dialect.POSTGRESQL)
    bound = build_describe_query(saved, params={})
    assert 'SELECT "MyFunc"(a) AS x, LOWER(b) AS y FROM t' in bound.sql


@pytest.mark.parametrize(
    ("dialect", "quoted"),
    [
        (Dialect.POSTGRESQL, 'q."we""ird`na]me"'),
        (Dialect.MYSQL, 'q.`we"ird``na]me`'),
        (Dialect.MSSQL, 'q.[we"ird`na]]me]'),
        (Dialect.ORACLE, 'q."we""ird`na]me"'),
    ],
)
def test_column_names_are_quoted_and_escaped(dialect, quoted):
    name = 'we"ird`na]me'
    columns = [ColumnInfo(name, "string", True)]
    saved = validate_select("SELECT 1 AS x", dialect)
    bound = build_stream_query(
        saved,
        columns=columns,
        params={},
        filters=[Filter(name, "eq", "v")],
        order=resolve_order(sort=[], columns=columns),
    )
    assert f"{quoted} = " in bound.sql


INJECTIONS = [
    "'; DROP TABLE orders; --",
    "x' OR '1'='1",
    "*/ DELETE FROM orders /*",
    "%s %% ? :p1 $1",
    "\\'; SELECT pg_sleep(10); --",
]


@pytest.mark.parametrize("dialect", list(Dialect), ids=str)
@pytest.mark.parametrize("payload", INJECTIONS)
def test_filter_and_cursor_values_are_always_bound(dialect, payload):
    query = page(
        dialect,
        filters=[Filter("select", "eq", payload), Filter("select", "in", [payload, "b"])],
        after=[Decimal("1"), 1, date(2024, 1, 1), payload],
    )
    assert payload not in query.sql
    values = query.params.values() if isinstance(query.params, dict) else query.params
    assert list(values).count(payload) >= 3


@pytest.mark.parametrize(
    ("filters", "sort", "error"),
    [
        ([Filter("id; DROP TABLE x", "eq", 1)], [], "unknown filter field 'id; DROP TABLE x'"),
        ([Filter('id" --', "eq", 1)], [], "unknown filter field"),
        ([Filter("id", "eq; --", 1)], [], "unknown filter operator 'eq; --'"),
        ([], [SortKey("id; DROP TABLE x")], "unknown sort field 'id; DROP TABLE x'"),
        ([], [SortKey("id", "desc; DROP TABLE x")], "direction must be asc or desc"),
        ([], [SortKey("amount /* */")], "unknown sort field"),
    ],
)
def test_injected_names_are_refused(filters, sort, error):
    with pytest.raises(BadRequest, match=re.escape(error)):
        page(Dialect.POSTGRESQL, filters=filters, sort=sort, after=None)


@pytest.mark.parametrize("case", FILTER_CASES, ids=lambda case: case["id"])
def test_bad_filters_are_400_naming_the_problem(case):
    with pytest.raises(BadRequest) as raised:
        page(Dialect.POSTGRESQL, filters=[Filter(**case["filter"])], after=None)
    assert case["error"] in raised.value.detail


def test_filter_semantics_per_operator():
    query = page(
        Dialect.POSTGRESQL,
        filters=[
            Filter("id", "gte", 5),
            Filter("id", "lt", "9"),
            Filter("id", "not_in", [6]),
            Filter("select", "is_null"),
            Filter("amount", "not_null"),
        ],
        after=None,
    )
    assert (
        'WHERE q."id" >= $2 AND q."id" < $3 AND (NOT q."id" IN ($4) OR q."id" IS NULL) '
        'AND q."select" IS NULL AND NOT q."amount" IS NULL ORDER BY'
    ) in query.sql
    assert query.params == ("open", 5, 9, 6)


def test_default_order_is_rowversion_then_business_keys_then_the_rest():
    columns = [
        ColumnInfo("note", "string", True),
        ColumnInfo("code", "string", False),
        ColumnInfo("site", "string", False),
        ColumnInfo("changed", "timestamp", True),
        ColumnInfo("payload", "binary", True),
    ]
    order = resolve_order(
        sort=[], columns=columns, business_keys=["site", "code"], rowversion_column="changed"
    )
    assert [key.field for key in order.keys] == ["changed", "site", "code", "note"]
    assert order.row_values(("n", "c", "s", "t", b"x"), columns) == ["t", "s", "c", "n"]


@pytest.mark.parametrize(
    ("sort", "error"),
    [
        ([SortKey("doc")], "cannot sort by 'doc': json has no order"),
        ([SortKey("id"), SortKey("id", "desc")], "sort field 'id' is given twice"),
    ],
)
def test_bad_sorts_are_400(sort, error):
    with pytest.raises(BadRequest, match=re.escape(error)):
        resolve_order(sort=sort, columns=COLUMNS)


def test_a_query_with_no_sortable_column_cannot_be_paged():
    with pytest.raises(Unprocessable, match="no sortable column"):
        resolve_order(sort=[], columns=[ColumnInfo("doc", "json", True)])


def test_nothing_comes_after_an_all_null_row_in_ascending_order():
    query = page(Dialect.POSTGRESQL, filters=[], sort=[SortKey("amount")], after=[None] * 4)
    assert 'WHERE 1 = 0 ORDER BY q."amount" ASC' in query.sql


@pytest.mark.parametrize(
    ("after", "size", "error"),
    [
        ([1, 2], 50, "invalid cursor"),
        (AFTER, 0, "page_size must be a positive integer"),
        (AFTER, True, "page_size must be a positive integer"),
    ],
)
def test_bad_cursor_shape_or_page_size_is_400(after, size, error):
    with pytest.raises(BadRequest, match=error):
        page(Dialect.POSTGRESQL, after=after, size=size)


def test_a_page_bounds_its_first_sort_key_so_an_index_can_serve_it():
    ascending = page(Dialect.POSTGRESQL, filters=[], sort=[SortKey("amount")])
    assert ascending.sql.endswith(
        'AND q."amount" >= $5 ORDER BY q."amount" ASC, q."id" ASC, '
        'q."Order Date" ASC, q."select" ASC LIMIT 51'
    )
    assert ascending.params[4] == Decimal("10.50")
    descending = page(Dialect.POSTGRESQL, filters=[])
    assert 'AND q."amount" <= $5 ORDER BY q."amount" DESC' in descending.sql
    # a NULL first value pins the key already (IS NULL): no range
    after_null = page(Dialect.POSTGRESQL, filters=[], after=[None, 7, date(2024, 3, 1), None])
    assert "<=" not in after_null.sql


def test_ascending_pages_leave_the_null_first_keys_to_the_tail_query():
    order = resolve_order(sort=[SortKey("amount")], columns=COLUMNS)
    assert null_tail_follows(order, AFTER)
    assert not null_tail_follows(order, [None, *AFTER[1:]])
    assert not null_tail_follows(
        resolve_order(sort=[SortKey("amount", "desc")], columns=COLUMNS), AFTER
    )
    tail = build_null_tail_query(
        saved_query(Dialect.POSTGRESQL),
        columns=COLUMNS,
        params={"status": "open"},
        filters=[],
        order=order,
        limit=7,
    )
    assert tail.sql.endswith(
        'WHERE q."amount" IS NULL ORDER BY q."amount" ASC, q."id" ASC, '
        'q."Order Date" ASC, q."select" ASC LIMIT 7'
    )


@pytest.mark.parametrize("dialect", list(Dialect), ids=str)
def test_a_page_query_rendered_once_per_shape_binds_each_calls_values(dialect):
    """Pages reuse the SQL text rendered for their shape: every call must get exactly what a
    fresh render gives for its own values, and a new shape (a NULL cursor value, another
    list length) its own text."""
    saved = saved_query(dialect)
    order = resolve_order(sort=[SortKey("amount", "desc")], columns=COLUMNS)
    calls = [
        (FILTERS, AFTER),
        ([Filter("id", "in", [5, 6]), *FILTERS[2:]], [Decimal("1.25"), 9, date(2025, 1, 2), "x"]),
        ([Filter("id", "in", [5, 6, 7]), *FILTERS[2:]], AFTER),
        (FILTERS, [None, 7, date(2024, 3, 1), None]),
        (FILTERS, AFTER),
    ]
    for filters, after in calls:
        reused = build_page_query(
            saved,
            columns=COLUMNS,
            params={"status": "open"},
            filters=filters,
            order=order,
            page_size=50,
            after=after,
        )
        fresh = page(dialect, filters=filters, after=after)
        assert (reused.sql, reused.params) == (fresh.sql, fresh.params)
    assert len({page(dialect, filters=f, after=a).sql for f, a in calls}) == 4
