"""The escalation policy schema: what engineers author in ``policies/*.yaml``.

Every model forbids unknown keys, so a typo in a reviewed YAML file (``notfy:``) is an error with
its field path, not a silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_serializer,
    model_validator,
)
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from policies.calendar_definition import CalendarDefinition
from policies.channels import RESERVED_CHANNEL_NAMES, Channel, PagerDutySettings
from policies.durations import OptionalTarget, PositiveDuration, Target, TargetSpec
from policies.emails import EmailAddress, is_email_address
from policies.plan_match import DEFAULT_PLAN, PlanWhen
from policies.rotations import Rotation, rotation_problems

ALWAYS_OPEN = "24x7"
"""The built-in calendar that never closes: every second counts."""

BUILTIN_ROLES = frozenset({"assignee"})
"""Roles every policy has without declaring them: the ticket's current assignee."""

# \Z, not $: "$" also matches before a trailing newline ("payments\n").
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
_PRIORITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}\Z")


def slug_problem(value: str) -> str | None:
    """Why ``value`` is not a safe name (of a policy, calendar, role, team), or None."""
    if _SLUG.match(value):
        return None
    return (
        f"{value[:80]!r} must be 1-64 lowercase letters, digits, '-' or '_', starting with a "
        "letter or digit"
    )


def _slug(value: str) -> str:
    problem = slug_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _priority(value: str) -> str:
    if not _PRIORITY.match(value):
        raise ValueError(f"{value!r} must be 1-16 letters, digits, '-' or '_' (such as P1)")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
"""A name that is safe in file names, ids and search attributes."""

PriorityName = Annotated[str, AfterValidator(_priority)]
"""A priority's name, such as ``P1``; a policy's targets define which exist."""


class ClockName(StrEnum):
    """The SLA clocks a ticket keeps."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    NEXT_REPLY = "next_reply"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Targets(_Strict):
    """SLA targets for one priority, counted in business time on ``calendar``.

    Each is a duration (``4h``) or working days of the calendar (``2bd``, ``eod``, ``2bd eod``;
    see :mod:`policies.working_days`). ``next_reply`` is the time an agent has to answer each
    later customer message; it defaults to the first-response target. ``resolution`` left out
    (or ``none``) makes the targets response-only: the resolution clock still counts, but has
    no target, never breaches, and levels on it never fire.
    """

    first_response: Target
    resolution: OptionalTarget = None
    next_reply: Target | None = None
    calendar: Slug = ALWAYS_OPEN

    def for_clock(self, clock: ClockName) -> TargetSpec | None:
        """The target of one clock as authored; None for a resolution without a target."""
        if clock is ClockName.FIRST_RESPONSE:
            return self.first_response
        if clock is ClockName.RESOLUTION:
            return self.resolution
        return self.next_reply if self.next_reply is not None else self.first_response


def _percent(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            raise ValueError(f"{value!r} must be a share of the target such as 75% or 100%")
        try:
            return float(text[:-1])
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage such as 75%") from None
    return value


Percent = Annotated[float, BeforeValidator(_percent), Field(gt=0, le=10_000)]


class ClockCondition(_Strict):
    """True while ``clock`` runs and its business time has reached the threshold.

    Exactly one of ``at`` (a share of the target), ``before_breach`` or ``after_breach`` sets the
    threshold.
    """

    clock: ClockName
    at: Percent | None = None
    before_breach: PositiveDuration | None = None
    after_breach: PositiveDuration | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> ClockCondition:
        given = [k for k in ("at", "before_breach", "after_breach") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a clock condition needs exactly one of at (such as 75%), before_breach or "
                f"after_breach (such as 2h); got {', '.join(given) or 'none'}"
            )
        return self


TicketField = Literal["affected_users", "critical_service", "priority", "team", "customer"]
_NUMERIC_FIELDS = {"affected_users"}
_ORDER_OPS = ("gte", "gt", "lte", "lt")


class FieldCondition(_Strict):
    """True while a ticket field compares as stated; re-checked on every update."""

    field: TicketField
    eq: int | bool | str | None = None
    gte: int | None = None
    gt: int | None = None
    lte: int | None = None
    lt: int | None = None
    in_: list[str] | None = Field(default=None, alias="in")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_operator(self) -> FieldCondition:
        ops = [k for k in ("eq", *_ORDER_OPS, "in_") if getattr(self, k) is not None]
        if len(ops) != 1:
            raise ValueError(
                "a field condition needs exactly one of eq, gte, gt, lte, lt or in; "
                f"got {', '.join(o.rstrip('_') for o in ops) or 'none'}"
            )
        op = ops[0]
        if op in _ORDER_OPS and self.field not in _NUMERIC_FIELDS:
            raise ValueError(f"{op} compares numbers; {self.field} is not a number")
        if self.field == "critical_service" and op == "eq" and not isinstance(self.eq, bool):
            raise ValueError("critical_service is true or false")
        return self


def _condition_kind(value: Any) -> str | None:
    # Anything but a mapping or a condition model (a number, a list) has no kind, so pydantic
    # reports its "a condition is ..." error at the field instead of a TypeError escaping.
    if isinstance(value, dict):
        keys = set(value)
    elif isinstance(value, BaseModel):
        keys = set(type(value).model_fields)
    else:
        return None
    for kind in ("any", "all", "clock", "field"):
        if kind in keys:
            return kind
    return None


class AnyCondition(_Strict):
    """True when any of its conditions is true."""

    any: list[Condition] = Field(min_length=1)


class AllCondition(_Strict):
    """True when all of its conditions are true."""

    all: list[Condition] = Field(min_length=1)


Condition = Annotated[
    Annotated[ClockCondition, Tag("clock")]
    | Annotated[FieldCondition, Tag("field")]
    | Annotated[AnyCondition, Tag("any")]
    | Annotated[AllCondition, Tag("all")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message=(
            "a condition is {clock: ..., at: 75%}, {field: ..., gte: 500}, {any: [...]} "
            "or {all: [...]}"
        ),
    ),
]


class Repeat(_Strict):
    """Notify again every ``every`` while the level's condition still holds, ``times`` more."""

    every: PositiveDuration
    times: int = Field(ge=1, le=100)


