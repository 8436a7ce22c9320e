"""Reading channel payloads field by field: each helper names the payload path it blames when it fails.

Shared by the marketplace connectors (Amazon, Walmart, WooCommerce). Money is read as Decimal from the
text the channel sent; a JSON number is taken from its decimal text too (connectors parse responses
with `parse_float=Decimal`), never through binary floating point.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

import pycountry

from ordermesh.channels.base import MappingError
from ordermesh.money import is_country, is_currency, minor_units


def loads(raw: bytes | str) -> Any:
    """Parse a channel's JSON, its non-integer numbers as Decimal."""
    return json.loads(raw, parse_float=Decimal)


def get(document: Any, path: str, *, base: str = "") -> Any:
    """The value at a dotted path (`payload.Orders.0.AmazonOrderId`); MappingError when it is absent.

    `base` is where `document` sits in the whole payload, to name the field at fault in full.
    """
    value = document
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value and value[part] is not None:
            value = value[part]
        else:
            raise MappingError(f"{base}.{path}" if base else path, "missing")
    return value


def mapping(value: Any, default: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else `default` (an empty one by default)."""
    return value if isinstance(value, Mapping) else ({} if default is None else default)


def text(value: Any, field: str, *, required: bool = True) -> str | None:
    """A non-empty string (numbers are accepted as ids); None for an absent optional value."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        if value is None and not required:
            return None
        raise MappingError(field, "missing" if value is None else "not a text value")
    result = str(value).strip()
    if not result:
        if required:
            raise MappingError(field, "empty")
        return None
    return result


def required_text(value: Any, field: str) -> str:
    result = text(value, field)
    assert result is not None  # text() raises for a missing required value
    return result


def amount(value: Any, field: str) -> Decimal:
    """A finite, non-negative amount of money from a string or a JSON number."""
    if isinstance(value, bool) or value is None:
        raise MappingError(field, "missing" if value is None else "not a number")
    if isinstance(value, float):
        value = repr(value)  # a payload parsed without parse_float: its shortest decimal text
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise MappingError(field, f"not a number: {value!r}") from None
    if not result.is_finite():
        raise MappingError(field, f"not a number: {value!r}")
    if result < 0:
        raise MappingError(field, "negative")
    return result


def quantity(value: Any, field: str) -> int:
    """A positive whole number of units, from an integer or its text."""
    if isinstance(value, bool):
        raise MappingError(field, "not a whole number")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise MappingError(field, f"not a whole number: {value!r}") from None
    if not result.is_finite() or result != result.to_integral_value():
        raise MappingError(field, f"not a whole number: {value!r}")
    if result <= 0:
        raise MappingError(field, "must be positive")
    return int(result)


def currency(value: Any, field: str) -> str:
    code = required_text(value, field).upper()
    if not is_currency(code):
        raise MappingError(field, f"unknown currency {code!r}")
    return code


def country(value: Any, field: str) -> str:
    """ISO 3166-1 alpha-2 from an alpha-2 or alpha-3 code (Walmart sends USA)."""
    code = required_text(value, field).upper()
    if len(code) == 3:
        found = pycountry.countries.get(alpha_3=code)
        if found is not None:
            return str(found.alpha_2)
    elif is_country(code):
        return code
    raise MappingError(field, f"unknown country {code!r}")


def utc_from_iso(value: Any, field: str) -> datetime:
    """An ISO-8601 time; one without an offset is read as UTC (WooCommerce's *_gmt fields)."""
    raw = required_text(value, field)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(field, f"not an ISO-8601 time: {raw!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def optional_utc_from_iso(value: Any, field: str) -> datetime | None:
    """utc_from_iso for a time the payload may leave out (None or empty)."""
    return None if value in (None, "") else utc_from_iso(value, field)


def utc_from_epoch_ms(value: Any, field: str) -> datetime:
    """A time given as milliseconds since the epoch (Walmart)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MappingError(field, "not epoch milliseconds")
    try:
        millis = int(value)
    except ValueError:
        raise MappingError(field, f"not epoch milliseconds: {value!r}") from None
    return datetime.fromtimestamp(millis / 1000, UTC)


def split_line_total(total: Decimal, count: int, currency_code: str, field: str) -> tuple[Decimal, Decimal]:
    """A line's total as (unit price, rounding discount), so that unit price x count - discount == total.

    Marketplaces give a line's price for the whole quantity; Ordermesh keeps a unit price in the
    currency's minor unit. When the total does not divide evenly, the unit price is rounded up and
    the difference is kept as a discount, so that the order's total stays the channel's.
    """
    step = Decimal(1).scaleb(-minor_units(currency_code))
    if total != total.quantize(step):
        raise MappingError(
            field, f"{currency_code} amounts have at most {minor_units(currency_code)} decimals"
        )
    unit = (total / count).quantize(step, rounding=ROUND_CEILING)
    return unit, unit * count - total


def in_minor_units(value: Decimal, currency_code: str, field: str) -> Decimal:
    """The amount, refused when it has more decimals than its currency allows."""
    step = Decimal(1).scaleb(-minor_units(currency_code))
    if value != value.quantize(step):
        raise MappingError(
            field, f"{currency_code} amounts have at most {minor_units(currency_code)} decimals"
        )
    return value.quantize(step)


_PLAIN = frozenset({str, int, float, bool, type(None)})  # JSON's own scalars, kept as they are


def jsonable(value: Any) -> Any:
    """The payload with its Decimal numbers made JSON numbers again, to be stored for audit.

    A float's shortest text is the decimal text the channel sent (for amounts of up to 15 digits), so
    the stored payload reads as it was received. (Every webhook's payload goes through here: the exact
    type checks first keep the walk short.)
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {key: item if type(item) in _PLAIN else jsonable(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [item if type(item) in _PLAIN else jsonable(item) for item in value]
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent  # a letter for NaN and infinities, which stay floats
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value
