"""A helpdesk's mapping file: what its statuses, priorities, groups, people and tags mean here.

One YAML file per source (``zendesk.yaml``, ``jira.yaml``, ...). The shipped ones
(``escalations/intake/mappings/``) fit each helpdesk's out-of-the-box values and the shipped
default policy; ``ESCALATIONS_INTAKE_DIR`` names a directory whose files replace them. Files are
validated like policies: every mistake names the file and the field, and a priority the policy
does not define is refused when the API starts, not when the first webhook arrives.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from escalations.intake.events import SOURCES, SourceName
from policies.channels import SecretRef
from policies.emails import EmailAddress
from policies.loader import PolicyError, validate_yaml
from policies.model import Policy, PriorityName, Slug
from workflows.ticket_messages import MAX_ATTRIBUTES, AttributeName

MAX_MAPPING_BYTES = 256 * 1024
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,15}\Z")
_DOMAIN = re.compile(
    r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

StatusCategory = Literal["waiting", "active", "solved"]


def _value(text: str) -> str:
    # Values are compared case-insensitively: helpdesks capitalise their own names freely.
    if not text.strip() or _CONTROL.search(text) or len(text) > 200:
        raise ValueError("must be 1-200 characters on one line")
    return text.strip().casefold()


SourceValue = Annotated[str, AfterValidator(_value)]


def _field_name(text: str) -> str:
    # Matched exactly, as the reader names the field (Jira ``customfield_10020``).
    if not text.strip() or _CONTROL.search(text) or len(text) > 200:
        raise ValueError("must be a custom field's name: 1-200 characters on one line")
    return text


FieldName = Annotated[str, AfterValidator(_field_name)]
"""A custom field as the source's reader names it in ``fields``."""


def _prefix(text: str) -> str:
    if not _PREFIX.match(text):
        raise ValueError(
            "must be 1-16 letters, digits, '.', '_', ':' or '-', starting with a letter or "
            "digit (it starts every ticket id from this source)"
        )
    return text


def _domain(text: str) -> str:
    if not _DOMAIN.match(text):
        raise ValueError(f"{text[:80]!r} is not a domain name")
    return text.lower()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Statuses(_Strict):
    """The source's status names by what they mean for the SLA clocks."""

    waiting: tuple[SourceValue, ...] = ()
    """Waiting on the customer: the ticket pauses."""
    active: tuple[SourceValue, ...] = ()
    """Being worked: a paused ticket resumes, a solved one reopens."""
    solved: tuple[SourceValue, ...] = ()
    """Done: the ticket resolves."""

    @model_validator(mode="after")
    def _each_once(self) -> Statuses:
        seen: dict[str, str] = {}
        for category in ("waiting", "active", "solved"):
            for value in getattr(self, category):
                if value in seen:
                    raise ValueError(f"status {value!r} is both {seen[value]} and {category}")
                seen[value] = category
        return self


class Impact(_Strict):
    """Which tags and fields say how much the ticket affects."""

    critical_service_tags: tuple[SourceValue, ...] = ()
    """A ticket with any of these tags affects a critical business service."""
    affected_users_field: str | None = Field(default=None, min_length=1, max_length=200)
    """The custom field that counts the affected users."""


