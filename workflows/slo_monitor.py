"""``SloMonitor``: one check of one policy's error budgets, run by a Temporal Schedule.

The schedule ``slo-monitor-<policy>`` (see :mod:`escalations.client.schedules`) starts it every five
minutes with overlap policy SKIP. Each run is short and keeps no state: the state of an alert
lives in its episode workflow (``SloBudgetAlert``), so runs can be skipped, retried or run by
hand (``temporal schedule trigger``) without sending anything twice.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.slo_models import (
        MONITOR_WORKFLOW,
        CloseAlertRequest,
        EvaluateSloRequest,
        OpenAlertRequest,
        OpenAlertResult,
        SloAlertInput,
        SloEvaluation,
        SloMonitorInput,
        SloMonitorResult,
    )
    from workflows import slo_timeouts as timeouts


@workflow.defn(name=MONITOR_WORKFLOW)
class SloMonitor:
    """Evaluate the policy's objectives; open episodes for those burning, close the rest."""

    @workflow.run
    async def run(self, monitor: SloMonitorInput) -> SloMonitorResult:
        """One check at the workflow's current time."""
        evaluation = await workflow.execute_activity(
            "evaluate_slo",
            EvaluateSloRequest(
                policy=monitor.policy, now=workflow.now(), min_events=monitor.min_events
            ),
            result_type=SloEvaluation,
            start_to_close_timeout=timeouts.EVALUATE_TIMEOUT,
            retry_policy=timeouts.EVALUATE_RETRY,
            summary=f"evaluate {monitor.policy}",
        )
        burning: list[str] = []
        opened: list[str] = []
        recovered: list[str] = []
        for status in evaluation.objectives:
            if status.burning:
                burning.append(status.key)
                if not evaluation.recipients:
                    # Nobody to tell: the figures are still in this run's result and history.
                    workflow.logger.warning(
                        "SLO %s %s burns, but the policy has no alert contacts",
                        evaluation.policy,
                        status.key,
                    )
                    continue
                result = await workflow.execute_activity(
                    "open_slo_alert",
                    OpenAlertRequest(
                        alert=SloAlertInput(
                            policy=evaluation.policy,
                            policy_version=evaluation.policy_version,
                            status=status,
                            recipients=evaluation.recipients,
                            # As long as the short window: a burn that stops and starts
                            # again within it is one episode, not two pages.
                            min_episode=status.short.window,
                        )
                    ),
                    result_type=OpenAlertResult,
                    start_to_close_timeout=timeouts.EPISODE_RPC_TIMEOUT,
                    retry_policy=timeouts.EPISODE_RPC_RETRY,
                    summary=f"burning {status.key}",
                )
                if result.started:
                    opened.append(status.key)
            else:
                signalled = await workflow.execute_activity(
                    "close_slo_alert",
                    CloseAlertRequest(policy=evaluation.policy, status=status),
                    result_type=bool,
                    start_to_close_timeout=timeouts.EPISODE_RPC_TIMEOUT,
                    retry_policy=timeouts.EPISODE_RPC_RETRY,
                    summary=f"not burning {status.key}",
                )
                if signalled:
                    recovered.append(status.key)
        return SloMonitorResult(
            policy=evaluation.policy,
            tickets=evaluation.tickets,
            burning=burning,
            opened=opened,
            recovered=recovered,
        )
