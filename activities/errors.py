"""The error types activities raise (``ApplicationError.type``): the contract with the
workflows' retry policies.

Each name lives here once. Activities raise with these constants, and every
``non_retryable_error_types`` list (``workflows/timeouts.py``, ``workflows/slo_timeouts.py``) is
built from them, so renaming one cannot silently turn a permanent failure into one retried for a
day (``tests/activities/test_error_types.py`` checks both sides).
"""

from __future__ import annotations

POLICY_NOT_FOUND = "PolicyNotFound"
"""No policy file of that name: retrying cannot help until someone deploys it."""
POLICY_INVALID = "PolicyInvalid"
"""The policy file exists but does not validate."""
SENDGRID_REJECTED = "SendGridRejected"
"""SendGrid refused the message for good (400, 401, 403, 413): a bad address or key."""
SENDGRID_UNREACHABLE = "SendGridUnreachable"
"""No answer from SendGrid (network): retried with backoff."""
SENDGRID_RATE_LIMITED = "SendGridRateLimited"
"""SendGrid answered 429: retried after its reset time."""
SENDGRID_UNAVAILABLE = "SendGridUnavailable"
"""SendGrid answered 5xx: retried with backoff."""
OUTBOX_WRITE_FAILED = "OutboxWriteFailed"
"""The local outbox could not be written (disk full, permissions): retried."""
INVALID_RECIPIENT = "InvalidRecipient"
"""A recipient address that no provider would accept."""
CHANNEL_REJECTED = "ChannelRejected"
"""Slack, PagerDuty, Teams or a webhook receiver refused the notice for good (a bad token,
an unknown channel, an invalid event): recorded as failed, not retried."""
CHANNEL_RATE_LIMITED = "ChannelRateLimited"
"""The provider answered 429: retried after its ``Retry-After``."""
CHANNEL_UNAVAILABLE = "ChannelUnavailable"
"""The provider answered 5xx (or an error it documents as temporary): retried with backoff."""
CHANNEL_UNREACHABLE = "ChannelUnreachable"
"""No answer from the provider (network, timeout): retried with backoff."""
SECRET_UNAVAILABLE = "SecretUnavailable"
"""A channel's secret vanished between the check and the send: retried (it may be restored)."""
NO_RECIPIENTS = "NoRecipients"
"""An SLO email whose roles resolve to nobody."""

PERMANENT = frozenset(
    {POLICY_NOT_FOUND, POLICY_INVALID, SENDGRID_REJECTED, CHANNEL_REJECTED, NO_RECIPIENTS}
)
"""The types no retry can fix; the rest are transient."""
