"""Every timeout and retry policy the workflow uses, in one place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities import errors

LOAD_POLICY_TIMEOUT = timedelta(seconds=30)
LOAD_POLICY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
    non_retryable_error_types=[errors.POLICY_NOT_FOUND, errors.POLICY_INVALID],
)

# One attempt at SendGrid: the client's own timeout is 10 s, so 15 s leaves room for a slow
# TLS handshake. It is also how long a notice whose worker died mid-send waits to be retried.
NOTIFY_ATTEMPT_TIMEOUT = timedelta(seconds=15)
# How long a notice keeps retrying through a SendGrid outage before it is recorded as failed.
# A day covers the longest outages SendGrid has had; an escalation that arrives late beats one
# that never arrives.
NOTIFY_GIVE_UP_AFTER = timedelta(hours=24)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[errors.SENDGRID_REJECTED],
)

# Slack, PagerDuty, Teams and webhooks: the same schedule as email. Rate limits are retried
# after the provider's Retry-After (the activity sets next_retry_delay); rejections end it.
CHANNEL_NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[errors.CHANNEL_REJECTED],
)

# Updates may carry the true time of an event reported late. Allow a little clock skew between
# the caller and the worker before calling a time "in the future".
FUTURE_SKEW = timedelta(minutes=1)

# Continue-as-new before the history grows large even if the server has not suggested it yet.
MAX_HISTORY_EVENTS = 10_000

# How far back a ticket's ``opened_at`` may lie: imports of older tickets are refused at open,
# so no clock ever asks a calendar about centuries (a typo such as year 0206 would otherwise
# make every later workflow task of the ticket fail).
MAX_BACKDATE = timedelta(days=5 * 366)

# Escalation records one ticket keeps (about 0.4-0.8 KB each in its status and state). Each
# customer message after a reply starts a next-reply cycle whose levels fire afresh, so a
# caller alone could grow a ticket past Temporal's 2 MB payload limit, where its status and
# continue-as-new input no longer fit; past this many, customer_replied is refused instead.
MAX_ESCALATION_RECORDS = 400
