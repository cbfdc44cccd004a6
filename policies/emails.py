"""Email addresses as a validated type.

Deliberately stricter than RFC 5322: one address, no display name, no whitespace or control
characters. That makes header injection through a ticket's requester or a policy's contacts
impossible, and needs no DNS or extra package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator

# \Z, not $: "$" also matches before a trailing newline, a header injection's first step.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\Z"
)
MAX_ADDRESS_LENGTH = 254


def _address(value: str) -> str:
    if len(value) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"an email address has at most {MAX_ADDRESS_LENGTH} characters")
    if not _ADDRESS.match(value) or ".." in value.split("@", 1)[1]:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise ValueError(f"{shown!r} is not an email address such as lead@example.com")
    return value


EmailAddress = Annotated[str, AfterValidator(_address)]
"""A single plain email address (``name@example.com``)."""


def is_email_address(value: str) -> bool:
    """Whether ``value`` is an address :data:`EmailAddress` accepts."""
    try:
        _address(value)
    except ValueError:
        return False
    return True


def unique_ignoring_case(values: Iterable[str]) -> list[str]:
    """``values`` in order without repeats, compared ignoring case (as email addresses, tags
    and plan values are); the first spelling is kept."""
    seen: set[str] = set()
    kept = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept
