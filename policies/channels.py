"""Notification channels a policy may name as points of contact: Slack, PagerDuty, Teams and
signed webhooks, beside plain email addresses.

A channel is declared once under the policy's ``channels`` and named in ``contacts`` like an
address. Secrets (a bot token, a routing key, a webhook URL that carries its own signature, a
signing secret) are never written in a policy: a channel names the environment variable or the
secret file that holds them, and only the worker reads it, when it sends. The policy, and so
every ticket's history, holds the names alone.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# \Z, not $: "$" also matches before a trailing newline.
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}\Z")
_SECRET_FILE = re.compile(r"^/[A-Za-z0-9._/-]{1,254}\Z")
# Slack channel names: lowercase letters, digits, '-', '_' and '.', at most 80 characters
# (what Slack allows); ids are C (public), G (private) or D (direct) and upper-case
# alphanumerics.
_SLACK_NAME = re.compile(r"^#?[a-z0-9][a-z0-9._-]{0,79}\Z")
_SLACK_ID = re.compile(r"^[CGD][A-Z0-9]{6,20}\Z")
_MAX_URL = 2000

Severity = Literal["critical", "error", "warning", "info"]
"""PagerDuty's event severities, most urgent first."""

SEVERITY_BY_RANK: tuple[Severity, ...] = ("critical", "error", "warning", "info")
"""The default severity of a ticket by its priority's rank in the policy (P1 critical, P2 error,
P3 warning, the rest info)."""

ChannelKind = Literal["slack", "pagerduty", "teams", "webhook"]
RESERVED_CHANNEL_NAMES = frozenset({"email", "assignee"})
"""Names a channel may not take: ``email`` is how notices to addresses are recorded, and
``assignee`` is the built-in role."""


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(
            f"{value[:80]!r} is not an environment variable name such as PD_PAYMENTS_ROUTING_KEY "
            "(upper-case letters, digits and '_')"
        )
    return value


def _secret_file(value: str) -> str:
    if not _SECRET_FILE.match(value) or "/../" in f"{value}/" or "/./" in f"{value}/":
        raise ValueError(
            f"{value[:80]!r} is not an absolute path such as /run/secrets/pd-payments "
            "(letters, digits, '.', '_', '-' and '/'; no '..')"
        )
    return value


def _slack_channel(value: str) -> str:
    if not (_SLACK_NAME.match(value) or _SLACK_ID.match(value)):
        raise ValueError(
            f"{value[:80]!r} is not a Slack channel: a name such as #payments-escalations "
            "(lower-case letters, digits, '-', '_', '.'; at most 80) or an id such as C0123ABCD"
        )
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a URL notices may be posted to, or None.

    HTTPS only, so a notice (and its signature) never crosses a network in clear; plain HTTP is
    allowed to a loopback address, for a receiver on the same host and for tests.
    """
    if len(value) > _MAX_URL:
        return f"a URL has at most {_MAX_URL} characters"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "a URL may not contain spaces or control characters"
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as err:
        return f"{value[:80]!r} is not a URL: {err}"
    if parts.scheme not in ("https", "http") or not host:
        return f"{value[:80]!r} is not an http(s) URL such as https://itsm.example/hooks/sla"
    if parts.username or parts.password:
        return "a URL may not carry a user name or password; use the channel's secret"
    if parts.scheme == "http" and not is_loopback(host):
        return f"{value[:80]!r} must use https (plain http only to a loopback address)"
    return None


def _url(value: str) -> str:
    problem = url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
SecretFile = Annotated[str, AfterValidator(_secret_file)]
SlackChannelName = Annotated[str, AfterValidator(_slack_channel)]
PostUrl = Annotated[str, AfterValidator(_url)]


class SecretRef(BaseModel):
    """Where a secret is: an environment variable or a file (such as a Docker secret)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: EnvName | None = None
    file: SecretFile | None = None

    def describe(self) -> str:
        """``$NAME`` or the file's path, for messages (never the secret itself)."""
        return f"${self.env}" if self.env else f"file {self.file}"


# Every setting any kind takes, so a setting written under the wrong kind gets an error that
# says which kind it belongs to rather than pydantic's bare "extra inputs are not permitted".
_SETTINGS: dict[str, tuple[str, ...]] = {
    "slack": ("channel", "token_env", "token_file"),
    "pagerduty": ("routing_key_env", "routing_key_file", "severity", "component", "group"),
    "teams": ("webhook_url_env", "webhook_url_file"),
    "webhook": ("url", "url_env", "secret_env", "secret_file"),
}
# Keys an author might write with the secret itself in them: refused with the fix.
_LITERAL_SECRETS = {
    "token": "token_env",
    "routing_key": "routing_key_env",
    "integration_key": "routing_key_env",
    "webhook_url": "webhook_url_env",
    "secret": "secret_env",
}