class Mapping(_Strict):
    """How one helpdesk's tickets become tickets here."""

    source: SourceName
    secret: SecretRef
    """Where the webhook's signing secret (Freshdesk: the shared token) is kept."""
    ticket_id_prefix: Annotated[str, AfterValidator(_prefix)]
    """Put before the source's ticket id or key to make the ticket id (``ZD-`` + ``123``)."""
    policy: Slug = "default"
    priorities: dict[SourceValue, PriorityName] = Field(default_factory=dict)
    """The source's priority names to the policy's priorities."""
    priority_tags: dict[SourceValue, PriorityName] = Field(default_factory=dict)
    """Tags (labels) that set the priority, for sources without a priority field."""
    default_priority: PriorityName
    """For a ticket whose priority the mapping does not name."""
    teams: dict[SourceValue, Slug] = Field(default_factory=dict)
    """The source's groups (Jira: the first component) to teams."""
    default_team: Slug
    statuses: Statuses = Statuses()
    waiting_tags: tuple[SourceValue, ...] = ()
    """Tags (labels) that mean waiting on the customer, for sources without such a status."""
    customer_from: Literal["organization", "requester"] = "organization"
    default_customer: str = Field(default="unknown customer", min_length=1, max_length=200)
    people: dict[SourceValue, EmailAddress] = Field(default_factory=dict)
    """Logins or names (as the source gives them) to email addresses."""
    login_domain: Annotated[str, AfterValidator(_domain)] | None = None
    """An address for a login the ``people`` table does not name: ``<login>@<login_domain>``."""
    impact: Impact = Impact()
    tags: bool = False
    """The source's tags become the ticket's tags (those valid as tags here), so that SLA plans
    may be chosen by them; every change of them is then an ``update_attributes``."""
    attributes: dict[AttributeName, FieldName] = Field(
        default_factory=dict, max_length=MAX_ATTRIBUTES
    )
    """Ticket attributes (``customer_tier``) by the custom field that gives each."""

    def priority_for(self, value: str | None, tags: tuple[str, ...]) -> str:
        """The policy priority of a source priority (or of the ticket's priority tags)."""
        for tag in tags:
            if tag.casefold() in self.priority_tags:
                return self.priority_tags[tag.casefold()]
        if value is not None and value.casefold() in self.priorities:
            return self.priorities[value.casefold()]
        return self.default_priority

    def team_for(self, group: str | None) -> str:
        """The team of a source group, or :attr:`default_team`."""
        if group is not None and group.casefold() in self.teams:
            return self.teams[group.casefold()]
        return self.default_team

    def category(self, status: str | None, tags: tuple[str, ...]) -> StatusCategory | None:
        """What a status (with the ticket's tags) means, or None for a status not mapped."""
        value = status.casefold() if status is not None else None
        if value in self.statuses.solved:
            return "solved"
        if value in self.statuses.waiting or any(t.casefold() in self.waiting_tags for t in tags):
            return "waiting"
        if value in self.statuses.active or (value is None and self.waiting_tags):
            return "active"
        return None

    def address_for(self, person: str | None) -> str | None:
        """An email address for a person as the source names them, or None."""
        if person is None:
            return None
        if person.casefold() in self.people:
            return self.people[person.casefold()]
        if "@" in person:
            return person
        if self.login_domain is not None and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", person):
            return f"{person}@{self.login_domain}"
        return None

    def policy_problems(self, policy: Policy) -> list[str]:
        """The priorities this mapping names that ``policy`` does not define."""
        named = {
            "default_priority": [self.default_priority],
            "priorities": list(self.priorities.values()),
            "priority_tags": list(self.priority_tags.values()),
        }
        return [
            f"{field}: priority {value!r} is not defined by policy {policy.name!r} "
            f"(defined: {', '.join(policy.targets)})"
            for field, values in named.items()
            for value in values
            if value not in policy.targets
        ]


def parse_mapping(text: str, source: str) -> Mapping:
    """Validate mapping YAML ``text``; ``source`` names it in errors.

    Raises:
        PolicyError: with every problem, each naming its field.
    """
    return validate_yaml(
        text, source, Mapping, "a mapping file is a mapping with source, secret, priorities, ..."
    )


def read_mapping_file(path: Path) -> Mapping:
    """Read and validate one mapping file."""
    try:
        if path.stat().st_size > MAX_MAPPING_BYTES:
            raise PolicyError(str(path), [f"the file is over {MAX_MAPPING_BYTES} bytes"])
        text = path.read_text(encoding="utf-8")
    except PolicyError:
        raise
    except (OSError, ValueError) as exc:
        raise PolicyError(str(path), [f"cannot read the file: {exc}"]) from None
    return parse_mapping(text, str(path))


def load_mappings(directory: Path | None) -> dict[SourceName, Mapping]:
    """Every source's mapping: ``<source>.yaml`` from ``directory`` where it has one, else the
    shipped file. A file whose ``source`` is another helpdesk's is refused.

    Raises:
        PolicyError: a file that cannot be read or is not a valid mapping.
    """
    shipped = resources.files("escalations.intake") / "mappings"
    mappings: dict[SourceName, Mapping] = {}
    for name in SOURCES:
        own = directory / f"{name}.yaml" if directory is not None else None
        if own is not None and own.is_file():
            mapping = read_mapping_file(own)
            where = str(own)
        else:
            where = f"shipped mapping {name}.yaml"
            mapping = parse_mapping((shipped / f"{name}.yaml").read_text(encoding="utf-8"), where)
        if mapping.source != name:
            raise PolicyError(where, [f"source: {mapping.source!r} in the file for {name!r}"])
        mappings[name] = mapping
    return mappings
