"""The worker: the one long-running process. Also ``escalations worker``.

It reads the environment, builds the activities' clients (SendGrid or the local outbox, the
policy directory), registers ``TicketEscalation`` and its activities on the ``escalations`` task
queue, and shuts down gracefully on SIGTERM or SIGINT: activities in flight get time to finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.channels.dispatch import ChannelActivities, ChannelEndpoints, channel_modes
from activities.delivery_ledger import DeliveryLedger
from activities.notifications import build_notification_activities
from activities.outbox import OutboxWriter
from activities.policy_files import PolicyActivities
from activities.slo import SloActivities
from activities.slo_email import build_prepared_sender
from escalations.runtime.argument_count import ArgumentCountInterceptor
from escalations.runtime.config import ConfigError, Settings, load_settings
from escalations.runtime.connection import connect, ensure_search_attributes
from escalations.runtime.logging_setup import configure_logging
from escalations.runtime.telemetry import build_runtime, metrics_url
from policies.channels import Channel
from policies.loader import POLICY_SUFFIXES, PolicyError, read_policy_file
from workflows.slo_alert import SloBudgetAlert
from workflows.slo_monitor import SloMonitor
from workflows.ticket_escalation import TicketEscalation
from workflows.weekly_report import WeeklySloReport

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("escalations.worker")

# SendGrid's client is synchronous: each send holds a thread for up to its 10 s timeout.
ACTIVITY_THREADS = 32
GRACEFUL_SHUTDOWN = timedelta(seconds=15)


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """A worker for ``settings.task_queue`` with the workflow and every activity."""
    key = settings.sendgrid_api_key
    sendgrid_key = key.get_secret_value() if key is not None else None
    notifications = build_notification_activities(
        api_key=sendgrid_key,
        sendgrid_host=settings.sendgrid_host,
        from_address=settings.sendgrid_from,
        outbox_dir=settings.outbox_dir,
        delivery_ledger=settings.delivery_ledger,
        sandbox=settings.sendgrid_sandbox,
    )
    channels = build_channel_activities(settings)
    policies = PolicyActivities(settings.policy_dir)
    # The SLO jobs read visibility and start alert episodes through the worker's own client.
    slo = SloActivities(
        client,
        settings.policy_dir,
        build_prepared_sender(
            api_key=sendgrid_key,
            sendgrid_host=settings.sendgrid_host,
            from_address=settings.sendgrid_from,
            outbox_dir=settings.outbox_dir,
            delivery_ledger=settings.delivery_ledger,
            sandbox=settings.sendgrid_sandbox,
        ),
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TicketEscalation, SloMonitor, SloBudgetAlert, WeeklySloReport],
        activities=[
            policies.load_policy,
            notifications.send_notification,
            channels.send_channel_notice,
            slo.evaluate_slo,
            slo.open_slo_alert,
            slo.close_slo_alert,
            slo.send_slo_alert,
            slo.send_weekly_report,
        ],
        activity_executor=executor,
        interceptors=[ArgumentCountInterceptor()],
        **worker_tuning(settings),
    )


def build_channel_activities(settings: Settings) -> ChannelActivities:
    """Slack, PagerDuty, Teams and webhooks as the settings point them, sharing the email
    outbox's directory and the delivery ledger."""
    return ChannelActivities(
        OutboxWriter(settings.outbox_dir, settings.sendgrid_from),
        ChannelEndpoints(
            slack_api_url=settings.slack_api_url,
            pagerduty_events_url=settings.pagerduty_events_url,
            web_ui_url=settings.web_ui_url,
        ),
        ledger=DeliveryLedger(settings.delivery_ledger) if settings.delivery_ledger else None,
    )


def channel_report(settings: Settings) -> list[str]:
    """The start-up lines saying which policies' channels are live and which write to the
    outbox (a policy that does not load is named, not fatal: tickets under it fail to open
    with the loader's message)."""
    found: list[tuple[str, str, Channel]] = []
    problems: list[str] = []
    for path in sorted(settings.policy_dir.glob("*")):
        if path.suffix not in POLICY_SUFFIXES or not path.is_file():
            continue
        try:
            policy = read_policy_file(path)
        except PolicyError as err:
            problems.append(f"{path.name}: does not load ({str(err).splitlines()[0]})")
            continue
        found += [(policy.name, name, channel) for name, channel in policy.channels.items()]
    return channel_modes(found) + problems


