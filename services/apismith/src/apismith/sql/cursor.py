"""Opaque, tamper-evident page cursors: the last row's sort-key values, signed.

A cursor is ``base64url(json) "." base64url(hmac)``. The JSON holds the values
with explicit type tags, so a Decimal comes back a Decimal (not a float) and a
naive timestamp stays naive. The HMAC-SHA256 (truncated to 128 bits) covers the
JSON and a fingerprint of the query it belongs to (API version, params, filters,
order), so a cursor cannot be edited or replayed against another query.

A cursor holds every sort-key value of its row, so it is as long as those values:
a row with a long text column makes a long cursor, and every cursor APISmith issued
is accepted back whatever its length (the signature is checked before anything in
it is read).
"""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from apismith.sql.keyset import INVALID_CURSOR
from apismith.sql.order import TotalOrder
from apismith.sql.spec import Filter
from bridge_core.errors import BadRequest

_SIGNATURE_BYTES = 16
_KEY_CONTEXT = b"apismith.sql.cursor.v1"


def encode_cursor(values: Sequence[Any], *, secret: str, fingerprint: str) -> str:
    """A signed cursor holding ``values`` for the query identified by ``fingerprint``."""
    payload = json.dumps([_tag(value) for value in values], separators=(",", ":")).encode()
    signature = _sign(payload, secret=secret, fingerprint=fingerprint)
    return f"{_b64encode(payload)}.{_b64encode(signature)}"


def decode_cursor(cursor: str, *, secret: str, fingerprint: str) -> list[Any]:
    """The values inside ``cursor``; 400 "invalid cursor" if it is malformed, edited or foreign."""
    try:
        encoded_payload, encoded_signature = cursor.split(".")
        payload = _b64decode(encoded_payload)
        signature = _b64decode(encoded_signature)
        expected = _sign(payload, secret=secret, fingerprint=fingerprint)
        if not hmac.compare_digest(signature, expected):
            raise ValueError("bad signature")
        items = json.loads(payload)
        if not isinstance(items, list):
            raise ValueError("not a list")
        return [_untag(item) for item in items]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise BadRequest(INVALID_CURSOR) from None


def cursor_fingerprint(
    *,
    api_uid: str,
    api_version: int,
    params: Mapping[str, Any],
    filters: Sequence[Filter],
    order: TotalOrder,
) -> str:
    """A digest of everything that decides which rows a page query sees, bar the cursor itself."""
    identity = {
        "api": [str(api_uid), api_version],
        "params": {name: _canonical(value) for name, value in sorted(params.items())},
        "filters": [[item.field, item.operator, _canonical(item.value)] for item in filters],
        "order": [[key.field, key.direction] for key in order.keys],
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _sign(payload: bytes, *, secret: str, fingerprint: str) -> bytes:
    key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
    message = fingerprint.encode() + b"\n" + payload
    return hmac.new(key, message, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _canonical(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    return _tag(value)


# JSON null, booleans, integers and strings stand for themselves; every other type is
# a two-item list [tag, text]. Order matters: bool before int, datetime before date.
def _tag(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    for value_type, tag, write, _ in _TAGGED:
        if isinstance(value, value_type):
            return [tag, write(value)]
    raise TypeError(f"a {type(value).__name__} value cannot be put in a cursor")


def _untag(item: Any) -> Any:
    if item is None or isinstance(item, bool | int | str):
        return item
    if isinstance(item, list) and len(item) == 2 and isinstance(item[1], str):
        for _, tag, _, read in _TAGGED:
            if item[0] == tag:
                return read(item[1])
    raise ValueError("unknown cursor value")


def _write_bytes(value: bytes | bytearray | memoryview) -> str:
    return _b64encode(bytes(value))


def _write_timedelta(value: timedelta) -> str:
    return f"{value.days},{value.seconds},{value.microseconds}"


def _read_timedelta(text: str) -> timedelta:
    days, seconds, microseconds = (int(part) for part in text.split(","))
    return timedelta(days=days, seconds=seconds, microseconds=microseconds)


_TAGGED: tuple[
    tuple[type | tuple[type, ...], str, Callable[[Any], str], Callable[[str], Any]], ...
] = (
    (Decimal, "n", str, Decimal),
    (float, "f", repr, float),
    (datetime, "dt", datetime.isoformat, datetime.fromisoformat),
    (date, "d", date.isoformat, date.fromisoformat),
    (time, "t", time.isoformat, time.fromisoformat),
    ((bytes, bytearray, memoryview), "b", _write_bytes, _b64decode),
    (UUID, "u", str, UUID),
    (timedelta, "td", _write_timedelta, _read_timedelta),
)
