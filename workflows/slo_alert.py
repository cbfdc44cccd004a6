"""``SloBudgetAlert``: one error-budget alert episode of one objective.

The monitor starts it (signal-with-start, ``USE_EXISTING``, workflow id
``slo-alert-<policy>-<objective>``) when an objective starts burning, and signals it on every
later run: ``burning`` while it still burns, ``recovered`` once it does not. The episode sends
its alert exactly once, when it starts, whatever the number of monitor runs it spans; that is
what makes it one notice per episode rather than one per run. It ends when the monitor last
said ``recovered`` and it has lasted at least ``min_episode`` (so a burn that flickers off and
on within a few minutes stays one episode), and sends a recovery notice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.models import DeliveryResult
    from activities.slo_models import (
        ALERT_WORKFLOW,
        AlertNotice,
        BurningSignal,
        ObjectiveStatus,
        RecoveredSignal,
        SloAlertInput,
    )
    from workflows import slo_timeouts as timeouts


@workflow.defn(name=ALERT_WORKFLOW)
class SloBudgetAlert:
    """One episode: alert once, wait for recovery, close."""

    def __init__(self) -> None:
        self._burning = True
        self._latest: ObjectiveStatus | None = None

    @workflow.signal
    def burning(self, signal: BurningSignal) -> None:
        """The monitor still sees the objective burning."""
        self._burning = True
        self._latest = signal.status

    @workflow.signal
    def recovered(self, signal: RecoveredSignal) -> None:
        """The monitor no longer sees the objective burning."""
        self._burning = False
        self._latest = signal.status

    @workflow.query
    def status(self) -> ObjectiveStatus | None:
        """The objective as the monitor last reported it."""
        return self._latest

    @workflow.run
    async def run(self, alert: SloAlertInput) -> None:
        """Alert, wait until recovered (and at least ``min_episode`` old), then close."""
        opened_at = alert.opened_at or workflow.now()
        if alert.notified_at is None:
            await self._send(alert, "burning", opened_at)
        notified_at = alert.notified_at or workflow.now()
        while True:
            await workflow.wait_condition(lambda: not self._burning or self._history_full())
            if self._burning:
                # Still burning, but the history is long: hand over to a fresh run that
                # knows its notice went out.
                workflow.continue_as_new(
                    alert.model_copy(
                        update={
                            "status": self._latest or alert.status,
                            "opened_at": opened_at,
                            "notified_at": notified_at,
                        }
                    )
                )
            left = opened_at + alert.min_episode - workflow.now()
            if left.total_seconds() > 0:
                await workflow.sleep(left, summary="minimum episode length")
            # A ``burning`` during that sleep means it flickered back: same episode, wait on.
            if not self._burning:
                break
        if alert.send_recovery:
            await self._send(alert, "recovered", opened_at)

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > timeouts.EPISODE_MAX_HISTORY_EVENTS
        )

    async def _send(
        self, alert: SloAlertInput, kind: Literal["burning", "recovered"], opened_at: datetime
    ) -> None:
        info = workflow.info()
        notice = AlertNotice.model_validate(
            {
                "kind": kind,
                # The episode's first run id: the same in every run of a continue-as-new
                # chain, and different for the next episode of the same objective.
                "idempotency_key": f"{info.workflow_id}/{info.first_execution_run_id}/{kind}",
                "policy": alert.policy,
                "policy_version": alert.policy_version,
                "status": self._latest if kind == "recovered" and self._latest else alert.status,
                "recipients": alert.recipients,
                "opened_at": opened_at,
            }
        )
        try:
            await workflow.execute_activity(
                "send_slo_alert",
                notice,
                result_type=DeliveryResult,
                start_to_close_timeout=timeouts.EMAIL_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=timeouts.ALERT_GIVE_UP_AFTER,
                retry_policy=timeouts.EMAIL_RETRY,
                summary=f"{kind} notice",
            )
        except ActivityError as err:
            # A rejected address or an exhausted retry must not reopen the episode: a new run
            # would alert again on every monitor run. It stays in the history for operators.
            workflow.logger.warning("SLO %s notice not delivered: %s", kind, err.cause or err)
