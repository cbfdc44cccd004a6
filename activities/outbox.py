"""The outbox: notices written as ``.eml`` files instead of sent, when no SendGrid key is set.

This is how the service runs on a laptop or in CI. Each notice becomes one file that any mail
client opens; the file name comes from the notice's idempotency key, so a retried activity
finds its earlier file and does not write a second one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities import errors
from activities.email_content import clean_field, render_email
from activities.models import DeliveryResult, NotificationRequest

# Header lines up to RFC 5322's hard limit rather than the advised 78: a long key has no space
# to fold at, and Python's parser reads such a folded value back with a leading space.
FILE_POLICY = policy.default.clone(max_line_length=998)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_NAME_STEM = 80
_MAX_HEADER_VALUE = 500


def _digest(key: str) -> str:
    # surrogatepass: a lone surrogate in a key must still name a file, not fail every retry.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def outbox_file_name(idempotency_key: str) -> str:
    """The file name for a notice: a readable, filesystem-safe stem plus a short hash.

    The stem keeps only letters, digits, ``-`` and ``_`` (no dots, so no ``..`` or hidden
    files); the hash keeps two keys that sanitize to the same stem apart.
    """
    stem = _UNSAFE_NAME.sub("-", idempotency_key).strip("-")[:_MAX_NAME_STEM] or "notice"
    return f"{stem}-{_digest(idempotency_key)[:16]}.eml"


def message_id_for(idempotency_key: str, from_address: str) -> str:
    """A Message-ID that is the same for every retry of a notice, so duplicates thread as one."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{_digest(idempotency_key)[:32]}.escalation@{domain}>"


class OutboxWriter:
    """Writes notices as ``.eml`` files (text with an HTML alternative) into one directory.

    Args:
        directory: Where the files go; created on first write if missing.
        from_address: The ``From`` of every notice.
    """

    def __init__(self, directory: Path, from_address: str) -> None:
        self._directory = Path(directory)
        self._from_address = from_address

    @property
    def directory(self) -> Path:
        """The directory the files are written to."""
        return self._directory

    def path_for(self, idempotency_key: str) -> Path:
        """Where the notice with this idempotency key is (or will be) written."""
        return self._directory / outbox_file_name(idempotency_key)

    def build_message(self, request: NotificationRequest) -> EmailMessage:
        """The email for a notice, with the escalation headers a reader or script can filter on."""
        rendered = render_email(request)
        message = EmailMessage(policy=FILE_POLICY)
        message["From"] = self._from_address
        message["To"] = ", ".join(request.recipients)
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id_for(request.idempotency_key, self._from_address)
        message["X-Escalation-Key"] = clean_field(request.idempotency_key, _MAX_HEADER_VALUE)
        message["X-Ticket-Id"] = clean_field(request.ticket.ticket_id, _MAX_HEADER_VALUE)
        message["X-Escalation-Level"] = clean_field(request.level, _MAX_HEADER_VALUE)
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    def deliver(self, request: NotificationRequest) -> DeliveryResult:
        """Write the notice unless a file for its idempotency key already exists.

        Raises:
            ApplicationError: retryable, type ``OutboxWriteFailed``, when the file system
                refuses the write (full disk, permissions).
        """
        path = self.path_for(request.idempotency_key)
        message_id = message_id_for(request.idempotency_key, self._from_address)
        if path.exists():
            return DeliveryResult(
                status="written",
                provider="outbox",
                message_id=message_id,
                detail=f"already written to {path}",
            )
        self.write_file(path, self.build_message(request).as_bytes())
        return DeliveryResult(
            status="written", provider="outbox", message_id=message_id, detail=f"written to {path}"
        )

    def write_file(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` atomically.

        Raises:
            ApplicationError: ``OutboxWriteFailed`` (retryable: a full disk may be freed).
        """
        try:
            self._write_atomically(path, data)
        except OSError as err:
            raise ApplicationError(
                f"could not write outbox file {path}: {err.strerror or err}",
                type=errors.OUTBOX_WRITE_FAILED,
            ) from None

    def _write_atomically(self, path: Path, data: bytes) -> None:
        # A reader (or a crash) must never see half a file: write a hidden temporary file in
        # the same directory, flush it to disk, then rename it into place in one step.
        self._directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self._directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