class Reassign(_Strict):
    """Hand the ticket to another team or person when the level fires."""

    team: Slug | None = None
    assignee: EmailAddress | None = None

    @model_validator(mode="after")
    def _something(self) -> Reassign:
        if self.team is None and self.assignee is None:
            raise ValueError("reassign needs a team, an assignee or both")
        return self


class Level(_Strict):
    """One rung of the escalation ladder."""

    name: Slug
    when: Condition
    notify: list[Slug] = Field(min_length=1)
    priorities: list[PriorityName] | None = None
    repeat: Repeat | None = None
    channel: Literal["email"] = "email"
    template_id: str | None = Field(default=None, pattern=r"^d-[0-9a-f]{32}$")
    set_priority: PriorityName | None = None
    reassign: Reassign | None = None


def _contact(value: str) -> str:
    if is_email_address(value) or slug_problem(value) is None:
        return value
    shown = value if len(value) <= 80 else value[:77] + "..."
    raise ValueError(
        f"{shown!r} is neither an email address such as lead@example.com nor the name of a "
        "channel under channels or a rotation under rotations"
    )


ContactName = Annotated[str, AfterValidator(_contact)]
"""A point of contact: an email address, or the name of one of the policy's ``channels`` or
``rotations`` (whoever is on call when a level fires)."""

Contacts = dict[Slug, list[ContactName]]


class QuietHours(_Strict):
    """Notify a role or address only while ``calendar`` is open; hold notices until it opens.

    Tickets of a priority in ``page_any_time`` notify at once, whatever the hour.
    """

    calendar: Slug
    page_any_time: list[PriorityName] = []


DEFAULT_SLO_WINDOW = timedelta(days=28)
DEFAULT_FEEDBACK_WINDOW = timedelta(days=7)
ObjectivePercent = Annotated[float, BeforeValidator(_percent), Field(gt=0, lt=100)]
"""An SLO's objective: the share of clocks that must stop within target (95%; never 100%,
which leaves no error budget)."""


