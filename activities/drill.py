"""A drill: a notice marked ``[DRILL]`` to every point of contact of a policy, through the
senders real notices use, and a report of who was reached and who was not.

Each contact gets its own notice, so a provider's answer belongs to one contact: a SendGrid 400
names the address it refused, Slack's ``channel_not_found`` the channel. Transient failures
(5xx, network, a short rate limit) are retried a few times in place; a drill is run by a person
waiting at a terminal, not by a workflow that may retry for a day. Channels are sent as the
``test`` event (:mod:`activities.probes`): PagerDuty's alert is triggered at severity ``info``
and resolved at once with the same ``dedup_key``, so a drill leaves no incident open.

Outcomes: ``reached`` (the provider accepted it; its id is kept), ``rejected`` (the provider
refused it for good: its reason), ``unreachable`` (no success after the retries), and
``not_configured`` (no credentials: written to the outbox, which reaches nobody).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.channels.dispatch import ChannelActivities
from activities.drill_contacts import PointOfContact, points_of_contact
from activities.models import DeliveryResult, NotificationRequest
from activities.outbox import OutboxWriter
from activities.probes import DRILL_LEVEL, probe_notice, probe_request, render_drill_email
from activities.sendgrid_email import SendGridSender
from policies.model import Policy

DrillOutcome = Literal["reached", "rejected", "unreachable", "not_configured"]


class ContactResult(BaseModel):
    """What became of one point of contact's drill notice."""

    contact: str
    """The email address, or the channel's name in the policy."""
    kind: str
    """``email``, or the channel's kind (``slack``, ``pagerduty``, ``teams``, ``webhook``)."""
    roles: list[str]
    rotations: list[str] = []
    outcome: DrillOutcome
    provider: str | None = None
    provider_id: str | None = None
    """SendGrid's message id, Slack's ``ts``, PagerDuty's ``dedup_key``, the ``webhook-id``."""
    detail: str = ""
    """The provider's answer or reason; never a secret (the senders redact them)."""
    attempts: int = 1


class DrillReport(BaseModel):
    """The outcome of a drill, contact by contact."""

    drill_id: str
    policy: str
    policy_version: str
    team: str | None
    started_at: datetime
    contacts: list[ContactResult]
    notes: list[str] = []
    """What the drill could not test (the assignee role, roles without contacts)."""

    @property
    def not_reached(self) -> list[ContactResult]:
        """The contacts whose outcome is anything but ``reached``."""
        return [c for c in self.contacts if c.outcome != "reached"]

    @property
    def all_reached(self) -> bool:
        """Every contact was reached, and there was at least one to reach."""
        return bool(self.contacts) and not self.not_reached


