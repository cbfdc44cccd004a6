"""A helpdesk's tags and custom fields become the ticket's tags and attributes, when the mapping
says so: validated in the mapping file, never failing a delivery however odd the values, and
moving a running ticket to the SLA plan they choose."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from escalations.client.tickets import TicketClient
from escalations.intake.apply import apply_plan
from escalations.intake.attributes import MAX_VALUE, attribute_value
from escalations.intake.events import PayloadError, SourceEvent, SourceName, SourceTicket
from escalations.intake.mapping import Mapping, load_mappings, parse_mapping
from escalations.intake.sources import github, jira, zendesk
from escalations.intake.translate import Plan, plan
from policies.loader import PolicyError, default_policy_dir, load_named_policy
from policies.plan_match import PlanFacts, select_plan
from tests.intake.reader_cases import DATA, changed

# The workflow tests' fixtures: a worker on the time-skipping server, with the test policies.
from tests.workflows.conftest import Harness, fake_sendgrid, harness  # noqa: F401
from workflows.ticket_messages import (
    MAX_TAGS,
    TicketInput,
    UpdateAttributesRequest,
    workflow_id_for,
)

SHIPPED = load_mappings(None)
AT = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)

GOOD = """
source: zendesk
secret: {env: ZD_SECRET}
ticket_id_prefix: "ZD-"
default_priority: P3
default_team: support
"""


def carrying(source: SourceName = "zendesk", **keys: Any) -> Mapping:
    """The shipped mapping of ``source`` with ``keys`` (tags, attributes) set, validated."""
    values = SHIPPED[source].model_dump(mode="json") | keys
    return Mapping.model_validate(values)


ZENDESK = carrying(tags=True, attributes={"customer_tier": "customer_tier", "ticket_type": "type"})


def event(kind: str = "updated", delivery: str = "d-1", **changes: Any) -> SourceEvent:
    ticket = SourceTicket(
        ref="481",
        title="Checkout down",
        status="open",
        priority="high",
        requester="tom@globex.example",
        organization="Globex",
        tags=("vip", "checkout"),
        fields={"customer_tier": "Gold", "type": "incident", "affected_users": 40},
    )
    values: dict[str, Any] = {
        "source": "zendesk",
        "delivery_id": delivery,
        "kind": kind,
        "at": AT,
        "ticket": ticket.model_copy(update=changes.pop("ticket", {})),
    }
    return SourceEvent(**(values | changes))


def opening(result: Plan) -> TicketInput:
    request = result.steps[0].request
    assert isinstance(request, TicketInput)
    return request


def attributes_update(result: Plan) -> UpdateAttributesRequest:
    (step,) = [s for s in result.steps if s.name == "update_attributes"]
    assert step.update_id.endswith(":attributes")
    assert isinstance(step.request, UpdateAttributesRequest)
    return step.request


# The mapping file.


def test_a_mapping_carries_tags_and_attributes_only_when_it_says_so() -> None:
    plain = parse_mapping(GOOD, "zendesk.yaml")
    assert (plain.tags, plain.attributes) == (False, {})
    for mapping in SHIPPED.values():
        assert (mapping.tags, mapping.attributes) == (False, {}), mapping.source
    given = parse_mapping(
        GOOD + "tags: true\nattributes: {customer_tier: Customer Tier, ticket_type: type}\n",
        "zendesk.yaml",
    )
    assert given.tags is True
    assert given.attributes == {"customer_tier": "Customer Tier", "ticket_type": "type"}


@pytest.mark.parametrize(
    ("added", "field", "message"),
    [
        ("tags: maybe", "tags", "boolean"),
        ("attributes: {Customer Tier: tier}", "attributes.Customer Tier", "lowercase letters"),
        ("attributes: {_tier: tier}", "attributes._tier", "starting with a letter"),
        ("attributes: {tier-name: tier}", "attributes.tier-name", "lowercase letters"),
        (f"attributes: {{{'t' * 65}: tier}}", "attributes.ttt", "1-64"),
        ('attributes: {"tier\\u0007": tier}', "attributes.tier", "'tier\\x07'"),
        ("attributes: {customer_tier: ''}", "attributes.customer_tier", "custom field's name"),
        ('attributes: {customer_tier: "a\\nb"}', "attributes.customer_tier", "one line"),
        (f"attributes: {{customer_tier: {'f' * 201}}}", "attributes.customer_tier", "1-200"),
        ("attributes: {customer_tier: 3}", "attributes.customer_tier", "string"),
        ("attributes: [customer_tier]", "attributes", "dictionary"),
        (
            "attributes: {" + ", ".join(f"a{i}: f{i}" for i in range(21)) + "}",
            "attributes",
            "at most 20",
        ),
    ],
)
def test_a_mistake_in_the_new_keys_names_the_file_and_field(
    added: str, field: str, message: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_mapping(GOOD + added + "\n", "mappings/zendesk.yaml")
    text = str(raised.value)
    assert text.startswith("mappings/zendesk.yaml: ")
    assert f"  {field}" in text
    assert message in text


def test_the_documented_zendesk_example_fits_its_policy_and_chooses_gold() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "intake.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", docs, re.S) if "policy: tiered" in b]
    mapping = Mapping.model_validate(
        SHIPPED["zendesk"].model_dump(mode="json") | yaml.safe_load(block)
    )
    tiered = load_named_policy(default_policy_dir(), "tiered")
    assert mapping.policy_problems(tiered) == []
    created = opening(plan(event("created", ticket={"tags": ()}), mapping))
    assert created.attributes == {"customer_tier": "Gold", "ticket_type": "incident"}
    facts = PlanFacts(customer=created.customer, tags=created.tags, attributes=created.attributes)
    assert select_plan(tiered, facts, AT) == "gold"


# Opening and updating.


def test_a_mapping_that_carries_nothing_opens_and_updates_as_before() -> None:
    created = opening(plan(event("created"), SHIPPED["zendesk"]))
    assert not {"tags", "attributes"} & created.model_fields_set
    updated = plan(event(changed={"tags", "fields"}), SHIPPED["zendesk"])
    assert [s.label for s in updated.steps] == ["update_impact"]
    assert updated.skipped == ()


def test_a_ticket_opens_with_the_sources_tags_and_mapped_attributes() -> None:
    result = plan(event("created"), ZENDESK)
    created = opening(result)
    assert created.tags == ["vip", "checkout"]
    assert created.attributes == {"customer_tier": "Gold", "ticket_type": "incident"}
    assert result.skipped == ()


def test_an_absent_or_empty_field_opens_without_its_attribute() -> None:
    fields = {"customer_tier": "  \t ", "affected_users": 40}
    created = opening(plan(event("created", ticket={"fields": fields}), ZENDESK))
    assert created.attributes == {}


@pytest.mark.parametrize(
    ("changes", "tags", "attributes"),
    [
        ({"tags"}, ["vip", "checkout"], {}),
        ({"fields"}, None, {"customer_tier": "Gold", "ticket_type": "incident"}),
        (
            {"tags", "fields", "status"},
            ["vip", "checkout"],
            {"customer_tier": "Gold", "ticket_type": "incident"},
        ),
    ],
)
def test_a_change_of_tags_or_fields_is_one_update_with_the_current_values(
    changes: set[str], tags: list[str] | None, attributes: dict[str, str]
) -> None:
    request = attributes_update(plan(event(changed=changes), ZENDESK))
    assert (request.tags, request.attributes) == (tags, attributes)


def test_a_field_emptied_removes_its_attribute_and_tags_all_removed_are_sent_empty() -> None:
    ticket = {"tags": (), "fields": {"customer_tier": "", "affected_users": 3}}
    request = attributes_update(plan(event(changed={"tags", "fields"}, ticket=ticket), ZENDESK))
    assert request.tags == []
    assert request.attributes == {"customer_tier": None, "ticket_type": None}


def test_other_changes_send_no_attributes_and_a_redelivery_the_same_update_id() -> None:
    assert [s.label for s in plan(event(changed={"status", "priority"}), ZENDESK).steps] == [
        "report_event:active",
        "change_priority",
    ]
    tags_only = carrying(tags=True)
    assert "update_attributes" not in [
        s.name for s in plan(event(changed={"fields"}), tags_only).steps
    ]
    first = plan(event(changed={"tags"}), ZENDESK).steps
    again = plan(event(changed={"tags"}), ZENDESK).steps
    assert [s.update_id for s in first] == [s.update_id for s in again]
    assert "zendesk:d-1:attributes" in [s.update_id for s in first]


# What a source's users may type, and what an attacker may send.


def test_tags_with_control_characters_spaces_or_too_long_are_left_out_and_named() -> None:
    odd = ("vip\x00", "esc\x1b[31m", "line\u2028break", "two words", "x" * 65, "bidi\u202e")
    result = plan(event("created", ticket={"tags": ("gold", *odd, "GOLD")}), ZENDESK)
    assert opening(result).tags == ["gold"]
    (note,) = result.skipped
    assert note.startswith("tags that are not valid here")
    assert "'vip\\x00'" in note
    assert "and 1 more" in note
    assert not any(char in note for char in "\x00\x1b\u2028\u202e")


def test_ten_thousand_tags_keep_the_first_valid_ones_and_count_the_rest() -> None:
    many = tuple(f"tag-{i}" for i in range(10_000))
    created = plan(event("created", ticket={"tags": many}), ZENDESK)
    assert opening(created).tags == list(many[:MAX_TAGS])
    assert created.skipped == (f"tags beyond the first {MAX_TAGS} left out: {10_000 - MAX_TAGS}",)
    spaced = tuple(f"tag {i}" for i in range(10_000))
    update = plan(event(changed={"tags"}, ticket={"tags": spaced}), ZENDESK)
    assert attributes_update(update).tags == []
    (note,) = update.skipped
    assert note.endswith("and 9995 more")
    assert len(note) < 400


def test_ten_thousand_tags_in_a_zendesk_delivery_are_bounded_by_the_reader() -> None:
    body = (DATA / "zendesk" / "01-created.json").read_bytes()
    tags = " ".join(f"tag-{i}" for i in range(10_000))
    read = zendesk.read({}, changed(body, "ticket.tags", tags))
    assert read.ticket is not None
    assert opening(plan(read, ZENDESK)).tags == [f"tag-{i}" for i in range(MAX_TAGS)]


def test_a_megabyte_field_value_is_flattened_and_cut() -> None:
    huge = "gold \n\t tier\u2028" + "x" * 1_000_000
    created = opening(plan(event("created", ticket={"fields": {"customer_tier": huge}}), ZENDESK))
    value = created.attributes["customer_tier"]
    assert value.startswith("gold tier xxx")
    assert len(value) == MAX_VALUE
    body = (DATA / "zendesk" / "01-created.json").read_bytes()
    read = zendesk.read({}, changed(body, "ticket.fields", {"customer_tier": "\x07" + huge}))
    assert read.ticket is not None
    value = opening(plan(read, ZENDESK)).attributes["customer_tier"]
    assert value.startswith("gold tier x")
    assert len(value) <= MAX_VALUE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, "3"),
        (2.5, "2.5"),
        (420.0, "420"),
        (1e300, "1e+300"),
        (True, "true"),
        (False, "false"),
        (-0.0, "0"),
    ],
)
def test_a_number_or_flag_becomes_text(value: float | bool, expected: str) -> None:
    ticket = {"fields": {"customer_tier": value}}
    assert opening(plan(event("created", ticket=ticket), ZENDESK)).attributes == {
        "customer_tier": expected
    }


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 10**300, ["gold"], {"a": "b"}])
def test_a_value_that_is_no_text_is_left_out_and_named(value: Any) -> None:
    text, note = attribute_value(value, "customer_tier")
    assert text is None
    assert note is not None
    assert note.startswith("field 'customer_tier'")
    # Readers allow no lists or objects; a ticket built around them still fails nothing.
    result = plan(event(changed={"fields"}, ticket={"fields": {"customer_tier": value}}), ZENDESK)
    assert attributes_update(result).attributes["customer_tier"] is None
    assert any(n.startswith("field 'customer_tier'") for n in result.skipped)


def test_a_list_or_object_field_is_refused_or_left_out_by_the_readers() -> None:
    with pytest.raises(ValidationError):
        SourceTicket(ref="1", fields={"customer_tier": ["gold"]})
    body = (DATA / "zendesk" / "01-created.json").read_bytes()
    for value in (["gold"], {"tier": "gold"}):
        with pytest.raises(PayloadError) as raised:
            zendesk.read({}, changed(body, "ticket.fields", {"customer_tier": value}))
        assert raised.value.field == "ticket.fields.customer_tier"
    # Jira keeps plain custom fields and select options; lists and people are left out.
    issue = json.loads((DATA / "jira" / "01-created.json").read_bytes())
    read = jira.read({}, json.dumps(issue).encode())
    assert read.ticket is not None
    assert "customfield_10002" not in read.ticket.fields
    mapping = carrying(
        "jira",
        tags=True,
        attributes={"organization_id": "customfield_10002", "environment": "customfield_10057"},
    )
    created = opening(plan(read, mapping))
    assert created.attributes == {"environment": "Production"}
    assert created.tags == ["checkout", "payments-outage"]


def test_github_labels_with_spaces_are_named_not_carried() -> None:
    body = (DATA / "github" / "01-opened.json").read_bytes()
    read = github.read({"x-github-event": "issues", "x-github-delivery": "d-1"}, body)
    assert read.ticket is not None
    result = plan(read, carrying("github", tags=True))
    kept = opening(result).tags
    assert all(" " not in tag for tag in kept)
    assert {tag.casefold() for tag in kept} == {
        tag.casefold() for tag in read.ticket.tags if " " not in tag
    }
    assert any("'priority: high'" in note for note in result.skipped)


# A running ticket.


async def test_deliveries_move_a_running_ticket_between_plans(harness: Harness) -> None:  # noqa: F811
    tickets = TicketClient(harness.env.client, harness.task_queue)
    mapping = carrying(
        ticket_id_prefix=f"ZD{uuid.uuid4().hex[:8]}-",
        policy="plans",
        priorities={"urgent": "P1", "high": "P2"},
        default_priority="P2",
        tags=True,
        attributes={"customer_tier": "customer_tier"},
    )
    opened = plan(event("created", ticket={"tags": ("standard-sla",)}), mapping)
    assert (await apply_plan(tickets, opened)).applied == ["open"]
    assert opened.ticket_id is not None
    harness.handles.append(tickets.client.get_workflow_handle(workflow_id_for(opened.ticket_id)))
    assert (await tickets.wait_open(opened.ticket_id)).plan == "gold"

    emptied = {"tags": ("standard-sla",), "fields": {"customer_tier": ""}}
    moved = plan(event(changed={"fields"}, delivery="d-2", ticket=emptied), mapping)
    assert (await apply_plan(tickets, moved)).applied == ["update_impact", "update_attributes"]
    status = await tickets.status(opened.ticket_id)
    assert (status.plan, status.attributes, status.tags) == ("standard", {}, ["standard-sla"])

    untagged = plan(event(changed={"tags"}, delivery="d-3", ticket={"tags": ()}), mapping)
    await apply_plan(tickets, untagged)
    await apply_plan(tickets, untagged)
    assert (await tickets.status(opened.ticket_id)).plan == "default"