class Objective(_Strict):
    """One service-level objective: ``objective`` of ``priority``'s ``clock`` within target.

    Example: ``{priority: P1, clock: first_response, objective: 95%}`` means 95% of P1 first
    responses within the P1 first-response target, over the rolling ``window``.
    """

    priority: PriorityName
    clock: ClockName
    objective: ObjectivePercent
    window: PositiveDuration = DEFAULT_SLO_WINDOW

    @property
    def key(self) -> str:
        """A stable name for the objective: ``P1-first_response``."""
        return f"{self.priority}-{self.clock.value}"

    @property
    def error_budget(self) -> float:
        """The share of clocks allowed to miss the target (0.05 for a 95% objective)."""
        return 1 - self.objective / 100


class BurnRateAlert(_Strict):
    """A multiwindow burn-rate alert (Google SRE workbook, chapter 5).

    It fires when the error budget burns at least ``burn_rate`` times faster than the rate that
    would use exactly all of it over the objective's window, in both the ``long_window`` and
    the ``short_window`` (the short one makes it reset soon after the burning stops).
    """

    long_window: PositiveDuration
    short_window: PositiveDuration
    burn_rate: float = Field(gt=0, le=1000)

    @model_validator(mode="after")
    def _short_within_long(self) -> BurnRateAlert:
        if self.short_window >= self.long_window:
            raise ValueError("short_window must be shorter than long_window")
        return self


DEFAULT_BURN_RATE_ALERTS = (
    # The workbook's page-worthy pair for a 28-30 day window: 2% of the budget in one hour.
    BurnRateAlert(
        long_window=timedelta(hours=1), short_window=timedelta(minutes=5), burn_rate=14.4
    ),
    # 5% of the budget in six hours.
    BurnRateAlert(
        long_window=timedelta(hours=6), short_window=timedelta(minutes=30), burn_rate=6.0
    ),
)


class ServiceLevels(_Strict):
    """The policy's objectives and who hears when their error budgets burn too fast."""

    objectives: list[Objective] = []
    notify: list[Slug] | None = Field(default=None, min_length=1)
    """Roles to alert; unset: the policy's ``manager`` and ``executive`` contacts."""
    alerts: list[BurnRateAlert] = Field(
        default_factory=lambda: list(DEFAULT_BURN_RATE_ALERTS), min_length=1
    )


class Plan(_Strict):
    """An SLA plan: targets for the tickets its conditions choose (see
    :mod:`policies.plan_match`)."""

    name: Slug
    description: str = Field(default="", max_length=500)
    when: PlanWhen
    valid_from: date | None = None
    """The first day (UTC) a ticket may open under this plan."""
    valid_until: date | None = None
    """The last day (UTC) a ticket may open under this plan."""
    targets: dict[PriorityName, Targets] = Field(min_length=1)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Plan:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError(
                f"valid_until {self.valid_until} is before valid_from {self.valid_from}"
            )
        return self


