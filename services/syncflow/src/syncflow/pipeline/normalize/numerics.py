"""Numerics layer: numbers as people and reports write them, read exactly (never as float).

Accepted: plain numbers and exponents (``-12.5``, ``1e3``); thousands separators
(``10,000``, ``1.234.567,89``, ``1 000``, ``1'000``); currency symbols before or after
(``$1,000.50``, ``1.000,50 €``); accounting negatives ``(100)`` and trailing minus
``100-``; a percent sign divides by 100 (``12.5%`` is ``0.125``); a lone dash is NULL.
Which mark is the decimal point follows :class:`NormalizationOptions.decimal_comma`
unless the text holds both ``.`` and ``,`` (then the last one is). Thousands groups
must be groups of three, so ``12,5`` is refused rather than guessed when ``,`` groups.
"""

from decimal import Decimal, InvalidOperation

# text made only of these is tried as a plain Decimal first (the common, fast case)
_PLAIN_WITH_POINT = "0123456789.+-eE"
_PLAIN_WITHOUT_POINT = "0123456789+-eE"
_PLACEHOLDERS = frozenset({"-", "\u2212", "\u2013", "\u2014"})
_MINUS_SIGNS = "-\u2212"
_CURRENCY_SYMBOLS = "$\u20ac\u00a3\u00a5"
# signs, currency symbols and the spaces around them, peeled off both ends
_AFFIXES = "+" + _MINUS_SIGNS + _CURRENCY_SYMBOLS + " \u00a0\u202f"
# thousands separators that are never a decimal mark: spaces and (Swiss) apostrophes
_SPACE_GROUPING = " \u00a0\u202f'\u2019"
_GROUPING = ".," + _SPACE_GROUPING
_DIGITS = "0123456789"

# PostgreSQL numeric: up to 131072 digits before the point and 16383 after it
_MAX_ADJUSTED_EXPONENT = 131071
_MIN_EXPONENT = -16383
_SHORT_TEXT = 1000
# the widest whole number an ERP integer column holds (Oracle NUMBER(38))
INTEGER_DIGITS = 38
_INTEGER_LIMIT = 10**INTEGER_DIGITS


def parse_number(text: str, *, decimal_comma: bool = False) -> Decimal | None:
    """The exact number ``text`` writes; ``None`` for a lone dash; ``ValueError`` saying
    why otherwise. ``text`` is already cleaned by the strings layer."""
    if not text.strip(_PLAIN_WITHOUT_POINT if decimal_comma else _PLAIN_WITH_POINT):
        try:
            number = Decimal(text)
        except InvalidOperation:
            pass
        else:
            # short text without an exponent is always within the limits
            if len(text) <= _SHORT_TEXT and "e" not in text and "E" not in text:
                return number
            return within_numeric_limits(number)
    if text in _PLACEHOLDERS:
        return None
    return within_numeric_limits(_parse_formatted(text, decimal_comma))


def parse_integer(text: str, *, decimal_comma: bool = False) -> int | None:
    """The whole number ``text`` writes (``"1e3"`` and ``"1,000.00"`` are 1000)."""
    if text.isascii() and text.isdigit():
        if len(text) > INTEGER_DIGITS and len(text.lstrip("0")) > INTEGER_DIGITS:
            raise ValueError(f"wider than {INTEGER_DIGITS} digits")
        return int(text)
    number = parse_number(text, decimal_comma=decimal_comma)
    return None if number is None else integral(number)


def integral(number: Decimal) -> int:
    """``number`` as an int when it is whole (and not wider than 38 digits)."""
    if not number.is_finite():
        raise ValueError("not a finite number")
    if number.adjusted() >= INTEGER_DIGITS:
        raise ValueError(f"wider than {INTEGER_DIGITS} digits")
    if number != number.to_integral_value():
        raise ValueError("not a whole number")
    return int(number)


def integer_decimal(value: int) -> Decimal:
    """An int as a Decimal, when PostgreSQL ``numeric`` can hold it."""
    number = Decimal(value)
    if number.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise ValueError("too large for numeric")
    return number


def within_numeric_limits(number: Decimal) -> Decimal:
    """``number`` when PostgreSQL ``numeric`` can hold it."""
    if not number.is_finite():
        raise ValueError("not a finite number")
    if number.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise ValueError("too large for numeric")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < _MIN_EXPONENT:
        raise ValueError("too many decimal places for numeric")
    return number


def _parse_formatted(text: str, decimal_comma: bool) -> Decimal:
    body = text
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative = True
        body = body[1:-1]
    percent = body.endswith("%")
    if percent:
        body = body[:-1]
    start, end = 0, len(body)
    signs = int(negative)
    while start < end and body[start] in _AFFIXES:
        if body[start] in _MINUS_SIGNS or body[start] == "+":
            signs += 1
            negative = negative or body[start] != "+"
        start += 1
    while end > start and body[end - 1] in _AFFIXES:
        if body[end - 1] in _MINUS_SIGNS or body[end - 1] == "+":
            signs += 1
            negative = negative or body[end - 1] != "+"
        end -= 1
    if signs > 1:
        raise ValueError("more than one sign")
    core = body[start:end]
    if not core:
        raise ValueError("no digits")
    if ("e" in core or "E" in core) and not core.strip(_PLAIN_WITH_POINT):
        try:
            number = Decimal(core)
        except InvalidOperation:
            raise ValueError("malformed exponent") from None
    else:
        number = _grouped_form(core, decimal_comma)
    if negative:
        number = -number
    return number.scaleb(-2) if percent else number


def _grouped_form(core: str, decimal_comma: bool) -> Decimal:
    point, comma = "." in core, "," in core
    if point and comma:
        decimal_mark: str | None = "." if core.rfind(".") > core.rfind(",") else ","
    elif comma:
        decimal_mark = "," if decimal_comma else None
    elif point:
        decimal_mark = None if decimal_comma else "."
    else:
        decimal_mark = None
    if decimal_mark is None:
        whole, fraction = core, ""
    else:
        whole, _, fraction = core.partition(decimal_mark)
        if fraction and not (fraction.isascii() and fraction.isdigit()):
            raise ValueError(f"unexpected {_first_odd(fraction)!r} after the decimal mark")
    if not (whole.isascii() and whole.isdigit()):
        whole = _ungrouped(whole)
    if not whole and not fraction:
        raise ValueError("no digits")
    return Decimal(f"{whole or '0'}.{fraction}" if decimal_mark else whole)


def _ungrouped(whole: str) -> str:
    """The digits of a whole part written with thousands separators."""
    marks = {c for c in whole if c not in _DIGITS}
    if not marks:
        return whole
    odd = next((c for c in whole if c not in _DIGITS and c not in _GROUPING), None)
    if odd is not None:
        raise ValueError(f"unexpected {odd!r}")
    if len(marks) > 1:
        raise ValueError(f"mixed thousands separators {''.join(sorted(marks))!r}")
    mark = marks.pop()
    groups = whole.split(mark)
    if not 1 <= len(groups[0]) <= 3 or any(len(group) != 3 for group in groups[1:]):
        raise ValueError(f"{mark!r} is a thousands separator here and must group by three")
    return "".join(groups)


def _first_odd(text: str) -> str:
    return next((c for c in text if c not in _DIGITS), text[:1])
