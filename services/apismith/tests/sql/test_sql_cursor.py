"""Page cursors: exact round trips, and any edit, foreign query or other secret is a 400."""

import base64
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from apismith.drivers.base import ColumnInfo
from apismith.sql import (
    Filter,
    SortKey,
    cursor_fingerprint,
    decode_cursor,
    encode_cursor,
    resolve_order,
)
from bridge_core.errors import BadRequest

SECRET = "cursor-test-secret"
FINGERPRINT = "f" * 64
COLUMNS = [ColumnInfo("id", "integer", False), ColumnInfo("name", "string", True)]

VALUES = [
    None,
    True,
    False,
    0,
    -(2**70),
    "",
    'naïve ✓ "quoted" \\ \u0000',
    Decimal("12.50"),
    Decimal("-0.000000000000000000001"),
    Decimal("1E+30"),
    0.1,
    -1.5e300,
    datetime(2024, 5, 31, 13, 45, 0, 123456),
    datetime(2024, 5, 31, 13, 45, 0, 1, tzinfo=UTC),
    datetime(2024, 5, 31, 13, 45, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    date(2024, 2, 29),
    time(23, 59, 59, 999999),
    time(8, 0, tzinfo=timezone(timedelta(hours=2))),
    b"\x00\xff binary",
    uuid.UUID("0190a3e2-7c1d-7a2b-8c3d-4e5f60718293"),
    timedelta(days=-1, seconds=5, microseconds=7),
]


def test_values_round_trip_exactly_with_their_types():
    cursor = encode_cursor(VALUES, secret=SECRET, fingerprint=FINGERPRINT)
    decoded = decode_cursor(cursor, secret=SECRET, fingerprint=FINGERPRINT)
    assert decoded == VALUES
    assert [type(value) for value in decoded] == [type(value) for value in VALUES]
    for original, back in zip(VALUES, decoded, strict=True):
        if isinstance(original, datetime | time):
            assert (
                back.tzinfo is None
                if original.tzinfo is None
                else back.utcoffset() == original.utcoffset()
            )
        if isinstance(original, Decimal):
            assert str(back) == str(original)  # trailing zeros and exponent kept


def test_a_cursor_for_a_row_with_long_text_is_accepted_back():
    """Tie-breakers put every sortable column in the cursor, long ERP notes included."""
    values = [7, "x" * 100_000, Decimal("1.5")]

    cursor = encode_cursor(values, secret=SECRET, fingerprint=FINGERPRINT)

    assert len(cursor) > 100_000
    assert decode_cursor(cursor, secret=SECRET, fingerprint=FINGERPRINT) == values


def test_cursor_is_url_safe_and_opaque():
    cursor = encode_cursor(["secret-ish value"], secret=SECRET, fingerprint=FINGERPRINT)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def _tamper_payload(cursor):
    payload, signature = cursor.split(".")
    values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    values[0] = 999
    edited = base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()
    return f"{edited}.{signature}"


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(_tamper_payload, id="edited values"),
        pytest.param(
            lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"), id="edited signature"
        ),
        pytest.param(lambda c: c.split(".")[0], id="no signature"),
        pytest.param(lambda c: c + ".x", id="three parts"),
        pytest.param(lambda c: "not a cursor", id="garbage"),
        pytest.param(lambda c: "", id="empty"),
        pytest.param(lambda c: "é." + c, id="non-ascii"),
        pytest.param(lambda c: c + "A" * 20_000, id="huge"),
    ],
)
def test_tampered_cursors_are_invalid(make_bad):
    cursor = encode_cursor([1, "a"], secret=SECRET, fingerprint=FINGERPRINT)
    with pytest.raises(BadRequest, match=r"^invalid cursor$"):
        decode_cursor(make_bad(cursor), secret=SECRET, fingerprint=FINGERPRINT)


def test_cursor_from_another_query_or_secret_is_invalid():
    cursor = encode_cursor([1, "a"], secret=SECRET, fingerprint=FINGERPRINT)
    with pytest.raises(BadRequest, match="invalid cursor"):
        decode_cursor(cursor, secret=SECRET, fingerprint="0" * 64)
    with pytest.raises(BadRequest, match="invalid cursor"):
        decode_cursor(cursor, secret="another-secret", fingerprint=FINGERPRINT)


def _fingerprint(**changes):
    request = {
        "api_uid": "0190a3e2-7c1d-7a2b-8c3d-4e5f60718293",
        "api_version": 3,
        "params": {"since": date(2024, 1, 1)},
        "filters": [Filter("name", "like", "a%")],
        "order": resolve_order(sort=[SortKey("name", "desc")], columns=COLUMNS),
    }
    request.update(changes)
    return cursor_fingerprint(**request)


@pytest.mark.parametrize(
    "change",
    [
        {"api_uid": "0190a3e2-7c1d-7a2b-8c3d-4e5f60718294"},
        {"api_version": 4},
        {"params": {"since": date(2024, 1, 2)}},
        {"filters": [Filter("name", "like", "b%")]},
        {"filters": [Filter("name", "like", "a%"), Filter("id", "gt", 1)]},
        {"order": resolve_order(sort=[SortKey("name")], columns=COLUMNS)},
    ],
)
def test_fingerprint_changes_with_anything_that_changes_the_rows(change):
    assert _fingerprint(**change) != _fingerprint()


def test_fingerprint_is_stable():
    assert _fingerprint() == _fingerprint()


def test_unsupported_values_are_a_programming_error():
    with pytest.raises(TypeError, match="cannot be put in a cursor"):
        encode_cursor([object()], secret=SECRET, fingerprint=FINGERPRINT)
