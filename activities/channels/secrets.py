"""Reading a channel's secrets where the policy says they are: an environment variable or a
file. Only the worker does this, when it sends; the values never enter a workflow's history,
an activity's result, a log line or an error message (:func:`redact`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from policies.channels import SecretRef

MAX_SECRET_BYTES = 8192
"""A secret file larger than this is a mistake (a certificate bundle, a log), not a secret."""


class SecretUnavailable(Exception):
    """A secret the policy names is unset, empty or unreadable; the message says which."""


class SecretSource:
    """Resolves :class:`SecretRef` from an environment (``os.environ`` unless given) and files.

    Args:
        environ: Where ``*_env`` names are looked up; tests pass their own mapping.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, ref: SecretRef) -> str:
        """The secret's value, stripped of surrounding whitespace.

        Raises:
            SecretUnavailable: unset, empty, unreadable or oversized.
        """
        if ref.env is not None:
            value = self._environ.get(ref.env, "").strip()
            if not value:
                raise SecretUnavailable(f"${ref.env} is not set")
            return value
        path = Path(ref.file or "")
        try:
            with path.open("rb") as stream:
                raw = stream.read(MAX_SECRET_BYTES + 1)
        except OSError as err:
            raise SecretUnavailable(
                f"secret file {path} cannot be read: {err.strerror or err}"
            ) from None
        if len(raw) > MAX_SECRET_BYTES:
            raise SecretUnavailable(f"secret file {path} is over {MAX_SECRET_BYTES} bytes")
        value = raw.decode("utf-8", "replace").strip()
        if not value:
            raise SecretUnavailable(f"secret file {path} is empty")
        return value

    def available(self, refs: Iterable[SecretRef]) -> str | None:
        """None when every secret resolves, else why the first does not."""
        for ref in refs:
            try:
                self.get(ref)
            except SecretUnavailable as err:
                return str(err)
        return None


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``[redacted]`` (longest first, so a secret that
    contains another is hidden whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text
