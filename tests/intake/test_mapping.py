"""Mapping files are validated like policies: every mistake names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalations.intake.events import SOURCES
from escalations.intake.mapping import load_mappings, parse_mapping, read_mapping_file
from policies.loader import PolicyError, default_policy_dir, load_named_policy

GOOD = """
source: zendesk
secret: {env: ZD_SECRET}
ticket_id_prefix: "ZD-"
priorities: {urgent: P1, high: P2}
default_priority: P3
default_team: support
statuses: {waiting: [pending], active: [open], solved: [solved]}
"""


def test_every_shipped_mapping_fits_the_shipped_default_policy() -> None:
    policy = load_named_policy(default_policy_dir(), "default")
    mappings = load_mappings(None)
    assert set(mappings) == set(SOURCES)
    for mapping in mappings.values():
        assert mapping.policy_problems(policy) == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("source: zendesk", "source: servicenow"), "source", "zendesk"),
        (("secret: {env: ZD_SECRET}", "secret: {env: zd secret}"), "secret.env", ""),
        (("secret: {env: ZD_SECRET}", "secret: hunter2"), "secret", ""),
        (('ticket_id_prefix: "ZD-"', 'ticket_id_prefix: "../"'), "ticket_id_prefix", "letters"),
        (
            ('ticket_id_prefix: "ZD-"', 'ticket_id_prefix: "A-VERY-LONG-PREFIX-"'),
            "ticket_id_prefix",
            "1-16",
        ),
        (("urgent: P1", "urgent: 'P 1'"), "priorities.urgent", ""),
        (("default_team: support", "default_team: Support Team"), "default_team", ""),
        (("active: [open]", "active: [pending]"), "statuses", "both waiting and active"),
        (
            ("default_team: support", "default_team: support\nlogin_domain: not a domain"),
            "login_domain",
            "domain",
        ),
        (
            ("default_team: support", "default_team: support\npeople: {ann: not-an-address}"),
            "people.ann",
            "",
        ),
        (
            ("default_team: support", "default_team: support\nsecret_token: x"),
            "secret_token",
            "Extra",
        ),
        (("waiting: [pending]", 'waiting: ["bad\\avalue"]'), "statuses.waiting.0", "one line"),
    ],
)
def test_a_mistake_names_the_file_and_field(
    change: tuple[str, str], field: str, message: str
) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(PolicyError) as raised:
        parse_mapping(GOOD.replace(old, new), "mappings/zendesk.yaml")
    text = str(raised.value)
    assert text.startswith("mappings/zendesk.yaml: ")
    assert field in text
    assert message in text


def test_a_priority_the_policy_lacks_is_named() -> None:
    mapping = parse_mapping(GOOD.replace("high: P2", "high: P7"), "zendesk.yaml")
    problems = mapping.policy_problems(load_named_policy(default_policy_dir(), "default"))
    assert problems == [
        "priorities: priority 'P7' is not defined by policy 'default' (defined: P1, P2, P3, P4)"
    ]


def test_values_match_ignoring_case() -> None:
    mapping = parse_mapping(GOOD, "zendesk.yaml")
    assert mapping.priority_for("URGENT", ()) == "P1"
    assert mapping.priority_for("whatever", ()) == "P3"
    assert mapping.category("Pending", ()) == "waiting"
    assert mapping.category("Solved", ()) == "solved"
    assert mapping.category("archived", ()) is None


def test_a_directory_replaces_a_shipped_mapping_and_refuses_anothers(tmp_path: Path) -> None:
    (tmp_path / "zendesk.yaml").write_text(GOOD.replace('"ZD-"', '"ACME-"'), encoding="utf-8")
    assert load_mappings(tmp_path)["zendesk"].ticket_id_prefix == "ACME-"
    (tmp_path / "jira.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(PolicyError, match="source: 'zendesk' in the file for 'jira'"):
        load_mappings(tmp_path)


def test_an_unreadable_or_huge_file_is_refused(tmp_path: Path) -> None:
    huge = tmp_path / "zendesk.yaml"
    huge.write_text("#" * 300_000, encoding="utf-8")
    with pytest.raises(PolicyError, match="bytes"):
        read_mapping_file(huge)
    binary = tmp_path / "jira.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PolicyError, match="cannot read"):
        read_mapping_file(binary)
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse_mapping("a: [", "x.yaml")
    with pytest.raises(PolicyError, match="a mapping file is a mapping"):
        parse_mapping("- 1", "x.yaml")
