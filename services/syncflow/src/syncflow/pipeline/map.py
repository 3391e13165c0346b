"""Map: normalized source values -> target values (``record.target``), one field at a time.

For each mapped field, in order: the ``transform`` (``trim``/``upper``/``lower`` change
text and leave other values alone; a value map ``{"map": {...}, "default": ...}`` looks
the value up by its text form, falls back to ``default`` when that key is given and
keeps the value otherwise), then ``default_value`` when the value is NULL, then the
conversion to the field's type. A :class:`Mapper` decides all of this once per entity:
a field whose value already has its type is copied as is, value-map entries and
defaults are converted up front, and a mapping that can never work (a date into an
integer field, a default that is not a number) raises ``ValueError`` when the mapper is
built rather than failing every row.

Conversions: integer <- whole numeric, boolean (0/1) or integer text; numeric <-
integer, boolean or number text; boolean <- 0/1 or ``true``/``false``; date <-
timestamp (its date in the source timezone) or ISO text; timestamp <- date (midnight
in the source timezone), ISO text or Unix epoch seconds; text <- anything (ISO 8601
for dates and times, plain digits for numbers, ``true``/``false``).
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncflow.domain import (
    BIGINT_MAX,
    BIGINT_MIN,
    EntitySpec,
    FieldSpec,
    FieldType,
    Record,
    RowFailure,
    Stage,
    StageResult,
)

Conversion = Callable[[Any], Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "upper": str.upper,
    "lower": str.lower,
}
_CONSTANT_TYPES: dict[type, FieldType] = {
    str: FieldType.TEXT,
    bool: FieldType.BOOLEAN,
    int: FieldType.INTEGER,
    Decimal: FieldType.NUMERIC,
    date: FieldType.DATE,
    datetime: FieldType.TIMESTAMP,
}
_SHOWN_CHARACTERS = 80


class Mapper:
    """Fills ``record.target`` for one entity's validated records."""

    def __init__(self, spec: EntitySpec) -> None:
        """Plan every field; ``ValueError`` naming the field for a mapping that cannot work."""
        try:
            zone = ZoneInfo(spec.source_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown source timezone {spec.source_timezone!r}") from None
        self._conversions = _Conversions(zone)
        self.plan: tuple[tuple[str, str, Conversion | None], ...] = tuple(
            (f.source_field, f.target_field, self._field_plan(f, spec.value_type(f.source_field)))
            for f in spec.fields
        )

    def map(self, records: Sequence[Record]) -> StageResult:
        """The records whose every field mapped (``target`` filled), and one ``map``
        failure for each other row, naming the first field that did not."""
        plan = self.plan
        kept: list[Record] = []
        failures: list[RowFailure] = []
        for record in records:
            values = record.values
            try:
                record.target = {
                    target: values.get(source) if run is None else run(values.get(source))
                    for source, target, run in plan
                }
            except (ValueError, TypeError, ArithmeticError):
                failures.append(self._failure(record))
                continue
            kept.append(record)
        return StageResult(records=kept, failures=failures)

    def _failure(self, record: Record) -> RowFailure:
        for source, target, run in self.plan:
            if run is None:
                continue
            value = record.values.get(source)
            try:
                run(value)
            except (ValueError, TypeError, ArithmeticError) as exc:
                name = target if source == target else f"{target} (from {source})"
                error = f"{name}: {_shown(value)}: {exc}"
                return RowFailure(stage=Stage.MAP, error=error, raw=record.raw)
        raise AssertionError("a row failed to map but every field maps")

    def _field_plan(self, field: FieldSpec, source_type: FieldType) -> Conversion | None:
        """The function that maps one field's value; ``None`` when the value is copied."""
        try:
            convert = self._conversions.between(source_type, field.type)
            default = self._constant(field.default_value, field.type)
            if isinstance(field.transform, dict):
                return self._value_map(field, field.transform, convert, default)
            if field.transform is None:
                text_transform = None
            elif field.transform in _TEXT_TRANSFORMS:
                text_transform = _TEXT_TRANSFORMS[field.transform]
            else:
                raise ValueError(
                    f"unknown transform {field.transform!r} (trim, upper, lower or a value map)"
                )
        except ValueError as exc:
            raise ValueError(f"field {field.target_field}: {exc}") from None
        if convert is None and default is None and text_transform is None:
            return None

        def run(value: Any) -> Any:
            if value is None:
                return default
            if text_transform is not None and value.__class__ is str:
                value = text_transform(value)
            return value if convert is None else convert(value)

        return run

    def _value_map(
        self,
        field: FieldSpec,
        transform: dict[str, Any],
        convert: Conversion | None,
        default: Any,
    ) -> Conversion:
        spec = dict(transform)
        entries = spec.pop("map", None)
        has_fallback = "default" in spec
        fallback = self._constant(spec.pop("default", None), field.type)
        if not isinstance(entries, dict) or spec:
            raise ValueError('a value map is {"map": {...}} with an optional "default"')
        table = {str(key): self._constant(value, field.type) for key, value in entries.items()}
        required = field.required
        missing = object()

        def run(value: Any) -> Any:
            if value is None:
                result = default
            else:
                result = table.get(value if value.__class__ is str else _map_key(value), missing)
                if result is missing:
                    if has_fallback:
                        result = fallback
                    else:
                        result = value if convert is None else convert(value)
                if result is None:
                    result = default
            if result is None and required:
                raise ValueError("required field is NULL after its value map")
            return result

        return run

    def _constant(self, value: Any, field_type: FieldType) -> Any:
        """A default or value-map entry (a JSON value) as a value of ``field_type``."""
        if value is None:
            return None
        if value.__class__ is float:
            value = Decimal(repr(value))
        constant_type = _CONSTANT_TYPES.get(value.__class__)
        if constant_type is None:
            raise ValueError(f"{value!r} is not a value a field can hold")
        convert = self._conversions.between(constant_type, field_type)
        try:
            return value if convert is None else convert(value)
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"{value!r} is not a valid {field_type} ({exc})") from None


