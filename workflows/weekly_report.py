"""``WeeklySloReport``: the weekly SLO report by email, run by the ``slo-weekly-report``
schedule.

The workflow only fixes the report's time and its idempotency key; the activity reads the
week's tickets from visibility, builds the HTML report and sends it (SendGrid or the outbox).
A retried activity sends the same key, so the outbox and the delivery ledger keep one copy.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.slo_models import (
        WEEKLY_REPORT_WORKFLOW,
        WeeklyReportRequest,
        WeeklyReportResult,
        WeeklySloReportInput,
    )
    from workflows import slo_timeouts as timeouts


@workflow.defn(name=WEEKLY_REPORT_WORKFLOW)
class WeeklySloReport:
    """Email the report of the last ``days`` days."""

    @workflow.run
    async def run(self, report: WeeklySloReportInput) -> WeeklyReportResult:
        """Build and send one report, as of the workflow's start."""
        info = workflow.info()
        result: WeeklyReportResult = await workflow.execute_activity(
            "send_weekly_report",
            WeeklyReportRequest(
                idempotency_key=f"{info.workflow_id}/{info.first_execution_run_id}/report",
                policies=report.policies,
                to=report.to,
                now=workflow.now(),
                days=report.days,
            ),
            result_type=WeeklyReportResult,
            start_to_close_timeout=timeouts.REPORT_ATTEMPT_TIMEOUT,
            schedule_to_close_timeout=timeouts.REPORT_GIVE_UP_AFTER,
            retry_policy=timeouts.EMAIL_RETRY,
            summary="weekly SLO report",
        )
        return result