class _ChannelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["slack", "pagerduty", "teams", "webhook"]

    @model_validator(mode="before")
    @classmethod
    def _known_settings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kind = cls.model_fields["kind"].default
        problems = []
        for key in data:
            if key in _SETTINGS[kind] or key == "kind":
                continue
            if key in _LITERAL_SECRETS:
                problems.append(
                    f"{key}: secrets are never written in a policy; name the environment "
                    f"variable that holds it with {_LITERAL_SECRETS[key]} (or a file with "
                    f"{_LITERAL_SECRETS[key].removesuffix('_env')}_file)"
                )
                continue
            owner = [k for k, keys in _SETTINGS.items() if key in keys]
            problems.append(
                f"{key}: a setting of {owner[0]} channels, not {kind}; {kind} takes "
                f"{', '.join(_SETTINGS[kind])}"
                if owner
                else f"{key}: unknown setting; {kind} takes {', '.join(_SETTINGS[kind])}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return data

    def _one_secret(self, name: str, what: str) -> SecretRef:
        env, file = getattr(self, f"{name}_env"), getattr(self, f"{name}_file")
        if (env is None) == (file is None):
            raise ValueError(
                f"needs exactly one of {name}_env (an environment variable) or {name}_file (a "
                f"secret file) holding {what}; the secret itself is never written in a policy"
            )
        return SecretRef(env=env, file=file)


class SlackSettings(_ChannelSettings):
    """Post to a Slack channel as the worker's bot (``SLACK_BOT_TOKEN`` unless a token is
    named here)."""

    kind: Literal["slack"] = "slack"
    channel: SlackChannelName
    token_env: EnvName | None = None
    token_file: SecretFile | None = None

    @model_validator(mode="after")
    def _token(self) -> SlackSettings:
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("give token_env or token_file, not both")
        return self

    @property
    def token(self) -> SecretRef:
        """The bot token's source."""
        if self.token_file is not None:
            return SecretRef(file=self.token_file)
        return SecretRef(env=self.token_env or "SLACK_BOT_TOKEN")


class PagerDutySettings(_ChannelSettings):
    """Page through a PagerDuty service's Events API v2 integration."""

    kind: Literal["pagerduty"] = "pagerduty"
    routing_key_env: EnvName | None = None
    routing_key_file: SecretFile | None = None
    severity: dict[str, Severity] = Field(default_factory=dict)
    """Severity by priority; priorities not named take ``SEVERITY_BY_RANK`` by their rank."""
    component: str | None = Field(default=None, max_length=200)
    group: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _routing_key(self) -> PagerDutySettings:
        self._one_secret("routing_key", "the integration's routing key")
        return self

    @property
    def routing_key(self) -> SecretRef:
        """The routing key's source."""
        return SecretRef(env=self.routing_key_env, file=self.routing_key_file)


class TeamsSettings(_ChannelSettings):
    """Post an Adaptive Card through a Teams Workflows webhook (its URL is a secret: it carries
    the signature that lets anyone post)."""

    kind: Literal["teams"] = "teams"
    webhook_url_env: EnvName | None = None
    webhook_url_file: SecretFile | None = None

    @model_validator(mode="after")
    def _webhook_url(self) -> TeamsSettings:
        self._one_secret("webhook_url", "the workflow's webhook URL")
        return self

    @property
    def webhook_url(self) -> SecretRef:
        """The webhook URL's source."""
        return SecretRef(env=self.webhook_url_env, file=self.webhook_url_file)


class WebhookSettings(_ChannelSettings):
    """POST a versioned JSON event, signed per Standard Webhooks, to a receiver."""

    kind: Literal["webhook"] = "webhook"
    url: PostUrl | None = None
    url_env: EnvName | None = None
    secret_env: EnvName | None = None
    secret_file: SecretFile | None = None

    @model_validator(mode="after")
    def _url_and_secret(self) -> WebhookSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(
                "needs exactly one of url (such as https://itsm.example/hooks/sla) or url_env"
            )
        self._one_secret("secret", "the signing secret (whsec_...)")
        return self

    @property
    def secret(self) -> SecretRef:
        """The signing secret's source."""
        return SecretRef(env=self.secret_env, file=self.secret_file)


ChannelSettings = SlackSettings | PagerDutySettings | TeamsSettings | WebhookSettings


class Channel(BaseModel):
    """One named endpoint: exactly one of ``slack``, ``pagerduty``, ``teams`` or ``webhook``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack: SlackSettings | None = None
    pagerduty: PagerDutySettings | None = None
    teams: TeamsSettings | None = None
    webhook: WebhookSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # A dumped channel (in a ticket's history) names the other kinds as None.
            kinds = [k for k in data if k in _SETTINGS and data[k] is not None]
            unknown = [k for k in data if k not in _SETTINGS]
            if unknown or len(kinds) != 1:
                found = ", ".join(map(str, data)) or "nothing"
                raise ValueError(
                    "a channel is exactly one of slack, pagerduty, teams or webhook, such as "
                    f"{{slack: {{channel: '#payments-escalations'}}}}; got {found}"
                )
        return data

    @property
    def settings(self) -> ChannelSettings:
        """The settings of the channel's one kind."""
        for value in (self.slack, self.pagerduty, self.teams, self.webhook):
            if value is not None:
                return value
        raise AssertionError("validated to have exactly one kind")

    @property
    def kind(self) -> ChannelKind:
        """``slack``, ``pagerduty``, ``teams`` or ``webhook``."""
        return self.settings.kind

    def secrets(self) -> list[SecretRef]:
        """Every secret the channel needs to send (the Slack token included)."""
        settings = self.settings
        if isinstance(settings, SlackSettings):
            return [settings.token]
        if isinstance(settings, PagerDutySettings):
            return [settings.routing_key]
        if isinstance(settings, TeamsSettings):
            return [settings.webhook_url]
        refs = [settings.secret]
        if settings.url_env:
            refs.append(SecretRef(env=settings.url_env))
        return refs


def severity_for(settings: PagerDutySettings, priority: str, rank: int) -> Severity:
    """The PagerDuty severity of a ticket of ``priority``, whose urgency in the policy is
    ``rank`` (0 for the first priority): the policy's map, else :data:`SEVERITY_BY_RANK`."""
    if priority in settings.severity:
        return settings.severity[priority]
    return SEVERITY_BY_RANK[min(max(rank, 0), len(SEVERITY_BY_RANK) - 1)]