class Policy(_Strict):
    """A complete escalation policy, as loaded from one YAML file."""

    name: Slug
    version: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)] = Field(
        min_length=1, max_length=64
    )
    description: str = ""
    targets: dict[PriorityName, Targets] = Field(min_length=1)
    """The default plan's targets, whose order defines the priorities (most urgent first)."""
    plans: list[Plan] = Field(default_factory=list, max_length=50)
    """Other targets for the tickets their conditions choose; the first match wins."""
    contacts: Contacts = Field(default_factory=dict)
    teams: dict[Slug, Contacts] = Field(default_factory=dict)
    levels: list[Level] = Field(min_length=1)
    calendars: dict[Slug, CalendarDefinition] = Field(default_factory=dict)
    quiet_hours: dict[str, QuietHours] = Field(default_factory=dict)
    channels: dict[Slug, Channel] = Field(default_factory=dict)
    """Named endpoints (Slack, PagerDuty, Teams, signed webhooks) contacts may list."""
    rotations: dict[Slug, Rotation] = Field(default_factory=dict)
    """On-call rotations contacts may list: the member on call when a level fires."""
    feedback_window: PositiveDuration = DEFAULT_FEEDBACK_WINDOW
    """How long a resolved ticket takes feedback and may be reopened before it closes."""
    service_levels: ServiceLevels = Field(default_factory=ServiceLevels)

    @model_serializer(mode="wrap")
    def _without_empty_newer_sections(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        # A loaded policy is recorded in every ticket's history: a policy without plans or
        # rotations records exactly what it did before those sections existed.
        data: dict[str, Any] = handler(self)
        for key in ("plans", "rotations"):
            if not data.get(key):
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _references(self) -> Policy:
        problems: list[str] = []
        roles = set(self.contacts) | BUILTIN_ROLES
        for team, overrides in self.teams.items():
            problems += [
                f"teams.{team}.{role}: role {role!r} is not declared under contacts"
                for role in overrides
                if role not in roles
            ]
        if ALWAYS_OPEN in self.calendars:
            problems.append(f"calendars.{ALWAYS_OPEN}: the name is built in; choose another")
        calendars = {ALWAYS_OPEN, *self.calendars}
        problems += self._channel_problems()
        problems += rotation_problems(self.rotations, set(self.channels), roles)
        problems += self._quiet_hours_problems(roles, calendars)
        problems += [
            f"targets.{prio}.calendar: unknown calendar {t.calendar!r}; defined: "
            f"{', '.join(sorted(calendars))}"
            for prio, t in self.targets.items()
            if t.calendar not in calendars
        ]
        problems += self._plan_problems(calendars)
        names: set[str] = set()
        for i, level in enumerate(self.levels):
            where = f"levels.{i} ({level.name})"
            if level.name in names:
                problems.append(f"{where}: the level name {level.name!r} is used twice")
            names.add(level.name)
            problems += [
                f"{where}.notify: unknown role {role!r}; known roles: {', '.join(sorted(roles))}"
                for role in level.notify
                if role not in roles
            ]
            for prio in (level.priorities or []) + (
                [level.set_priority] if level.set_priority else []
            ):
                if prio not in self.targets:
                    problems.append(
                        f"{where}: priority {prio!r} has no targets; defined: "
                        f"{', '.join(self.targets)}"
                    )
        problems += self._service_level_problems(roles)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _plan_problems(self, calendars: set[str]) -> list[str]:
        problems: list[str] = []
        names = {DEFAULT_PLAN}
        priorities = list(self.targets)
        for i, plan in enumerate(self.plans):
            where = f"plans.{i} ({plan.name})"
            if plan.name in names:
                problems.append(
                    f"{where}.name: {plan.name!r} is "
                    + ("the policy's own targets" if plan.name == DEFAULT_PLAN else "used twice")
                )
            names.add(plan.name)
            missing = [prio for prio in priorities if prio not in plan.targets]
            if missing:
                problems.append(
                    f"{where}.targets: no targets for {', '.join(missing)}; a plan gives "
                    f"targets for every priority of the policy ({', '.join(priorities)})"
                )
            problems += [
                f"{where}.targets.{prio}: priority {prio!r} is not one of the policy's "
                f"priorities ({', '.join(priorities)}); add it under targets first"
                for prio in plan.targets
                if prio not in self.targets
            ]
            problems += [
                f"{where}.targets.{prio}.calendar: unknown calendar {t.calendar!r}; defined: "
                f"{', '.join(sorted(calendars))}"
                for prio, t in plan.targets.items()
                if t.calendar not in calendars
            ]
        return problems

    def plan_names(self) -> list[str]:
        """Every plan's name in the order they are tried, ``default`` last."""
        return [plan.name for plan in self.plans] + [DEFAULT_PLAN]

    def plan_targets(self, plan: str) -> dict[str, Targets]:
        """The targets table of ``plan``; the policy's own for ``default`` or a plan this
        version no longer has (a ticket keeps running on a policy migrated under it)."""
        for candidate in self.plans:
            if candidate.name == plan:
                return dict(candidate.targets)
        return self.targets

    def _service_level_problems(self, roles: set[str]) -> list[str]:
        levels = self.service_levels
        problems = [
            f"service_levels.notify: unknown role {role!r}; known roles: {', '.join(sorted(roles))}"
            for role in levels.notify or []
            if role not in roles
        ]
        seen: set[str] = set()
        for i, objective in enumerate(levels.objectives):
            where = f"service_levels.objectives.{i}"
            if objective.priority not in self.targets:
                problems.append(
                    f"{where}.priority: {objective.priority!r} has no targets; defined: "
                    f"{', '.join(self.targets)}"
                )
            if objective.key in seen:
                problems.append(f"{where}: a second objective for {objective.key}")
            seen.add(objective.key)
        return problems

    def _channel_problems(self) -> list[str]:
        problems = [
            f"channels.{name}: the name is reserved; choose another"
            for name in self.channels
            if name in RESERVED_CHANNEL_NAMES
        ]
        for name, channel in self.channels.items():
            settings = channel.settings
            if isinstance(settings, PagerDutySettings):
                problems += [
                    f"channels.{name}.pagerduty.severity.{prio}: priority {prio!r} has no "
                    f"targets; defined: {', '.join(self.targets)}"
                    for prio in settings.severity
                    if prio not in self.targets
                ]
        defined = ", ".join(sorted(self.channels)) or "none"
        rotations = f", nor a rotation ({', '.join(self.rotations)})" if self.rotations else ""
        places = [("contacts", self.contacts)] + [
            (f"teams.{team}", overrides) for team, overrides in self.teams.items()
        ]
        for where, contacts in places:
            for role, entries in contacts.items():
                problems += [
                    f"{where}.{role}.{i}: {entry!r} is not an email address, and no channel of "
                    f"that name is defined under channels (defined: {defined}){rotations}"
                    for i, entry in enumerate(entries)
                    if not is_email_address(entry)
                    and entry not in self.channels
                    and entry not in self.rotations
                ]
        return problems

    def _quiet_hours_problems(self, roles: set[str], calendars: set[str]) -> list[str]:
        problems: list[str] = []
        for who, quiet in self.quiet_hours.items():
            where = f"quiet_hours.{who}"
            known = who in roles or who in self.channels or who in self.rotations
            if not known and not is_email_address(who):
                problems.append(
                    f"{where}: {who!r} is neither a role ({', '.join(sorted(roles))}), an "
                    "email address nor a channel"
                    + (f", nor a rotation ({', '.join(self.rotations)})" if self.rotations else "")
                )
            if quiet.calendar not in calendars:
                problems.append(
                    f"{where}.calendar: unknown calendar {quiet.calendar!r}; defined: "
                    f"{', '.join(sorted(calendars))}"
                )
            problems += [
                f"{where}.page_any_time: priority {prio!r} has no targets; defined: "
                f"{', '.join(self.targets)}"
                for prio in quiet.page_any_time
                if prio not in self.targets
            ]
        return problems

    def quiet_hours_for(
        self, role: str, address: str, rotation: str | None = None
    ) -> QuietHours | None:
        """The quiet hours that apply to ``address`` (an email address or a channel) notified
        as ``role``, through ``rotation`` if it is that rotation's member on call: an entry for
        the address or channel itself wins over one for the rotation, which wins over one for
        the role."""
        for key, quiet in self.quiet_hours.items():
            if key.lower() == address.lower():
                return quiet
        if rotation is not None and rotation in self.quiet_hours:
            return self.quiet_hours[rotation]
        return self.quiet_hours.get(role)

    def slo_alert_roles(self) -> list[str]:
        """The roles an error-budget alert notifies."""
        if self.service_levels.notify is not None:
            return list(self.service_levels.notify)
        return [role for role in ("manager", "executive") if role in self.contacts]


AnyCondition.model_rebuild()
AllCondition.model_rebuild()
