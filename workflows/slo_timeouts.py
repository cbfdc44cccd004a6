"""Every timeout and retry policy of the SLO workflows, in one place (as ``timeouts`` is for
``TicketEscalation``)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities import errors

# Reading visibility: one list request per 1,000 tickets; 28 days of a busy helpdesk is a few
# dozen pages. The monitor runs every 5 minutes, so a run that cannot finish within a few
# minutes is better abandoned for the next one than retried past it.
EVALUATE_TIMEOUT = timedelta(minutes=2)
EVALUATE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=4,
    non_retryable_error_types=[errors.POLICY_NOT_FOUND, errors.POLICY_INVALID],
)

# Starting or signalling an alert episode: one RPC each.
EPISODE_RPC_TIMEOUT = timedelta(seconds=30)
EPISODE_RPC_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)

# Alert emails retry through a SendGrid outage like ticket notices do: late beats never.
EMAIL_ATTEMPT_TIMEOUT = timedelta(seconds=15)
ALERT_GIVE_UP_AFTER = timedelta(hours=24)
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[
        errors.SENDGRID_REJECTED,
        errors.NO_RECIPIENTS,
        errors.POLICY_NOT_FOUND,
        errors.POLICY_INVALID,
    ],
)

# The weekly report reads a week of tickets and renders them before it sends.
REPORT_ATTEMPT_TIMEOUT = timedelta(minutes=5)
REPORT_GIVE_UP_AFTER = timedelta(hours=12)

# An episode's history grows by one signal per monitor run (288 a day); continue as new well
# before it is large.
EPISODE_MAX_HISTORY_EVENTS = 5_000
