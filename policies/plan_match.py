"""Which SLA plan a ticket gets: the conditions of a plan, and choosing the first that matches.

A policy's ``plans`` are tried in order and the first whose ``when`` holds for the ticket (and
whose validity dates include the day the ticket opened) gives the ticket its targets; a ticket
no plan matches takes the policy's own ``targets``, the plan named ``default``. This is how
Zendesk SLA policies, Zammad's SLA conditions and ERPNext's service-level agreements choose.

Values compare case-insensitively: helpdesks disagree on the case of tags and tiers ("Gold",
"gold"), and a plan that silently failed to match over a capital letter would cost a customer
their contract's targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from policies.model import Policy

DEFAULT_PLAN = "default"
"""The plan of the policy's own ``targets``: the one a ticket gets when no plan matches."""

WELL_KNOWN_ATTRIBUTES = ("customer_tier", "ticket_type", "channel")
"""Ticket attributes a plan may test by name at the top of its ``when``."""


def _listed(value: Any) -> Any:
    # ``customer_tier: gold`` reads as naturally as ``customer_tier: [gold]``.
    return [value] if isinstance(value, str) else value


def _non_blank(values: list[str]) -> list[str]:
    for value in values:
        if not value.strip():
            raise ValueError("values must not be blank")
    return values


Values = Annotated[
    list[Annotated[str, Field(max_length=200)]],
    BeforeValidator(_listed),
    Field(min_length=1, max_length=100),
]
"""One value or a list of them; the condition holds when the ticket's value is any of them."""


class PlanWhen(BaseModel):
    """The conditions of a plan: every key given must hold; within a key, any listed value.

    ``customer`` tests the ticket's customer; ``customer_tier``, ``ticket_type`` and ``channel``
    test the ticket attributes of those names; ``tags`` holds when the ticket has any of them;
    ``attributes`` tests any other named attributes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer: Values | None = None
    customer_tier: Values | None = None
    ticket_type: Values | None = None
    channel: Values | None = None
    tags: Values | None = None
    attributes: dict[Annotated[str, Field(max_length=64)], Values] | None = Field(
        default=None, min_length=1, max_length=20
    )

    @model_validator(mode="after")
    def _something(self) -> PlanWhen:
        if not any(getattr(self, name) for name in type(self).model_fields):
            raise ValueError(
                "a plan needs at least one condition (customer, customer_tier, ticket_type, "
                "channel, tags or attributes); the policy's own targets are the plan for every "
                "other ticket"
            )
        for name in ("customer", "customer_tier", "ticket_type", "channel", "tags"):
            _non_blank(getattr(self, name) or [])
        for values in (self.attributes or {}).values():
            _non_blank(values)
        clash = sorted(set(self.attributes or {}) & set(WELL_KNOWN_ATTRIBUTES))
        if clash:
            raise ValueError(
                f"attributes.{clash[0]}: write {clash[0]} beside attributes, not inside it"
            )
        return self

    def conditions(self) -> dict[str, list[str]]:
        """Each tested attribute (``customer``, ``tags``, or an attribute's name) with its
        accepted values, in the order a reader meets them."""
        tested: dict[str, list[str]] = {}
        for name in ("customer", *WELL_KNOWN_ATTRIBUTES, "tags"):
            values = getattr(self, name)
            if values:
                tested[name] = list(values)
        tested.update({name: list(values) for name, values in (self.attributes or {}).items()})
        return tested


@dataclass(frozen=True)
class PlanFacts:
    """What plans are chosen by: the ticket's customer, tags and attributes."""

    customer: str
    tags: Sequence[str] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)


class _Plan(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def when(self) -> PlanWhen: ...
    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_until(self) -> date | None: ...


def _folded(values: Sequence[str]) -> set[str]:
    return {value.strip().casefold() for value in values}


def plan_matches(plan: _Plan, facts: PlanFacts, opened_at: datetime) -> bool:
    """Whether ``plan`` applies to a ticket with ``facts`` that opened at ``opened_at``.

    Validity dates are calendar days in UTC, both ends included.
    """
    day = opened_at.astimezone(UTC).date()
    if plan.valid_from is not None and day < plan.valid_from:
        return False
    if plan.valid_until is not None and day > plan.valid_until:
        return False
    attributes = {key.casefold(): value for key, value in facts.attributes.items()}
    tags = _folded(facts.tags)
    for name, accepted in plan.when.conditions().items():
        wanted = _folded(accepted)
        if name == "tags":
            if not tags & wanted:
                return False
            continue
        value = facts.customer if name == "customer" else attributes.get(name.casefold())
        if value is None or value.strip().casefold() not in wanted:
            return False
    return True


def select_plan(policy: Policy, facts: PlanFacts, opened_at: datetime) -> str:
    """The name of the first of ``policy``'s plans that applies, or ``default``."""
    for plan in policy.plans:
        if plan_matches(plan, facts, opened_at):
            return plan.name
    return DEFAULT_PLAN