class _Conversions:
    """Conversions between field types, for one source timezone."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._table: dict[tuple[FieldType, FieldType], Conversion] = {
            (FieldType.INTEGER, FieldType.TEXT): str,
            (FieldType.NUMERIC, FieldType.TEXT): _decimal_text,
            (FieldType.BOOLEAN, FieldType.TEXT): _boolean_text,
            (FieldType.DATE, FieldType.TEXT): date.isoformat,
            (FieldType.TIMESTAMP, FieldType.TEXT): datetime.isoformat,
            (FieldType.NUMERIC, FieldType.INTEGER): _decimal_integer,
            (FieldType.BOOLEAN, FieldType.INTEGER): int,
            (FieldType.TEXT, FieldType.INTEGER): _text_integer,
            (FieldType.INTEGER, FieldType.NUMERIC): Decimal,
            (FieldType.BOOLEAN, FieldType.NUMERIC): _boolean_decimal,
            (FieldType.TEXT, FieldType.NUMERIC): _text_decimal,
            (FieldType.INTEGER, FieldType.BOOLEAN): _number_boolean,
            (FieldType.NUMERIC, FieldType.BOOLEAN): _number_boolean,
            (FieldType.TEXT, FieldType.BOOLEAN): _text_boolean,
            (FieldType.TIMESTAMP, FieldType.DATE): self._timestamp_date,
            (FieldType.TEXT, FieldType.DATE): date.fromisoformat,
            (FieldType.DATE, FieldType.TIMESTAMP): self._date_timestamp,
            (FieldType.TEXT, FieldType.TIMESTAMP): self._text_timestamp,
            (FieldType.INTEGER, FieldType.TIMESTAMP): _epoch_timestamp,
            (FieldType.NUMERIC, FieldType.TIMESTAMP): _epoch_timestamp,
        }

    def between(self, source: FieldType, target: FieldType) -> Conversion | None:
        """``None`` when values are copied; ``ValueError`` when no conversion exists."""
        if source is target:
            return None
        conversion = self._table.get((source, target))
        if conversion is None:
            raise ValueError(f"a {source} value cannot become {target}")
        return conversion

    def _timestamp_date(self, value: datetime) -> date:
        # the date the source wrote, not the date in UTC
        return value.astimezone(self.zone).date()

    def _date_timestamp(self, value: date) -> datetime:
        return self._localize(datetime.combine(value, time()))

    def _text_timestamp(self, value: str) -> datetime:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo is not None else self._localize(moment)

    def _localize(self, wall: datetime) -> datetime:
        """Wall time in the source timezone; the same rule as normalize (and PostgreSQL):
        a repeated time is the later instant, a skipped one takes the offset before the
        jump."""
        first = self.zone.utcoffset(wall) or timedelta(0)
        second = self.zone.utcoffset(wall.replace(fold=1)) or timedelta(0)
        moment = wall.replace(tzinfo=timezone(min(first, second)))
        if first >= second:
            return moment
        moment = moment.astimezone(self.zone)
        return moment.replace(tzinfo=timezone(moment.utcoffset() or timedelta(0)))


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _boolean_text(value: bool) -> str:
    return "true" if value else "false"


def _bigint(value: int) -> int:
    if BIGINT_MIN <= value <= BIGINT_MAX:
        return value
    raise ValueError("out of range for integer (bigint)")


def _decimal_integer(value: Decimal) -> int:
    if value != value.to_integral_value():
        raise ValueError("not a whole number, so not an integer")
    if value.adjusted() > 19:
        raise ValueError("out of range for integer (bigint)")
    return _bigint(int(value))


def _text_integer(value: str) -> int:
    digits = value[1:] if value[:1] == "-" else value
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise ValueError("not an integer")
    return _bigint(int(value))


def _boolean_decimal(value: bool) -> Decimal:
    return Decimal(int(value))


def _text_decimal(value: str) -> Decimal:
    if value.strip("0123456789.+-eE"):
        raise ValueError("not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def _number_boolean(value: int | Decimal) -> bool:
    if value in (0, 1):
        return bool(value)
    raise ValueError("only 0 and 1 are booleans")


def _text_boolean(value: str) -> bool:
    word = value.lower()
    if word in ("true", "false"):
        return word == "true"
    raise ValueError("only true and false are booleans")


def _epoch_timestamp(value: int | Decimal) -> datetime:
    micros = int((Decimal(value) * 1_000_000).to_integral_value())
    return _EPOCH + timedelta(microseconds=micros)


def _map_key(value: Any) -> str:
    """A non-text value's text form, for value-map lookups (``1``, ``2.5``, ``true``)."""
    if value.__class__ is bool:
        return "true" if value else "false"
    if value.__class__ is Decimal:
        if value == value.to_integral_value():
            return str(int(value))
        return format(value, "f").rstrip("0")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) <= _SHOWN_CHARACTERS:
        return text
    return text[: _SHOWN_CHARACTERS - 3] + "..."