def worker_tuning(settings: Settings) -> dict[str, Any]:
    """The options that decide a worker's lateness, throughput and memory (see BENCHMARKS.md).

    - Few concurrent workflow tasks: a timer starts when the task that set it completes, so a
      task stretched by sharing the GIL with a hundred others fires its next escalation late
      by that much (0.3 s at p50 in a burst of opens with the SDK's default of 100). Two per
      core keep tasks short and lose no throughput: Python runs one at a time anyway.
    - A bounded workflow cache: sleeping tickets beyond it are evicted and replayed on their
      next wake, so worker memory stays flat however many tickets sleep.
    - Workflow code runs outside the SDK's sandbox (see :func:`workflow_runner`).
    """
    return {
        "max_concurrent_workflow_tasks": settings.max_workflow_tasks,
        "max_cached_workflows": settings.max_cached_workflows,
        "workflow_runner": workflow_runner(settings),
        "max_concurrent_activities": ACTIVITY_THREADS,
        "sticky_queue_schedule_to_start_timeout": settings.sticky_queue_timeout,
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
    }


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """How workflow code runs: outside the sandbox unless ``ESCALATIONS_WORKFLOW_SANDBOX`` is on.

    The sandbox guards determinism at run time (it refuses the clock, files, randomness) at a
    cost on every workflow task: each ticket gets a fresh module namespace, and every call and
    payload crosses its proxies (BENCHMARKS.md: about a third of the worker's CPU per ticket).
    Production runs without it; determinism is kept by what runs before a release instead:
    the workflow tests (tests/workflows) run their workers inside the sandbox, a test refuses
    nondeterministic imports and calls in the workflow modules
    (tests/workflows/test_determinism_imports.py), and the recorded histories replay under
    both runners (tests/replay).
    """
    if settings.workflow_sandbox:
        # Every module passes through: the sandbox still refuses nondeterministic calls, but
        # does not re-import (and recompile) the workflow's modules for every ticket.
        return SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        )
    return UnsandboxedWorkflowRunner()


async def run_worker(
    settings: Settings,
    stop: asyncio.Event | None = None,
    *,
    runtime: Runtime | None = None,
    tracer_provider: TracerProvider | None = None,
) -> None:
    """Run until ``stop`` is set, or SIGTERM/SIGINT arrives when ``stop`` is not given.

    Args:
        settings: What to connect to and how to run.
        stop: Set it to stop the worker.
        runtime: The Temporal runtime; default one built from the settings (serving
            metrics on ``settings.metrics_address``; see :mod:`escalations.runtime.telemetry`).
        tracer_provider: Where spans go when tracing is on; default the OTLP exporter.

    Raises:
        ConfigError: the metrics address cannot be bound, or tracing is on without its extra.
    """
    runtime = runtime or build_runtime(settings)
    client = await connect(settings, runtime=runtime, tracer_provider=tracer_provider)
    if settings.register_search_attributes:
        try:
            await ensure_search_attributes(client, settings.temporal_namespace)
        except Exception as exc:
            log.warning("could not check search attributes (register them yourself): %s", exc)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(client, settings, executor)
        log.info(
            "worker polling %s on %s/%s; email to %s; policies from %s; payloads %s; "
            "metrics %s; tracing %s",
            settings.task_queue,
            settings.temporal_address,
            settings.temporal_namespace,
            settings.email_mode,
            settings.policy_dir,
            settings.payload_mode,
            metrics_url(settings.metrics_address) if settings.metrics_address else "off",
            settings.tracing,
        )
        for line in channel_report(settings) or ["no policy names a channel"]:
            log.info("channel %s", line)
        async with worker:
            await stop.wait()
            log.info("shutting down: finishing activities in flight")
    log.info("worker stopped")


def main() -> None:
    """Entry point of ``python worker.py`` and ``escalations worker``."""
    try:
        settings = load_settings()
        configure_logging(settings.log_format)
        asyncio.run(run_worker(settings))
    except ConfigError as err:
        # One line that names the setting, as `escalations worker` prints it; a traceback
        # would add nothing, and the message never quotes a secret.
        print(f"worker.py: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
