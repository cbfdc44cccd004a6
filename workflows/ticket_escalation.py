"""``TicketEscalation``: one durable workflow per helpdesk ticket.

It keeps the ticket's SLA clocks, sleeps on a durable timer until the next threshold of its
policy, fires the levels that fall due in policy order, and wakes early on every update to
recompute. All rules live in :mod:`workflows.ticket_state` and :mod:`policies`; this module
only orchestrates: timers, activities, messages, search attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.channels.models import ChannelEvent, ChannelNotice, SlackThread
    from activities.models import (
        ClockSnapshot,
        DeliveryResult,
        LoadPolicyRequest,
        NotificationRequest,
        TicketFields,
        TicketSnapshot,
    )
    from policies.calendar import CalendarSet, builtin_calendars, policy_calendars
    from policies.model import ClockName, Policy
    from workflows import search_attributes as sa
    from workflows import ticket_preconditions as rules
    from workflows import timeouts
    from workflows.ticket_channels import EMAIL, ChannelState, channels_told_of
    from workflows.ticket_details import current_details
    from workflows.ticket_firing import Firing, fire_due_levels
    from workflows.ticket_messages import (
        AcknowledgeRequest,
        AgentRepliedRequest,
        ChangePriorityRequest,
        CustomerRepliedRequest,
        FeedbackRequest,
        MigratePolicyRequest,
        PauseRequest,
        ReassignRequest,
        ReopenRequest,
        ReportEventRequest,
        ResolveRequest,
        ResumeRequest,
        TicketInput,
        TicketStatus,
        UpdateAttributesRequest,
        UpdateImpactRequest,
        build_status,
        feedback_closes_at,
    )
    from workflows.ticket_metrics import TicketMetrics
    from workflows.ticket_outcome import OUTCOME_MEMO, TicketOutcome
    from workflows.ticket_state import (
        Delivery,
        EscalationRecord,
        TicketState,
        TicketStateName,
    )

INVALID_TICKET = "InvalidTicket"

# Patches (workflow.patched): each changes the commands of tickets already running, so old
# histories take the old branch. Each may become ``workflow.deprecate_patch`` once no ticket
# opened before it is still running (a ticket lives until its feedback window closes), and be
# removed a release later; the replay sets named below must then be retired with it. See
# docs/contributing.md.
DELIVERY_DOES_NOT_WAKE = "delivery-does-not-wake"
"""New branch: a finished delivery refreshes the Web UI only. Old branch: it woke the main loop,
which cancelled and restarted the ticket's timer (two commands per notice). Needed by
``every-update-v1`` and the ``-v2`` histories."""
LOCAL_POLICY_LOAD = "local-policy-load"
"""New branch: the policy is loaded by a local activity (a marker in history). Old branch: by an
ordinary activity through the server. Needed by the ``-v1``, ``-v2`` and ``-v3`` histories."""
SLA_REPORTING = "sla-reporting"
"""New branch: the ticket upserts its outcome (memo ``sla_outcome``) and the reporting search
attributes. Old branch: neither. Needed by the ``-v1`` to ``-v5`` histories."""
FEEDBACK_WINDOW = "feedback-window"
"""New branch: a resolved ticket stays open for feedback and reopening until the policy's
feedback window closes. Old branch: the workflow completes at resolve. Needed by the ``-v1`` to
``-v5`` histories."""
EVENTS_IN_AT_ORDER = "events-in-at-order"
"""New branch: the ticket keeps an event timeline, so events reported late (``at``) count as if
they had arrived in the order of their ``at``s, repeats stay on their grid (skipping points that
fell while paused or resolved) and a field condition is due at the update that made it true.
Old branch (no timeline in the state, even across continue-as-new): a late event is applied where
the ticket stands, and repeats are placed as :func:`policies.ladder._legacy_next` does. Needed by
the ``-v1`` to ``-v7`` histories."""
ONE_PATCH_STEADY_TIMER = "one-patch-steady-timer"
"""New branch: a run asks this one patch when it starts and takes the new branch of every patch
above without asking (each patch asked costs a marker and a ``TemporalChangeVersion`` upsert in
history), and its durable timer stays armed while updates leave the next threshold where it was.
Old branch: each patch is asked where it applies, and every wake-up cancels the timer and starts
a new one. Needed by the ``-v1`` to ``-v8`` histories."""
INVALID_UPDATE = "InvalidUpdate"
TICKET_OPENING = "TicketOpening"


async def _load_policy_locally(request: LoadPolicyRequest, summary: str) -> Policy:
    """The ``load_policy`` activity as a local activity: the policy is recorded in history as a
    marker, without an activity task through the server."""
    policy: Policy = await workflow.execute_local_activity(
        "load_policy",
        request,
        result_type=Policy,
        start_to_close_timeout=timeouts.LOAD_POLICY_TIMEOUT,
        retry_policy=timeouts.LOAD_POLICY_RETRY,
        summary=summary,
    )
    return policy


def _reject(message: str) -> ApplicationError:
    # Non-retryable: resending the same update cannot succeed, and callers should say so.
    return ApplicationError(message, type=INVALID_UPDATE, non_retryable=True)


@workflow.defn(name="TicketEscalation")
class TicketEscalation:
    """The escalation pipeline of one ticket. Workflow id: ``ticket-<ticket_id>``."""

    def __init__(self) -> None:
        self._state: TicketState | None = None
        self._calendars: CalendarSet = builtin_calendars()
        self._changed = False
        self._deliveries: dict[int, asyncio.Task[None]] = {}
        self._channel_events: set[asyncio.Task[None]] = set()
        self._told_state: TicketStateName | None = None
        self._published: dict[str, sa.SearchValue] = {}
        self._details = ""
        self._reporting = False
        self._published_outcome = ""
        self._metrics = TicketMetrics()
        self._lean = False
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None

    # -- main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: TicketInput) -> TicketStatus:
        """Run the ticket until it is resolved; returns its final status."""
        if input.continued is not None and workflow.info().continued_run_id is None:
            # Only this workflow's own continue-as-new may hand over a state: from a caller it
            # would be an arbitrary ticket (any clocks, escalations or policy) nobody opened.
            raise ApplicationError(
                f"ticket {input.ticket_id}: continued is internal (the state a ticket carries "
                "across continue-as-new); leave it unset when opening a ticket",
                type=INVALID_TICKET,
                non_retryable=True,
            )
        # Asked first, before anything else is asked or awaited (see ONE_PATCH_STEADY_TIMER).
        self._lean = workflow.patched(ONE_PATCH_STEADY_TIMER)
        self._state = input.continued or await self._open(input)
        self._calendars = policy_calendars(self._state.policy)
        self._told_state = self._state.state
        self._published = dict(self._current_search_values()) if input.continued else {}
        self._reporting = self._patched(SLA_REPORTING)
        if input.continued:
            # The run before counted these breaches already.
            self._metrics.breaches(self._status(), count=False)
        state = self._state
        while True:
            while not state.resolved:
                self._fire_due_levels()
                self._release_held_notices()
                self._publish()
                if self._should_continue_as_new():
                    await workflow.wait_condition(
                        lambda: self._sending_done() and workflow.all_handlers_finished()
                    )
                    self._disarm_timer()
                    workflow.continue_as_new(self._continued_input(input))
                await self._sleep_until_next_change()
            await workflow.wait_condition(
                lambda: self._sending_done() and workflow.all_handlers_finished()
            )
            self._publish()
            if not self._patched(FEEDBACK_WINDOW) or not await self._feedback_window():
                self._disarm_timer()
                return self._status()

    async def _feedback_window(self) -> bool:
        """Keep a resolved ticket for feedback until its window closes.

        Returns:
            True if it was reopened (its clocks and escalations run again), False when the
            window closed.
        """
        state = self._require_state()
        closes_at = feedback_closes_at(state)
        while state.resolved and closes_at is not None and workflow.now() < closes_at:
            await self._wait_for_change(closes_at, "until the feedback window closes")
            self._publish()
        # Feedback accepted just before the window closed is recorded before the ticket ends.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._publish()
        return not state.resolved

    async def _open(self, input: TicketInput) -> TicketState:
        # Asked first, before anything is awaited: the marker then always lands in the ticket's
        # first workflow task, wherever the policy load's result lands.
        in_at_order = self._patched(EVENTS_IN_AT_ORDER)
        request = LoadPolicyRequest(name=input.policy)
        try:
            if self._patched(LOCAL_POLICY_LOAD):
                # A local activity: the policy is still recorded in history (as a marker),
                # but opening a ticket no longer sends an activity task through the server.
                policy = await _load_policy_locally(request, f"load policy {input.policy}")
            else:
                policy = await workflow.execute_activity(
                    "load_policy",
                    request,
                    result_type=Policy,
                    start_to_close_timeout=timeouts.LOAD_POLICY_TIMEOUT,
                    retry_policy=timeouts.LOAD_POLICY_RETRY,
                    summary=f"load policy {input.policy}",
                )
        except ActivityError as err:
            # A missing or broken policy cannot be fixed by retrying this ticket: fail it with
            # the loader's message so the opener sees what to fix.
            cause = err.cause if isinstance(err.cause, ApplicationError) else err
            raise ApplicationError(
                f"ticket {input.ticket_id}: {cause}",
                type=getattr(cause, "type", None) or "PolicyUnavailable",
                non_retryable=True,
            ) from err
        if input.priority not in policy.targets:
            raise ApplicationError(
                f"ticket {input.ticket_id}: priority {input.priority!r} is not defined by policy "
                f"{policy.name!r} v{policy.version}; defined: {', '.join(policy.targets)}",
                type=INVALID_TICKET,
                non_retryable=True,
            )
        now = workflow.now()
        opened_at = min(input.opened_at or now, now)
        # Checked before converting to UTC: astimezone() overflows on a time such as
        # 0001-01-01T00:00+05:00, and that exception would fail this workflow task forever.
        if opened_at < now - timeouts.MAX_BACKDATE:
            raise ApplicationError(
                f"ticket {input.ticket_id}: opened_at {opened_at.isoformat()} is more than "
                f"{timeouts.MAX_BACKDATE.days} days ago; open it with a later time",
                type=INVALID_TICKET,
                non_retryable=True,
            )
        opened_at = opened_at.astimezone(UTC)
        fields = TicketFields.model_validate(
            input.model_dump(include=set(TicketFields.model_fields))
        )
        return TicketState.open(
            fields,
            policy,
            opened_at,
            notice_key=workflow.info().run_id,
            in_at_order=in_at_order,
            tags=input.tags,
            attributes=input.attributes,
        )

    async def _sleep_until_next_change(self) -> None:
        wake = self._require_state().next_wake(workflow.now(), self._calendars)
        if wake is None:
            await self._wait_for_change()
        else:
            await self._wait_for_change(wake.at, f"until {wake.describe()}")

    async def _wait_for_change(self, until: datetime | None = None, summary: str = "") -> None:
        """Until an update changes the ticket, or ``until`` comes (a durable timer named
        ``summary`` in the Web UI)."""
        self._changed = False
        if self._lean:
            self._arm_timer(until, summary)
            await workflow.wait_condition(lambda: self._changed or self._timer_fired())
            return
        if until is None:
            await workflow.wait_condition(lambda: self._changed)
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._changed,
                timeout=max(until - workflow.now(), timedelta(milliseconds=1)),
                timeout_summary=summary,
            )

    def _arm_timer(self, until: datetime | None, summary: str) -> None:
        # Most updates leave the next threshold where it was (a reassignment, a reply that
        # starts no clock, feedback): the armed timer then stays, where cancelling it and
        # starting another would cost two history events and a billable timer each time.
        if until is not None and until == self._timer_at and not self._timer_fired():
            return
        self._disarm_timer()
        if until is not None:
            wait = max(until - workflow.now(), timedelta(milliseconds=1))
            self._timer = asyncio.create_task(workflow.sleep(wait, summary=summary))
            self._timer_at = until

    def _timer_fired(self) -> bool:
        return self._timer is not None and self._timer.done()

    def _disarm_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer, self._timer_at = None, None

    def _patched(self, patch_id: str) -> bool:
        # A run that took ONE_PATCH_STEADY_TIMER is newer than every older patch: their new
        # branches hold without asking (asking would record a marker for each).
        return self._lean or workflow.patched(patch_id)

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > timeouts.MAX_HISTORY_EVENTS
        )

    def _continued_input(self, input: TicketInput) -> TicketInput:
        state = self._require_state()
        return input.model_copy(update={"continued": state})

    # -- escalation ------------------------------------------------------------------------

    def _fire_due_levels(self) -> None:
        for firing in fire_due_levels(self._require_state(), workflow.now(), self._calendars):
            self._send_firing(firing)

    def _send_firing(self, firing: Firing) -> None:
        state = self._require_state()
        due = firing.due
        self._metrics.fired(
            due.level.name, state.policy.name, firing.priority, due.due_at, firing.at
        )
        workflow.logger.info(
            "ticket %s: level %s fired (repeat %d) to %d recipient(s), %d held for quiet hours",
            state.fields.ticket_id,
            due.level.name,
            due.repeat,
            len(firing.now_list),
            sum(len(group) for group in firing.held.values()),
            extra=self._log_extra(due.level.name, firing.priority),
        )
        for index, record in enumerate(firing.records, start=firing.first):
            if record.delivery.status == "pending":
                self._start_delivery(index)

    def _release_held_notices(self) -> None:
        state = self._require_state()
        for index in state.release_held(workflow.now()):
            self._start_delivery(index)

    def _start_delivery(self, index: int) -> None:
        record = self._require_state().escalations[index]
        request = self._notification(record)
        if record.channel == EMAIL:
            self._deliveries[index] = asyncio.create_task(self._deliver(index, request))
        else:
            self._deliveries[index] = asyncio.create_task(self._deliver_to_channel(index, request))

    def _sending_done(self) -> bool:
        return not self._deliveries and not self._channel_events

    def _notification(self, record: EscalationRecord) -> NotificationRequest:
        state = self._require_state()
        status = self._status()
        level = next(lvl for lvl in state.policy.levels if lvl.name == record.level)
        return NotificationRequest(
            idempotency_key=state.notice_key_for(record),
            channel=record.channel,
            recipients=record.recipients,
            template_id=level.template_id,
            level=record.level,
            repeat=record.repeat,
            reason=record.reason,
            due_at=record.due_at,
            ticket=TicketSnapshot(
                **state.fields.model_dump(), state=status.state.value, opened_at=state.opened_at
            ),
            clocks=self._clock_snapshots(status),
            policy=state.policy.name,
            policy_version=state.policy.version,
        )

    @staticmethod
    def _clock_snapshots(status: TicketStatus) -> list[ClockSnapshot]:
        return [
            ClockSnapshot(
                clock=name,
                target=clock.target,
                elapsed=clock.elapsed,
                due_at=clock.due_at,
                breached=clock.breached,
                stopped=clock.stopped_at is not None,
                timezone=clock.timezone,
            )
            for name, clock in status.clocks.items()
            if clock.started
        ]

    async def _deliver(self, index: int, request: NotificationRequest) -> None:
        try:
            result = await workflow.execute_activity(
                "send_notification",
                request,
                result_type=DeliveryResult,
                start_to_close_timeout=timeouts.NOTIFY_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=timeouts.NOTIFY_GIVE_UP_AFTER,
                retry_policy=timeouts.NOTIFY_RETRY,
                cancellation_type=workflow.ActivityCancellationType.TRY_CANCEL,
                summary=f"notify {request.level} #{request.repeat}",
            )
            delivery = Delivery.from_result(result)
        except ActivityError as err:
            # Rejected by SendGrid (a bad address, a bad key) or out of retries: record it and
            # go on; the ticket must keep escalating to the levels that can still be reached.
            delivery = _failed(err)
        except asyncio.CancelledError:
            delivery = Delivery(status="cancelled", detail="the ticket was resolved first")
        finally:
            self._deliveries.pop(index, None)
        self._record_delivery(index, request, delivery)

    async def _deliver_to_channel(self, index: int, request: NotificationRequest) -> None:
        state = self._require_state()
        name = request.channel
        channel = state.policy.channels.get(name)
        if channel is None:
            # A held notice released after a migration to a version without this channel.
            self._deliveries.pop(index, None)
            detail = f"channel {name} is not in policy v{state.policy.version}"
            self._record_delivery(index, request, Delivery(status="skipped", detail=detail))
            return
        try:
            # One thread per ticket and channel: a notice waits for an earlier one still
            # posting the thread's root, so that it replies under it instead of starting
            # another thread.
            await workflow.wait_condition(lambda: not self._posting_root(name, index))
            result = await self._send_to_channel(
                ChannelNotice(
                    name=name,
                    channel=channel,
                    notice=request,
                    ticket_key=state.notice_key,
                    thread=state.channels.get(name, ChannelState()).thread,
                    severity_rank=self._rank(request.ticket.priority),
                ),
                f"notify {request.level} #{request.repeat} via {name}",
            )
            delivery = Delivery.from_result(result)
            self._keep_thread(name, result)
        except ActivityError as err:
            # Waited-for cancellation arrives as the activity's error, not as CancelledError.
            delivery = (
                Delivery(status="cancelled", detail="the ticket was resolved first")
                if isinstance(err.cause, CancelledError)
                else _failed(err)
            )
        except asyncio.CancelledError:
            delivery = Delivery(status="cancelled", detail="the ticket was resolved first")
        finally:
            self._deliveries.pop(index, None)
        self._record_delivery(index, request, delivery)

    def _rank(self, priority: str) -> int:
        # The priority's urgency in the policy (0 first); PagerDuty's default severity.
        priorities = list(self._require_state().policy.targets)
        return priorities.index(priority) if priority in priorities else len(priorities)

    def _posting_root(self, name: str, index: int) -> bool:
        state = self._require_state()
        if state.channels.get(name, ChannelState()).thread is not None:
            return False
        return any(
            other < index and state.escalations[other].channel == name for other in self._deliveries
        )

    def _keep_thread(self, name: str, result: DeliveryResult) -> None:
        state = self._require_state()
        kept = state.channels.setdefault(name, ChannelState())
        if kept.thread is None and result.message_id and result.conversation:
            kept.thread = SlackThread(conversation=result.conversation, ts=result.message_id)

    async def _send_to_channel(self, notice: ChannelNotice, summary: str) -> DeliveryResult:
        result: DeliveryResult = await workflow.execute_activity(
            "send_channel_notice",
            notice,
            result_type=DeliveryResult,
            start_to_close_timeout=timeouts.NOTIFY_ATTEMPT_TIMEOUT,
            schedule_to_close_timeout=timeouts.NOTIFY_GIVE_UP_AFTER,
            retry_policy=timeouts.CHANNEL_NOTIFY_RETRY,
            # A page must not land after the resolve that follows it: a cancelled notice is
            # waited for, so the channel's resolve is sent after whatever it did.
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=summary,
        )
        return result

    def _tell_channels(self, event: ChannelEvent) -> None:
        """Tell each channel a notice reached that the ticket was acknowledged, paused,
        resumed or resolved (Slack rewrites its root, PagerDuty acknowledges or resolves)."""
        state = self._require_state()
        names = channels_told_of(state.policy, state.escalations, event)
        if not names:
            return
        state.channel_events += 1
        status = self._status()
        for name in names:
            notice = ChannelNotice(
                name=name,
                channel=state.policy.channels[name],
                event=event,
                notice=NotificationRequest(
                    idempotency_key=state.channel_event_key(event, name),
                    channel=name,
                    recipients=[name],
                    level=state.current_level() or event,
                    reason=f"the ticket was {event}",
                    due_at=workflow.now(),
                    ticket=TicketSnapshot(
                        **state.fields.model_dump(),
                        state=status.state.value,
                        opened_at=state.opened_at,
                    ),
                    clocks=self._clock_snapshots(status),
                    policy=state.policy.name,
                    policy_version=state.policy.version,
                ),
                ticket_key=state.notice_key,
                severity_rank=self._rank(state.fields.priority),
            )
            task = asyncio.create_task(self._send_event(notice))
            self._channel_events.add(task)
            task.add_done_callback(self._channel_events.discard)

    async def _send_event(self, notice: ChannelNotice) -> None:
        state = self._require_state()
        name = notice.name
        # After every notice to the channel has settled: the root's ts is known, and a resolve
        # follows the trigger it resolves.
        await workflow.wait_condition(
            lambda: not any(state.escalations[i].channel == name for i in self._deliveries)
        )
        thread = state.channels.get(name, ChannelState()).thread
        notice = notice.model_copy(update={"thread": thread})
        try:
            result = await self._send_to_channel(notice, f"tell {name}: {notice.event}")
            status: str = result.status
            detail = result.detail
        except ActivityError as err:
            status, detail = "failed", _failed(err).detail
        kept = state.channels.setdefault(name, ChannelState())
        kept.last_event, kept.last_event_status, kept.last_event_detail = (
            notice.event,
            status,
            detail,
        )
        workflow.logger.log(
            logging.WARNING if status == "failed" else logging.INFO,
            "ticket %s: %s told to %s: %s",
            notice.notice.ticket.ticket_id,
            notice.event,
            name,
            status,
            extra=self._log_extra(),
        )

    def _record_delivery(
        self, index: int, request: NotificationRequest, delivery: Delivery
    ) -> None:
        state = self._require_state()
        self._metrics.notice(request.channel, delivery.status)
        workflow.logger.log(
            logging.WARNING if delivery.status == "failed" else logging.INFO,
            "ticket %s: notice of level %s (repeat %d) via %s %s%s",
            request.ticket.ticket_id,
            request.level,
            request.repeat,
            request.channel,
            delivery.status,
            f": {delivery.detail}" if delivery.status == "failed" else "",
            extra=self._log_extra(request.level),
        )
        state.record_delivery(index, delivery)
        if self._patched(DELIVERY_DOES_NOT_WAKE):
            # A delivery's outcome changes no deadline: refresh what the Web UI shows, without
            # waking the main loop (which would cancel and restart its timer for nothing).
            self._show(current_details(self._status()))
        else:
            self._changed = True

    # -- what operators see ------------------------------------------------------------------

    def _current_search_values(
        self, status: TicketStatus | None = None
    ) -> dict[str, sa.SearchValue]:
        state = self._require_state()
        clocks = (status or self._status()).clocks
        response, resolution = clocks["first_response"], clocks["resolution"]
        return {
            sa.TICKET_ID.name: state.fields.ticket_id,
            sa.PRIORITY.name: state.fields.priority,
            sa.TEAM.name: state.fields.team,
            sa.CUSTOMER.name: state.fields.customer,
            sa.SLA_STATE.name: state.state.value,
            sa.ESCALATION_LEVEL.name: state.current_level(),
            sa.RESPONSE_DUE_AT.name: response.due_at,
            sa.RESOLUTION_DUE_AT.name: resolution.due_at,
            sa.RESPONSE_BREACHED.name: response.breached,
            sa.RESOLUTION_BREACHED.name: resolution.breached,
            # Only a policy with plans publishes one: every other ticket sends what it did.
            **({sa.SLA_PLAN.name: state.plan} if state.policy.plans else {}),
        }

    def _publish(self) -> None:
        status = self._status()
        for clock in self._metrics.breaches(status):
            workflow.logger.info(
                "ticket %s: %s SLA breached", status.ticket_id, clock, extra=self._log_extra()
            )
        current = self._current_search_values(status)
        keys = sa.BASE_KEYS + sa.PLAN_KEYS
        outcome: TicketOutcome | None = None
        if self._reporting:
            outcome = self._require_state().outcome(workflow.now(), self._calendars)
            current.update(_reporting_search_values(outcome))
            keys = sa.ALL_KEYS
        updates = sa.changed_updates(self._published, current, keys)
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published = current
        if outcome is not None:
            self._publish_outcome(outcome)
        self._show(current_details(status))

    def _publish_outcome(self, outcome: TicketOutcome) -> None:
        # The memo changes only when the outcome does: not for the seconds a running clock or
        # an open pause adds between wake-ups (readers take those as of ``as_of``).
        data = outcome.model_dump(mode="json", exclude={"as_of"})
        for clock in data["clocks"].values():
            if clock["stopped_at"] is None:
                del clock["business_seconds"]
        if outcome.pauses and outcome.pauses[-1].end is None:
            del data["paused_seconds"]
        fingerprint = repr(data)
        if fingerprint != self._published_outcome:
            workflow.upsert_memo({OUTCOME_MEMO: outcome})
            self._published_outcome = fingerprint

    def _show(self, details: str) -> None:
        # Every payload a workflow task sends costs the worker a trip through the sandbox's
        # serialisation; unchanged details are not sent again.
        if details != self._details:
            workflow.set_current_details(details)
            self._details = details

    def _status(self) -> TicketStatus:
        return build_status(self._require_state(), workflow.now(), self._calendars)

    def _require_state(self) -> TicketState:
        if self._state is None:
            raise ApplicationError(
                "the ticket is still opening (loading its policy); try again in a moment",
                type=TICKET_OPENING,
            )
        return self._state

    def _log_extra(self, level: str | None = None, priority: str | None = None) -> dict[str, str]:
        """What every log line about this ticket carries (the JSON log's fields)."""
        state = self._require_state()
        extra = {
            "ticket_id": state.fields.ticket_id,
            "policy": state.policy.name,
            "priority": priority or state.fields.priority,
        }
        if level is not None:
            extra["escalation_level"] = level
        return extra

    def _mark_changed(self) -> TicketStatus:
        # A late acknowledgement or reply can start a next-reply cycle as well as a message.
        self._require_state().restart_reply_levels(workflow.now(), self._calendars)
        update = workflow.current_update_info()
        if update is not None:
            # Every update handler ends here, once it has changed the ticket.
            workflow.logger.info(
                "ticket %s: %s applied",
                self._require_state().fields.ticket_id,
                update.name,
                extra=self._log_extra(),
            )
        self._tell_state_change()
        self._changed = True
        return self._status()

    def _tell_state_change(self) -> None:
        state = self._require_state()
        before, after = self._told_state, state.state
        if before is None or after == before:
            return
        self._told_state = after
        events: dict[TicketStateName, ChannelEvent] = {
            TicketStateName.RESOLVED: "resolved",
            TicketStateName.PAUSED: "paused",
            TicketStateName.ACKNOWLEDGED: "acknowledged",
        }
        event = events.get(after)
        if before is TicketStateName.PAUSED and after is not TicketStateName.RESOLVED:
            event = "resumed"
        elif before is TicketStateName.RESOLVED:
            event = "reopened"
        if event is not None:
            self._tell_channels(event)

    # -- messages ------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> TicketStatus:
        """The ticket's fields, state, clocks and every escalation so far."""
        # Inside a query, workflow.now() is the time of the last workflow task, which would
        # freeze elapsed time between wake-ups. A query writes nothing to history, so reading
        # the wall clock here cannot break replay; max() keeps time-skipping tests exact.
        with workflow.unsafe.sandbox_unrestricted():
            wall = datetime.now(UTC)
        now = max(workflow.now(), wall)
        return build_status(self._require_state(), now, self._calendars)

    def _check(self, problem: str | None) -> None:
        if problem is not None:
            raise _reject(problem)

    def _at(self, at: datetime | None) -> datetime:
        return rules.event_time(at, workflow.now())

    async def _ready(self) -> TicketState:
        await workflow.wait_condition(lambda: self._state is not None)
        return self._require_state()

    # Every update has one shape: the validator checks the ticket's pure preconditions
    # (workflows.ticket_preconditions); the handler waits until the ticket has opened, checks
    # them again (it may have changed while the handler waited), applies the update to the
    # state and returns the new status.

    @workflow.update
    async def acknowledge(self, request: AcknowledgeRequest) -> TicketStatus:
        """A first response reached the customer: stops the first-response clock."""
        state = await self._ready()
        self._validate_acknowledge(request)
        state.acknowledge(request.by, self._at(request.at))
        return self._mark_changed()

    @acknowledge.validator
    def _validate_acknowledge(self, request: AcknowledgeRequest) -> None:
        now = workflow.now()
        self._check(rules.timed_event_problem(self._state, "acknowledge", request.at, now))

    @workflow.update
    async def feedback(self, request: FeedbackRequest) -> TicketStatus:
        """The customer's rating (CSAT 1-5) during the feedback window after resolution."""
        state = await self._ready()
        self._validate_feedback(request)
        state.feedback(request.csat, request.comment, self._at(request.at))
        return self._mark_changed()

    @feedback.validator
    def _validate_feedback(self, request: FeedbackRequest) -> None:
        self._check(rules.feedback_problem(self._require_state(), request.at, workflow.now()))

    @workflow.update
    async def reopen(self, request: ReopenRequest) -> TicketStatus:
        """A resolved ticket needs more work: the resolution clock and escalations resume."""
        state = await self._ready()
        self._validate_reopen(request)
        state.reopen(request.by, self._at(request.at), request.reason)
        return self._mark_changed()

    @reopen.validator
    def _validate_reopen(self, request: ReopenRequest) -> None:
        self._check(rules.reopen_problem(self._require_state(), request.at, workflow.now()))

    @workflow.update
    async def resolve(self, request: ResolveRequest) -> TicketStatus:
        """The ticket is solved: stops every clock and ends escalations."""
        state = await self._ready()
        self._validate_resolve(request)
        state.resolve(request.by, self._at(request.at), request.note)
        for task in list(self._deliveries.values()):
            task.cancel()
        return self._mark_changed()

    @resolve.validator
    def _validate_resolve(self, request: ResolveRequest) -> None:
        self._check(rules.resolve_problem(self._state, request.at, workflow.now()))

    @workflow.update
    async def pause(self, request: PauseRequest) -> TicketStatus:
        """Waiting on the customer: clocks stop and escalations are held."""
        state = await self._ready()
        self._validate_pause(request)
        state.pause(request.reason, workflow.now())
        return self._mark_changed()

    @pause.validator
    def _validate_pause(self, request: PauseRequest) -> None:
        self._check(rules.pause_problem(self._state))

    @workflow.update
    async def resume(self, request: ResumeRequest) -> TicketStatus:
        """The customer answered: clocks count again and escalations re-arm."""
        state = await self._ready()
        self._validate_resume(request)
        state.resume(workflow.now())
        return self._mark_changed()

    @resume.validator
    def _validate_resume(self, request: ResumeRequest) -> None:
        self._check(rules.resume_problem(self._state))

    @workflow.update
    async def customer_replied(self, request: CustomerRepliedRequest) -> TicketStatus:
        """A customer message: starts the next-reply clock; resumes a paused ticket."""
        state = await self._ready()
        now = workflow.now()
        self._check(rules.timed_event_problem(state, "customer_replied", request.at, now))
        state.customer_replied(self._at(request.at), now, self._calendars)
        return self._mark_changed()

    @customer_replied.validator
    def _validate_customer_replied(self, request: CustomerRepliedRequest) -> None:
        self._check(rules.customer_replied_problem(self._state, request.at, workflow.now()))

    @workflow.update
    async def agent_replied(self, request: AgentRepliedRequest) -> TicketStatus:
        """An agent's public reply: stops the next-reply clock (and first response, if first)."""
        state = await self._ready()
        self._validate_agent_replied(request)
        state.agent_replied(request.by, self._at(request.at), self._calendars)
        return self._mark_changed()

    @agent_replied.validator
    def _validate_agent_replied(self, request: AgentRepliedRequest) -> None:
        now = workflow.now()
        self._check(rules.timed_event_problem(self._state, "agent_replied", request.at, now))

    @workflow.update
    async def report_event(self, request: ReportEventRequest) -> TicketStatus:
        """A helpdesk's report of what happened at ``at``; reports count in ``at`` order."""
        state = await self._ready()
        self._validate_report_event(request)
        was_resolved = state.resolved
        now = workflow.now()
        at = self._at(request.at)
        state.report(request.event, at, request.by, request.source, now, self._calendars)
        if state.resolved and not was_resolved:
            for task in list(self._deliveries.values()):
                task.cancel()
        return self._mark_changed()

    @report_event.validator
    def _validate_report_event(self, request: ReportEventRequest) -> None:
        problem = rules.report_event_problem(self._state, request.event, request.at, workflow.now())
        self._check(problem)

    @workflow.update
    async def change_priority(self, request: ChangePriorityRequest) -> TicketStatus:
        """Re-target the clocks on another priority, keeping the time already elapsed."""
        state = await self._ready()
        self._validate_change_priority(request)
        state.change_priority(request.priority, workflow.now())
        return self._mark_changed()

    @change_priority.validator
    def _validate_change_priority(self, request: ChangePriorityRequest) -> None:
        self._check(rules.change_priority_problem(self._state, request.priority))

    @workflow.update
    async def update_attributes(self, request: UpdateAttributesRequest) -> TicketStatus:
        """New tags or attributes; another SLA plan they choose takes over the clocks that still
        count, keeping the business time already elapsed."""
        state = await self._ready()
        self._validate_update_attributes(request)
        plan = state.update_attributes(request.tags, request.attributes, workflow.now())
        if plan is not None:
            workflow.logger.info(
                "ticket %s: now on SLA plan %s",
                state.fields.ticket_id,
                plan,
                extra=self._log_extra(),
            )
        return self._mark_changed()

    @update_attributes.validator
    def _validate_update_attributes(self, request: UpdateAttributesRequest) -> None:
        self._check(rules.update_attributes_problem(self._state, request.attributes))

    @workflow.update
    async def update_impact(self, request: UpdateImpactRequest) -> TicketStatus:
        """New impact figures; impact triggers fire as soon as they hold."""
        state = await self._ready()
        self._validate_update_impact(request)
        state.update_impact(request.affected_users, request.critical_service, workflow.now())
        return self._mark_changed()

    @update_impact.validator
    def _validate_update_impact(self, request: UpdateImpactRequest) -> None:
        self._check(rules.resolved_problem(self._state, "update_impact"))

    @workflow.update
    async def reassign(self, request: ReassignRequest) -> TicketStatus:
        """Hand the ticket to another assignee, team or both."""
        state = await self._ready()
        self._validate_reassign(request)
        state.reassign(request.assignee, request.team, workflow.now())
        return self._mark_changed()

    @reassign.validator
    def _validate_reassign(self, request: ReassignRequest) -> None:
        self._check(rules.resolved_problem(self._state, "reassign"))

    @workflow.update
    async def migrate_policy(self, request: MigratePolicyRequest) -> TicketStatus:
        """Move the ticket onto the current version of its policy file (operators only: a
        ticket otherwise keeps the version it opened with)."""
        state = await self._ready()
        self._validate_migrate_policy(request)
        try:
            policy = await _load_policy_locally(
                LoadPolicyRequest(name=state.policy.name),
                f"load policy {state.policy.name} to migrate",
            )
        except ActivityError as err:
            cause = err.cause if isinstance(err.cause, ApplicationError) else err
            raise _reject(f"migrate_policy: {cause}") from err
        if policy.version != request.to_version:
            raise _reject(
                f"migrate_policy.to_version: policy {policy.name!r} is at version "
                f"{policy.version} on the worker, not {request.to_version}; deploy the reviewed "
                "version first, or name the version the worker has"
            )
        problem = state.migration_problem(policy)
        if problem is not None:
            raise _reject(f"migrate_policy: {problem}")
        # The ticket may have been resolved while the policy loaded.
        self._validate_migrate_policy(request)
        state.migrate_policy(policy, request.by, request.reason, workflow.now())
        self._calendars = policy_calendars(policy)
        return self._mark_changed()

    @migrate_policy.validator
    def _validate_migrate_policy(self, request: MigratePolicyRequest) -> None:
        self._check(rules.migrate_policy_problem(self._state, request.to_version))


def _failed(err: ActivityError) -> Delivery:
    cause = err.cause if err.cause is not None else err
    return Delivery(status="failed", detail=str(cause)[:1000])


def _reporting_search_values(outcome: TicketOutcome) -> dict[str, sa.SearchValue]:
    """The search attributes that let operators filter on outcomes (see README)."""
    response = outcome.clocks.get(ClockName.FIRST_RESPONSE)
    resolution = outcome.clocks.get(ClockName.RESOLUTION)
    closed_pauses = [p for p in outcome.pauses if p.end is not None]
    paused = sum((p.end - p.start).total_seconds() for p in closed_pauses if p.end is not None)
    breached = [name.value for name, clock in outcome.clocks.items() if clock.breached]
    if outcome.next_reply_breaches and ClockName.NEXT_REPLY.value not in breached:
        breached.append(ClockName.NEXT_REPLY.value)
    return {
        sa.POLICY.name: outcome.policy,
        sa.OPENED_AT.name: outcome.opened_at,
        sa.FIRST_RESPONSE_SECONDS.name: (
            round(response.business_seconds) if response and response.stopped else None
        ),
        sa.RESOLUTION_SECONDS.name: (
            round(resolution.business_seconds)
            if resolution and resolution.stopped and outcome.resolved
            else None
        ),
        sa.PAUSED_SECONDS.name: round(paused) if closed_pauses else None,
        sa.REOPENED.name: bool(outcome.reopens),
        sa.CSAT.name: float(outcome.csat) if outcome.csat is not None else None,
        sa.ESCALATION_LEVELS.name: sorted(outcome.escalations) or None,
        sa.BREACHED_CLOCKS.name: sorted(breached) or None,
    }


__all__ = ["TicketEscalation", "TicketStateName"]
