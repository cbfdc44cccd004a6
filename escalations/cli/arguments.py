"""What every command's arguments share: the bad-value error and the argparse ``type``s.

An argparse ``type`` raises ``ArgumentTypeError``, which argparse prints with the flag's name
and exit code 2. :class:`ArgumentProblem` is for what only the command can judge once every
value is read; its message starts with the flag, and the command exits 2 with it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from policies.model import slug_problem


class ArgumentProblem(ValueError):
    """A command-line value the command cannot use; the message starts with the flag."""


def aware_datetime(text: str) -> datetime:
    """An ISO 8601 date and time that carries its timezone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date and time such as 2024-05-01T09:30:00Z"
        ) from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no timezone: add Z for UTC or an offset such as +02:00 "
            f"(for example {text}Z)"
        )
    return value


N = TypeVar("N", int, float)


def _above_zero(kind: Callable[[str], N], what: str) -> Callable[[str], N]:
    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} above zero") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} above zero")
        return value

    return parse


positive_int = _above_zero(int, "a whole number")
"""A whole number above zero (a count)."""
positive_number = _above_zero(float, "a number")
"""A number above zero (a rate)."""


def policy_name(text: str) -> str:
    """A policy's name: never a path."""
    problem = slug_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text
