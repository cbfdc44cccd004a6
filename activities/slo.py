"""The SLO monitor's I/O: reading outcomes from visibility, opening and closing alert episodes
through the Temporal client, sending alert emails and the weekly report.

The workflows (``SloMonitor``, ``SloBudgetAlert``, ``WeeklySloReport``) stay deterministic: the
policy file, the outcomes and every email go through these activities and are recorded in
their histories.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from temporalio import activity
from temporalio.api.workflowservice.v1 import SignalWithStartWorkflowExecutionResponse
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities import errors
from activities.models import DeliveryResult
from activities.slo_email import PreparedEmail, PreparedEmailSender, alert_email
from activities.slo_models import (
    ALERT_WORKFLOW,
    AlertNotice,
    BurningSignal,
    CloseAlertRequest,
    EvaluateSloRequest,
    ObjectiveStatus,
    OpenAlertRequest,
    OpenAlertResult,
    RecoveredSignal,
    SloEvaluation,
    WeeklyReportRequest,
    WeeklyReportResult,
    alert_workflow_id,
)
from policies.contacts import resolve_recipients
from policies.emails import is_email_address, unique_ignoring_case
from policies.loader import PolicyError, find_policy_file, load_named_policy
from policies.model import Policy
from reports.burn_rate import evaluate_objective
from reports.visibility import TicketFilter, read_outcomes
from workflows.ticket_outcome import TicketOutcome

OutcomeReader = Callable[[TicketFilter], Awaitable[list[TicketOutcome]]]
"""Reads the outcomes a filter selects; :func:`reports.visibility.read_outcomes` in service."""

LOOKBACK_MARGIN = timedelta(days=7)
"""Read tickets opened this much before the longest window too: a ticket opened 30 days ago
whose resolution clock breached yesterday counts in yesterday's window."""

WEEKLY_GROUP_BY: Final = "priority"


