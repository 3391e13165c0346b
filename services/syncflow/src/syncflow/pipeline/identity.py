"""Identity: a row's key hash and data hash, over one canonical encoding of its values.

``BK_HASH`` (``_bridge_key_hash``) is xxHash XXH3-128 of the business-key values (the
normalized source values, in business-key order): 32 lowercase hex digits.
``DATA_HASH`` (``_bridge_data_hash``) is BLAKE3-256 of the mapped target values, in
field order: 64 lowercase hex digits. A child's parent key hash is the key hash of its
ref field values, so it equals the parent row's own key hash for the same key.

Canonical encoding (docs/canonical-encoding.md, pinned by test vectors): each value is
a one-letter tag, then for non-NULL values the UTF-8 byte length of the payload in
decimal, ``:`` and the payload; the items are concatenated.

====  ==========================  ===========================================
tag   value                       payload
====  ==========================  ===========================================
N     NULL                        (none: just ``N``)
S     text                        the text in NFC
D     integer or decimal          plain decimal, no exponent, no trailing
                                  fractional zeros, ``-0`` is ``0``
B     boolean                     ``true`` / ``false``
C     date                        ``YYYY-MM-DD``
T     timestamp (aware)           UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
====  ==========================  ===========================================

Example: ``(42, "Ä", None)`` -> ``D2:42S2:ÄN``.
"""

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from blake3 import blake3
from xxhash import xxh3_128_hexdigest

from syncflow.domain import EntitySpec, Record, RowFailure, Stage, StageResult


def canonical_item(value: Any) -> str:
    """One value's canonical form (``TypeError`` for a type without one, ``ValueError`` for
    a timestamp whose instant in UTC lies outside years 1..9999)."""
    cls = value.__class__
    if cls is str:
        if value.isascii():
            return f"S{len(value)}:{value}"
        if not unicodedata.is_normalized("NFC", value):
            value = unicodedata.normalize("NFC", value)
        return f"S{len(value.encode())}:{value}"
    if value is None:
        return "N"
    if cls is int:
        text = str(value)
        return f"D{len(text)}:{text}"
    if cls is Decimal:
        text = canonical_decimal(value)
        return f"D{len(text)}:{text}"
    if cls is datetime:
        offset = value.utcoffset()
        if offset is None:
            raise TypeError("a timestamp without a timezone has no canonical form")
        # UTC by plain arithmetic: cheaper than astimezone() and isoformat(timespec=...)
        wall = value.replace(tzinfo=None)
        try:
            text = (wall - offset if offset else wall).isoformat()
        except OverflowError:
            raise ValueError(
                f"timestamp {value.isoformat()} lies outside years 1..9999 in UTC: "
                "it has no canonical form"
            ) from None
        return f"T27:{text}Z" if len(text) == 26 else f"T27:{text}.000000Z"
    if cls is date:
        return f"C10:{value.isoformat()}"
    if cls is bool:
        return "B4:true" if value else "B5:false"
    raise TypeError(f"a {cls.__name__} value has no canonical form")


def canonical_decimal(value: Decimal) -> str:
    """``value`` in plain notation without trailing fractional zeros (``1.50`` -> ``1.5``,
    ``1E+3`` -> ``1000``, ``-0.0`` -> ``0``)."""
    if not value.is_finite():
        raise TypeError(f"{value} has no canonical form")
    text = str(value)
    if "E" in text:
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def canonical_encoding(values: Iterable[Any]) -> bytes:
    """The canonical bytes of a sequence of values."""
    return "".join(map(canonical_item, values)).encode()


def key_hash(values: Iterable[Any]) -> str:
    """BK_HASH: XXH3-128 of the business-key values' canonical encoding (32 hex)."""
    return xxh3_128_hexdigest(canonical_encoding(values))


def data_hash(values: Iterable[Any]) -> str:
    """DATA_HASH: BLAKE3 of the target values' canonical encoding (64 hex)."""
    return blake3(canonical_encoding(values)).digest().hex()


def parent_key_hash(values: Sequence[Any]) -> str | None:
    """The key hash of the parent a child's ref field values point at (equal to the
    parent's own key hash); ``None`` when every value is NULL (no parent)."""
    if all(value is None for value in values):
        return None
    return key_hash(values)


class Identity:
    """Sets ``key_hash``, ``data_hash`` and ``parent_key_hashes`` on one entity's records."""

    def __init__(self, spec: EntitySpec) -> None:
        self._keys = spec.business_keys
        self._fields = tuple(f.target_field for f in spec.fields)
        self._refs = tuple((ref.parent_entity, ref.fields) for ref in spec.parent_refs)

    def assign(self, records: Sequence[Record]) -> StageResult:
        """The records with their hashes, and an ``identity`` failure for any row holding a
        value without a canonical form."""
        keys, fields, refs = self._keys, self._fields, self._refs
        kept: list[Record] = []
        failures: list[RowFailure] = []
        for record in records:
            values, target = record.values, record.target
            try:
                record.key_hash = xxh3_128_hexdigest(
                    "".join([canonical_item(values.get(name)) for name in keys]).encode()
                )
                # digest().hex() is cheaper than hexdigest() in the blake3 binding
                record.data_hash = (
                    blake3("".join([canonical_item(target.get(name)) for name in fields]).encode())
                    .digest()
                    .hex()
                )
                if refs:
                    record.parent_key_hashes = self.parent_key_hashes(values)
            except (TypeError, ValueError) as exc:
                failures.append(
                    RowFailure(
                        stage=Stage.IDENTITY,
                        error=str(exc),
                        raw=record.raw,
                        key_hash=record.key_hash or None,
                    )
                )
                continue
            kept.append(record)
        return StageResult(records=kept, failures=failures)

    def parent_key_hashes(self, values: dict[str, Any]) -> dict[str, str]:
        hashes: dict[str, str] = {}
        for parent_entity, ref_fields in self._refs:
            hashed = parent_key_hash([values.get(name) for name in ref_fields])
            if hashed is not None:
                hashes[parent_entity] = hashed
        return hashes
