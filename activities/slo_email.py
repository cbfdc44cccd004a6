"""Emails that are not ticket notices: error-budget alerts and the weekly SLO report.

A ticket notice (``send_notification``) is rendered from a ticket snapshot: requester,
customer, affected users. An SLO alert concerns no ticket, and the weekly report is a whole
HTML page, so both arrive here already written (:class:`PreparedEmail`) and go out through the
same transports: SendGrid, with its error mapping and the delivery ledger, or the ``.eml``
outbox. The ticket notice path is untouched.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from activities.delivery_ledger import DeliveryLedger, send_once
from activities.email_content import clean_field, format_moment
from activities.models import DeliveryResult
from activities.outbox import FILE_POLICY, OutboxWriter, message_id_for
from activities.sendgrid_email import DEFAULT_HOST, SendGridSender
from activities.slo_models import AlertNotice, WindowFigures
from policies.durations import format_duration
from policies.emails import unique_ignoring_case

_MAX_KEY = 1000


@dataclass(frozen=True)
class PreparedEmail:
    """An email ready to send. ``idempotency_key`` is the same on every retry."""

    idempotency_key: str
    recipients: list[str]
    subject: str
    text: str
    html: str
    category: str


class PreparedEmailSender(Protocol):
    """Anything that can deliver a :class:`PreparedEmail`."""

    def deliver_prepared(self, email: PreparedEmail) -> DeliveryResult:
        """Deliver it, or raise ``ApplicationError`` saying whether to retry."""
        ...


class SendGridPreparedSender(SendGridSender):
    """``SendGridSender`` for prepared emails: the same client, timeout and error mapping."""

    def __init__(self, *args: Any, ledger: DeliveryLedger | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledger = ledger

    def prepared_body(self, email: PreparedEmail) -> dict[str, Any]:
        """The ``mail/send`` body: one personalization per recipient, as for notices."""
        recipients = unique_ignoring_case(email.recipients)
        return {
            "personalizations": [{"to": [{"email": address}]} for address in recipients],
            "from": {"email": self._from_address},
            "subject": clean_field(email.subject, 200),
            "content": [
                {"type": "text/plain", "value": email.text},
                {"type": "text/html", "value": email.html},
            ],
            "custom_args": {"idempotency_key": clean_field(email.idempotency_key, _MAX_KEY)},
            "categories": [email.category],
        }

    def deliver_prepared(self, email: PreparedEmail) -> DeliveryResult:
        """Post it to SendGrid unless the ledger says an earlier attempt was accepted."""
        body = self.prepared_body(email)
        if self._ledger is None:
            return self.post(body)
        return send_once(self._ledger, email.idempotency_key, lambda: self.post(body))


class OutboxPreparedWriter(OutboxWriter):
    """``OutboxWriter`` for prepared emails: one ``.eml`` file per idempotency key."""

    def deliver_prepared(self, email: PreparedEmail) -> DeliveryResult:
        """Write the email unless its file already exists (a retry)."""
        path = self.path_for(email.idempotency_key)
        message_id = message_id_for(email.idempotency_key, self._from_address)
        if path.exists():
            return DeliveryResult(
                status="written", provider="outbox", message_id=message_id, detail=f"{path}"
            )
        message = EmailMessage(policy=FILE_POLICY)
        message["From"] = self._from_address
        message["To"] = ", ".join(email.recipients)
        message["Subject"] = clean_field(email.subject, 200)
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id
        message["X-Escalation-Key"] = clean_field(email.idempotency_key, 500)
        message["X-Escalation-Category"] = clean_field(email.category, 100)
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        self.write_file(path, message.as_bytes())
        return DeliveryResult(
            status="written", provider="outbox", message_id=message_id, detail=f"{path}"
        )


def build_prepared_sender(
    api_key: str | None,
    sendgrid_host: str | None,
    from_address: str,
    outbox_dir: Path,
    delivery_ledger: Path | None = None,
    *,
    sandbox: bool = False,
) -> PreparedEmailSender:
    """SendGrid when an API key is set, else the outbox: the worker's choice for notices."""
    key = (api_key or "").strip()
    if key:
        ledger = DeliveryLedger(delivery_ledger) if delivery_ledger is not None else None
        return SendGridPreparedSender(
            key, from_address, host=sendgrid_host or DEFAULT_HOST, ledger=ledger, sandbox=sandbox
        )
    return OutboxPreparedWriter(outbox_dir, from_address)


# -- what an alert says ------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "n/a (no events)" if value is None else f"{value * 100:.1f}%"


def _window_line(name: str, figures: WindowFigures) -> str:
    return (
        f"{name} window {format_duration(figures.window)}: burn rate {figures.burn_rate:.1f}x "
        f"({figures.bad} missed of {figures.good + figures.bad})"
    )


def alert_email(notice: AlertNotice) -> PreparedEmail:
    """The alert (or recovery notice) of one episode, as text and HTML."""
    status = notice.status
    what = f"{status.objective:g}% of {status.priority} {status.clock.replace('_', ' ')} on time"
    if notice.kind == "burning":
        subject = (
            f"[SLO] {notice.policy} {status.key}: error budget burning "
            f"{status.long.burn_rate:.1f}x (alert at {status.threshold:g}x)"
        )
        lead = (
            f"The error budget of the objective '{what}' (policy {notice.policy}) is burning "
            f"{status.long.burn_rate:.1f} times faster than the rate that would spend it "
            f"exactly over {format_duration(status.window)}."
        )
        tail = (
            "You get this once per episode: no further alert while it keeps burning. A "
            "recovery notice follows when it stops."
        )
    else:
        subject = f"[SLO] {notice.policy} {status.key}: recovered"
        lead = (
            f"The error budget of the objective '{what}' (policy {notice.policy}) no longer "
            f"burns too fast. The episode opened at {format_moment(notice.opened_at)}."
        )
        tail = "The next alert for this objective opens a new episode."
    lines = [
        lead,
        "",
        _window_line("Long", status.long),
        _window_line("Short", status.short),
        f"Attainment over {format_duration(status.window)}: {_percent(status.attainment)} "
        f"({status.bad} missed of {status.events}); objective {status.objective:g}%",
        f"Error budget left: {_percent(status.budget_left)}",
        f"Policy: {notice.policy} (version {notice.policy_version})",
        "",
        tail,
        "Tickets that breached: Temporal Web UI, filter "
        f"Policy = '{notice.policy}' AND Priority = '{status.priority}' AND "
        f"BreachedClocks = '{status.clock}'",
    ]
    text = "\n".join(clean_field(line) if line else "" for line in lines) + "\n"
    paragraphs = "\n".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        f"{html.escape(subject)}</title></head><body>\n<h1>{html.escape(subject)}</h1>\n"
        f"{paragraphs}\n</body></html>\n"
    )
    return PreparedEmail(
        idempotency_key=notice.idempotency_key,
        recipients=list(notice.recipients),
        subject=subject,
        text=text,
        html=page,
        category=f"slo-{notice.kind}",
    )
