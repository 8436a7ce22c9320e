"""GTIN barcodes (GTIN-8, UPC-A/GTIN-12, EAN-13/GTIN-13, GTIN-14): format and check digit. Pure."""

from __future__ import annotations

GTIN_LENGTHS = frozenset({8, 12, 13, 14})


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit for the digits before it: weights 3, 1, 3, ... from the right."""
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_problem(code: str) -> str | None:
    """Why `code` is not a valid GTIN, or None when it is."""
    if not code.isascii() or not code.isdigit():
        return "a GTIN has digits only"
    if len(code) not in GTIN_LENGTHS:
        return f"a GTIN has 8, 12, 13 or 14 digits, not {len(code)}"
    expected = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected:
        return f"check digit is {code[-1]}, expected {expected}"
    return None


def is_valid_gtin(code: str) -> bool:
    return gtin_problem(code) is None