@dataclass(frozen=True)
class DrillRetry:
    """How hard a drill tries one contact before calling it unreachable."""

    attempts: int = 3
    first_delay_seconds: float = 1.0
    """The wait after the first failure, doubled after each later one."""
    longest_wait_seconds: float = 30.0
    """A provider asking for a longer wait (a rate limit's reset) is not waited for."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a drill makes at least one attempt, not {self.attempts}")


class DrillMailer:
    """Sends a drill's emails through SendGrid, or writes them to the outbox without a key.

    Args:
        outbox: Where emails go when ``sendgrid`` is None.
        sendgrid: The live sender, or None when no API key is configured.
        sandbox: SendGrid's sandbox mode is on: accepted emails are validated, not delivered.
    """

    def __init__(
        self, outbox: OutboxWriter, sendgrid: SendGridSender | None, *, sandbox: bool = False
    ) -> None:
        self._outbox = outbox
        self._sendgrid = sendgrid
        self._sandbox = sandbox

    @property
    def sandbox(self) -> bool:
        """Whether SendGrid only validates what it accepts."""
        return self._sendgrid is not None and self._sandbox

    def deliver(self, request: NotificationRequest) -> DeliveryResult:
        """Send the drill email, or write it to the outbox.

        Raises:
            ApplicationError: as ``SendGridSender.post`` or ``OutboxWriter.write_file``.
        """
        rendered = render_drill_email(request)
        content = [
            {"type": "text/plain", "value": rendered.text},
            {"type": "text/html", "value": rendered.html},
        ]
        if self._sendgrid is not None:
            body = self._sendgrid.build_body(request)
            return self._sendgrid.post({**body, "subject": rendered.subject, "content": content})
        message = self._outbox.build_message(request)
        message.replace_header("Subject", rendered.subject)
        message.clear_content()
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        path = self._outbox.path_for(request.idempotency_key)
        self._outbox.write_file(path, message.as_bytes())
        return DeliveryResult(
            status="written",
            provider="outbox",
            message_id=str(message["Message-ID"]),
            detail=f"written to {path} (no SendGrid API key is configured)",
        )


class Drill:
    """Runs drills through the worker's own senders.

    Args:
        mailer: Sends the emails.
        channels: Sends through Slack, PagerDuty, Teams and webhooks (or their outbox).
        retry: How hard to try each contact.
        sleep: Waits between attempts; tests pass their own.
        clock: The current time (aware).
    """

    def __init__(
        self,
        mailer: DrillMailer,
        channels: ChannelActivities,
        *,
        retry: DrillRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._mailer = mailer
        self._channels = channels
        self._retry = retry or DrillRetry()
        self._sleep = sleep
        self._clock = clock

    def run(self, policy: Policy, team: str | None) -> DrillReport:
        """Send one drill notice to each point of contact of ``policy`` (with ``team``'s
        overrides when given), one after another, and report each outcome."""
        now = self._clock().replace(microsecond=0)
        drill_id = uuid.uuid4().hex[:12]
        contacts, notes = points_of_contact(policy, team, now)
        results = [
            self._drill_one(policy, team, point, f"drill-{drill_id}-{i}", now)
            for i, point in enumerate(contacts, 1)
        ]
        return DrillReport(
            drill_id=drill_id,
            policy=policy.name,
            policy_version=policy.version,
            team=team,
            started_at=now,
            contacts=results,
            notes=notes,
        )

    def _drill_one(
        self, policy: Policy, team: str | None, point: PointOfContact, key: str, now: datetime
    ) -> ContactResult:
        channel = policy.channels.get(point.contact)
        request = _request(policy, team, point, key, now)
        if channel is None:
            kind = "email"

            def send() -> DeliveryResult:
                return self._mailer.deliver(request)
        else:
            kind = channel.kind
            notice = probe_notice(point.contact, channel, request)

            def send() -> DeliveryResult:
                return self._channels.deliver(notice, None)

        base = ContactResult(
            contact=point.contact,
            kind=kind,
            roles=point.roles,
            rotations=point.rotations,
            outcome="unreachable",
        )
        result = self._with_retries(send, base)
        if kind == "pagerduty" and result.outcome not in ("reached", "not_configured"):
            # The trigger may have been accepted before the resolve failed.
            result.detail += f"; if an alert with dedup_key {key} is open, resolve it by hand"
        return result

    def _with_retries(
        self, send: Callable[[], DeliveryResult], base: ContactResult
    ) -> ContactResult:
        delay = self._retry.first_delay_seconds
        for attempt in range(1, self._retry.attempts + 1):
            try:
                delivered = send()
            except ApplicationError as err:
                if err.non_retryable:
                    return base.model_copy(
                        update={"outcome": "rejected", "detail": err.message, "attempts": attempt}
                    )
                if err.type == errors.SECRET_UNAVAILABLE:
                    return base.model_copy(
                        update={"outcome": "not_configured", "detail": err.message}
                    )
                wait = err.next_retry_delay.total_seconds() if err.next_retry_delay else delay
                if wait > self._retry.longest_wait_seconds:
                    detail = f"{err.message} (not waited for: run the drill again later)"
                    return base.model_copy(update={"detail": detail, "attempts": attempt})
                if attempt == self._retry.attempts:
                    detail = f"{err.message} (gave up after {attempt} attempts)"
                    return base.model_copy(update={"detail": detail, "attempts": attempt})
                self._sleep(wait)
                delay *= 2
            else:
                return _delivered(base, delivered, attempt, sandbox=self._mailer.sandbox)
        raise AssertionError("unreachable: the loop returns on its last attempt")


def _delivered(
    base: ContactResult, result: DeliveryResult, attempts: int, *, sandbox: bool
) -> ContactResult:
    outcome: DrillOutcome = "reached"
    detail = result.detail or ""
    if result.status != "sent":
        # Written to the outbox (no credentials), or nothing sent at all: nobody was told.
        outcome = "not_configured"
    elif result.provider == "sendgrid" and sandbox:
        outcome = "not_configured"
    elif result.provider == "pagerduty":
        detail += "; resolved at once with the same dedup_key"
    return base.model_copy(
        update={
            "outcome": outcome,
            "provider": result.provider,
            # An outbox file's id is a stand-in, not a provider's.
            "provider_id": result.message_id if outcome == "reached" else None,
            "detail": detail,
            "attempts": attempts,
        }
    )


def _request(
    policy: Policy, team: str | None, point: PointOfContact, key: str, now: datetime
) -> NotificationRequest:
    roles = f"role{'s' if len(point.roles) > 1 else ''} {', '.join(point.roles)}"
    via = f" (through rotation {', '.join(point.rotations)})" if point.rotations else ""
    scope = f"team {team}" if team is not None else "all teams"
    return probe_request(
        policy,
        key=key,
        channel="email" if point.contact not in policy.channels else point.contact,
        recipients=[point.contact],
        level=DRILL_LEVEL,
        reason=(
            f"This is a drill of the escalation contacts of policy {policy.name} (version "
            f"{policy.version}) for {scope}: you are listed for {roles}{via}. No action is "
            "needed beyond confirming receipt to whoever runs the drill."
        ),
        ticket_id=f"DRILL-{key.removeprefix('drill-')}",
        title=f"Policy {policy.name}, {roles}, {scope}: please confirm receipt",
        # The least urgent priority: a drill must not look like a P1 to anyone skimming it.
        priority=list(policy.targets)[-1],
        team=team or "policy-wide",
        requester="escalations drill",
        now=now,
    )
