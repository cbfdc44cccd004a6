"""SLA plans: which plan a ticket gets, and policy files whose plans are wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.loader import PolicyError, default_policy_dir, load_named_policy, parse_policy
from policies.plan_match import DEFAULT_PLAN, PlanFacts, select_plan

POLICY = """
name: tiers
version: 1
targets:
  P1: {first_response: 1h, resolution: 8h}
  P2: {first_response: 2h, resolution: 16h}
plans:
  - name: gold
    when: {customer_tier: [gold, platinum]}
    targets:
      P1: {first_response: 15m, resolution: 2h}
      P2: {first_response: 30m, resolution: 4h}
  - name: acme-2026
    when: {customer: Acme Corp, ticket_type: incident}
    valid_from: 2026-01-01
    valid_until: 2026-12-31
    targets:
      P1: {first_response: 10m, resolution: 1h}
      P2: {first_response: 20m, resolution: 2h}
  - name: standard
    when:
      tags: [standard-sla]
      attributes: {region: [emea, apac]}
    targets:
      P1: {first_response: 30m, resolution: 4h}
      P2: {first_response: 1h, resolution: 8h}
levels:
  - name: breached
    when: {clock: resolution, at: 100%}
    notify: [assignee]
"""
OPENED = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _plan(customer: str = "Initech", opened: datetime = OPENED, **facts: object) -> str:
    policy = parse_policy(POLICY, "tiers.yaml")
    return select_plan(policy, PlanFacts(customer, **facts), opened)  # type: ignore[arg-type]


def test_first_matching_plan_wins_and_default_catches_the_rest() -> None:
    assert _plan(attributes={"customer_tier": "gold"}) == "gold"
    # Gold is tried before acme-2026, which Acme also matches.
    both = {"customer_tier": "platinum", "ticket_type": "incident"}
    assert _plan("Acme Corp", attributes=both) == "gold"
    assert _plan("Acme Corp", attributes={"ticket_type": "incident"}) == "acme-2026"
    assert _plan(tags=["standard-sla"], attributes={"region": "emea"}) == "standard"
    assert _plan() == DEFAULT_PLAN


def test_every_condition_of_a_plan_must_hold() -> None:
    assert _plan(tags=["standard-sla"]) == DEFAULT_PLAN  # no region
    assert _plan(tags=["standard-sla"], attributes={"region": "amer"}) == DEFAULT_PLAN
    assert _plan(attributes={"region": "emea"}) == DEFAULT_PLAN  # no tag
    assert _plan("Acme Corp", attributes={"ticket_type": "question"}) == DEFAULT_PLAN


def test_values_compare_case_insensitively() -> None:
    assert _plan(attributes={"customer_tier": "Gold"}) == "gold"
    assert _plan(tags=["Standard-SLA"], attributes={"region": "EMEA "}) == "standard"
    assert _plan("acme corp", attributes={"ticket_type": "Incident"}) == "acme-2026"


@pytest.mark.parametrize(
    ("opened", "expected"),
    [
        (datetime(2025, 12, 31, 23, 59, tzinfo=UTC), DEFAULT_PLAN),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "acme-2026"),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), "acme-2026"),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), DEFAULT_PLAN),
        # The validity dates are UTC days, whatever the opening's own offset.
        (datetime(2026, 12, 31, 20, tzinfo=timezone(timedelta(hours=-5))), DEFAULT_PLAN),
    ],
)
def test_validity_dates_include_both_ends(opened: datetime, expected: str) -> None:
    assert _plan("Acme Corp", opened, attributes={"ticket_type": "incident"}) == expected


def test_plan_targets_and_names() -> None:
    policy = parse_policy(POLICY, "tiers.yaml")
    assert policy.plan_names() == ["gold", "acme-2026", "standard", DEFAULT_PLAN]
    assert policy.plan_targets("gold")["P1"].first_response == timedelta(minutes=15)
    assert policy.plan_targets(DEFAULT_PLAN) == policy.targets
    # A plan a later version dropped falls back to the policy's own targets.
    assert policy.plan_targets("silver") == policy.targets


@given(
    tags=st.lists(st.sampled_from(["vip", "standard-sla", "x"]), max_size=3),
    tier=st.sampled_from([None, "gold", "silver"]),
    region=st.sampled_from([None, "emea", "amer"]),
)
def test_selection_is_the_first_plan_whose_conditions_all_hold(
    tags: list[str], tier: str | None, region: str | None
) -> None:
    attributes = {k: v for k, v in {"customer_tier": tier, "region": region}.items() if v}
    chosen = _plan(tags=tags, attributes=attributes)
    if tier == "gold":
        assert chosen == "gold"
    elif "standard-sla" in tags and region == "emea":
        assert chosen == "standard"
    else:
        assert chosen == DEFAULT_PLAN


def test_shipped_tiered_policy_has_its_plans() -> None:
    policy = load_named_policy(default_policy_dir(), "tiered")
    assert policy.plan_names() == ["gold", "standard", DEFAULT_PLAN]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("name: standard", "name: gold"),
            "plans.2 (gold).name: 'gold' is used twice",
        ),
        (
            ("name: standard", "name: default"),
            "plans.2 (default).name: 'default' is the policy's own targets",
        ),
        (
            ("      P2: {first_response: 1h, resolution: 8h}\n", ""),
            "plans.2 (standard).targets: no targets for P2",
        ),
        (
            ("      P2: {first_response: 1h, resolution: 8h}", "      P9: {resolution: 1h}"),
            "plans.2.targets.P9.first_response: Field required",
        ),
        (
            (
                "      P2: {first_response: 1h, resolution: 8h}",
                "      P2: {first_response: 1h, resolution: 8h}\n"
                "      P3: {first_response: 1h, resolution: 8h}",
            ),
            "plans.2 (standard).targets.P3: priority 'P3' is not one of the policy's priorities",
        ),
        (
            (
                "P1: {first_response: 30m, resolution: 4h}",
                "P1: {first_response: 30m, resolution: 4h, calendar: office}",
            ),
            "plans.2 (standard).targets.P1.calendar: unknown calendar 'office'",
        ),
        (
            ("when: {customer_tier: [gold, platinum]}", "when: {}"),
            "plans.0.when: a plan needs at least one condition",
        ),
        (
            ("when: {customer_tier: [gold, platinum]}", "when: {tier: gold}"),
            "plans.0.when.tier: Extra inputs are not permitted",
        ),
        (
            ("when: {customer_tier: [gold, platinum]}", "when: {customer_tier: []}"),
            "plans.0.when.customer_tier: Value should have at least 1 item",
        ),
        (
            ("when: {customer_tier: [gold, platinum]}", "when: {customer_tier: ' '}"),
            "plans.0.when: values must not be blank",
        ),
        (
            ("attributes: {region: [emea, apac]}", "attributes: {channel: [email]}"),
            "attributes.channel: write channel beside attributes, not inside it",
        ),
        (
            ("valid_until: 2026-12-31", "valid_until: 2025-12-31"),
            "plans.1: valid_until 2025-12-31 is before valid_from 2026-01-01",
        ),
        (
            ("valid_until: 2026-12-31", "valid_until: 2026-02-30"),
            "plans.1.valid_until: Input should be a valid date",
        ),
    ],
)
def test_plan_problems_name_the_field(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in POLICY
    with pytest.raises(PolicyError) as caught:
        parse_policy(POLICY.replace(old, new, 1), "tiers.yaml")
    assert expected in str(caught.value)
    assert str(caught.value).startswith("tiers.yaml")