class SloActivities:
    """Owns the Temporal client, the policy directory and the email sender of the SLO jobs.

    Args:
        client: For visibility reads and for starting and signalling alert episodes.
        policy_dir: Where the policy files are (the worker's ``ESCALATIONS_POLICY_DIR``).
        email: Where alerts and reports go (SendGrid or the outbox).
        reader: Replaces the visibility read; the time-skipping test server has no list API.
    """

    def __init__(
        self,
        client: Client,
        policy_dir: Path,
        email: PreparedEmailSender,
        *,
        reader: OutcomeReader | None = None,
    ) -> None:
        self._client = client
        self._policy_dir = policy_dir
        self._email = email
        self._reader = reader or self._read_visibility

    async def _read_visibility(self, selection: TicketFilter) -> list[TicketOutcome]:
        return await read_outcomes(self._client, selection)

    def _policy(self, name: str) -> Policy:
        try:
            return load_named_policy(self._policy_dir, name)
        except PolicyError as exc:
            missing = find_policy_file(self._policy_dir, name) is None
            raise ApplicationError(
                str(exc),
                type=errors.POLICY_NOT_FOUND if missing else errors.POLICY_INVALID,
                non_retryable=True,
            ) from None

    @activity.defn(name="evaluate_slo")
    async def evaluate_slo(self, request: EvaluateSloRequest) -> SloEvaluation:
        """Burn rates, attainment and budget of every objective of one policy at ``now``."""
        policy = self._policy(request.policy)
        levels = policy.service_levels
        statuses: list[ObjectiveStatus] = []
        tickets = 0
        if levels.objectives:
            longest = max(
                [o.window for o in levels.objectives] + [a.long_window for a in levels.alerts]
            )
            selection = TicketFilter(
                opened_from=request.now - longest - LOOKBACK_MARGIN,
                opened_to=request.now,
                policies=(policy.name,),
            )
            outcomes = await self._reader(selection)
            tickets = len(outcomes)
            statuses = [
                ObjectiveStatus.of(
                    evaluate_objective(
                        objective, levels.alerts, outcomes, request.now, request.min_events
                    )
                )
                for objective in levels.objectives
            ]
        return SloEvaluation(
            policy=policy.name,
            policy_version=policy.version,
            now=request.now,
            tickets=tickets,
            objectives=statuses,
            recipients=_alert_recipients([policy], request.now),
        )

    @activity.defn(name="open_slo_alert")
    async def open_slo_alert(self, request: OpenAlertRequest) -> OpenAlertResult:
        """Start the objective's alert episode, or tell the running one it still burns.

        Signal-with-start with ``USE_EXISTING``: if an episode runs it only gets the
        ``burning`` signal (no second notice); otherwise a new episode starts and sends one.
        """
        alert = request.alert
        workflow_id = alert_workflow_id(alert.policy, alert.status.key)
        handle = await self._client.start_workflow(
            ALERT_WORKFLOW,
            alert,
            id=workflow_id,
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal="burning",
            start_signal_args=[BurningSignal(status=alert.status)],
            static_summary=f"SLO {alert.policy} {alert.status.key}: error budget burning",
        )
        # The SDK keeps the server's answer on the handle; ``started`` says whether this call
        # started the run or found one running. Absent it, say "not started": it only feeds
        # the monitor's summary, never the decision to notify (the episode makes that).
        response = getattr(handle, "_start_workflow_response", None)
        started = isinstance(response, SignalWithStartWorkflowExecutionResponse) and bool(
            response.started
        )
        return OpenAlertResult(
            workflow_id=workflow_id, run_id=handle.result_run_id or "", started=started
        )

    @activity.defn(name="close_slo_alert")
    async def close_slo_alert(self, request: CloseAlertRequest) -> bool:
        """Signal ``recovered`` to the objective's running episode; False if none runs."""
        handle = self._client.get_workflow_handle(
            alert_workflow_id(request.policy, request.status.key)
        )
        try:
            await handle.signal("recovered", RecoveredSignal(status=request.status))
        except RPCError as err:
            # Not found: no episode ever ran, or the last one has completed.
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    @activity.defn(name="send_slo_alert")
    async def send_slo_alert(self, notice: AlertNotice) -> DeliveryResult:
        """Send an episode's alert or recovery notice (once per idempotency key)."""
        return await self._deliver(alert_email(notice))

    @activity.defn(name="send_weekly_report")
    async def send_weekly_report(self, request: WeeklyReportRequest) -> WeeklyReportResult:
        """Build the HTML report of the last ``days`` days and email it."""
        # Imported here: the report modules are large, and only this activity needs them.
        from reports.figures import build_report
        from reports.render_html import render_html
        from reports.render_text import render_text

        policies = {name: self._policy(name) for name in request.policies}
        by_name = {policy.name: policy for policy in policies.values()}
        start = request.now - timedelta(days=request.days)
        outcomes = await self._reader(
            TicketFilter(start, request.now, policies=tuple(sorted(by_name)))
        )
        recipients = list(request.to) or _alert_recipients(policies.values(), request.now)
        if not recipients:
            raise ApplicationError(
                "the weekly report has no recipients: give --to, or manager/executive "
                f"contacts in policies {', '.join(request.policies)}",
                type=errors.NO_RECIPIENTS,
                non_retryable=True,
            )
        report = build_report(
            outcomes,
            group_by=WEEKLY_GROUP_BY,
            policies=by_name,
            now=request.now,
            range=(start, request.now),
        )
        names = ", ".join(sorted(by_name))
        subject = (
            f"[SLO] Weekly report {start:%Y-%m-%d} to {request.now:%Y-%m-%d} ({names}): "
            f"{len(outcomes)} tickets"
        )
        result = await self._deliver(
            PreparedEmail(
                idempotency_key=request.idempotency_key,
                recipients=recipients,
                subject=subject,
                text=render_text(report),
                html=render_html(report),
                category="slo-weekly-report",
            )
        )
        return WeeklyReportResult(
            recipients=recipients,
            tickets=len(outcomes),
            status=result.status,
            provider=result.provider,
            detail=result.detail,
        )

    async def _deliver(self, email: PreparedEmail) -> DeliveryResult:
        # The sendgrid client is synchronous: keep it off the worker's event loop.
        result = await asyncio.to_thread(self._email.deliver_prepared, email)
        activity.logger.info(
            "%s to %d recipients %s via %s",
            email.category,
            len(email.recipients),
            result.status,
            result.provider,
        )
        return result


def _alert_recipients(policies: Iterable[Policy], now: datetime) -> list[str]:
    """The addresses of the policies' SLO alert roles (policy-wide contacts, a rotation's
    member on call at ``now``), each once.

    SLO alerts are emails: a role's channels (Slack, PagerDuty, ...) are left out here.
    """
    return unique_ignoring_case(
        address
        for policy in policies
        for address in resolve_recipients(policy, policy.slo_alert_roles(), "", None, now)
        if is_email_address(address)
    )
