"""Comparing a signature received in a header with the one expected, whatever the header holds."""

from __future__ import annotations

import hmac


def same_signature(expected: str, given: str | None) -> bool:
    """True when `given` is `expected`, compared in constant time.

    Compares bytes: `hmac.compare_digest` refuses str holding anything but ASCII, and a header may hold
    any Latin-1 character; such a header is simply a wrong signature.
    """
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))
