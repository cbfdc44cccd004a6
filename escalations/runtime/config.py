"""Configuration from the environment: the only place that reads it.

Every setting is validated in one model, :class:`Settings`, and every secret in it (API keys,
the codec server's token, TLS key text) is a pydantic secret type: ``repr``, ``str``, a pydantic
dump and so every log line show ``**********``. ``get_secret_value()`` is called only where a
secret is handed to its client. Encryption keys are :class:`EncryptionKey` objects, which show
only their ids, and are dumped as ids alone.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    PlainSerializer,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.dataclasses import dataclass

from escalations.runtime.config_error import ConfigError
from escalations.runtime.encryption import (
    EncryptionKey,
    InvalidKey,
    parse_inline_keys,
    parse_key_file,
)
from escalations.runtime.temporal_config import (
    DEFAULT_ADDRESS,
    DEFAULT_NAMESPACE,
    TlsSettings,
    load_temporal,
)
from policies.loader import default_policy_dir

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_FROM",
    "DEFAULT_NAMESPACE",
    "DEFAULT_SENDGRID_HOST",
    "DEFAULT_TASK_QUEUE",
    "DEV_METRICS_ADDRESS",
    "ENVIRONMENT",
    "MIN_CODEC_TOKEN_LENGTH",
    "ConfigError",
    "LogFormat",
    "Settings",
    "TlsSettings",
    "Tracing",
    "load_settings",
]

DEFAULT_TASK_QUEUE = "escalations"
DEFAULT_SENDGRID_HOST = "https://api.sendgrid.com"
DEFAULT_FROM = "escalations@localhost"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com"
MIN_CODEC_TOKEN_LENGTH = 16
DEV_METRICS_ADDRESS = "127.0.0.1:9464"
"""Where ``escalations dev`` serves Prometheus metrics unless told otherwise (9464 is the
port OpenTelemetry's Prometheus exporters use by convention)."""

LogFormat = Literal["text", "json"]
Tracing = Literal["off", "otlp"]

ENVIRONMENT = {
    "task_queue": "ESCALATIONS_TASK_QUEUE",
    "policy_dir": "ESCALATIONS_POLICY_DIR",
    "sendgrid_api_key": "SENDGRID_API_KEY",
    "sendgrid_host": "SENDGRID_HOST",
    "sendgrid_from": "SENDGRID_FROM",
    "sendgrid_sandbox": "SENDGRID_SANDBOX_MODE",
    "slack_api_url": "ESCALATIONS_SLACK_API_URL",
    "pagerduty_events_url": "ESCALATIONS_PAGERDUTY_EVENTS_URL",
    "web_ui_url": "ESCALATIONS_WEB_UI_URL",
    "outbox_dir": "ESCALATIONS_OUTBOX",
    "delivery_ledger": "ESCALATIONS_DELIVERY_LEDGER",
    "sticky_queue_timeout": "ESCALATIONS_STICKY_QUEUE_TIMEOUT",
    "register_search_attributes": "ESCALATIONS_REGISTER_SEARCH_ATTRIBUTES",
    "workflow_sandbox": "ESCALATIONS_WORKFLOW_SANDBOX",
    "max_workflow_tasks": "ESCALATIONS_MAX_WORKFLOW_TASKS",
    "max_cached_workflows": "ESCALATIONS_MAX_CACHED_WORKFLOWS",
    "codec_server_token": "ESCALATIONS_CODEC_SERVER_TOKEN",
    "api_keys_file": "ESCALATIONS_API_KEYS_FILE",
    "intake_dir": "ESCALATIONS_INTAKE_DIR",
    "metrics_address": "ESCALATIONS_METRICS_ADDRESS",
    "log_format": "ESCALATIONS_LOG_FORMAT",
    "tracing": "ESCALATIONS_TRACING",
}
"""The service's own settings: field of :class:`Settings` to the variable that sets it. The
Temporal connection's variables are the SDK's (:mod:`escalations.runtime.temporal_config`)."""

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_OFF = {"off", "none", "false", "0"}


# Dumps show which keys are held, never the key bytes.
def _key_ids(keys: tuple[EncryptionKey, ...]) -> list[str]:
    return [key.key_id for key in keys]


KeyRing = Annotated[tuple[EncryptionKey, ...], PlainSerializer(_key_ids, return_type=list[str])]


# Pydantic's messages quote the input, which may be a secret handed in as text.
@dataclass(frozen=True, config=ConfigDict(hide_input_in_errors=True))
class Settings:
    """Everything the worker, the client and the CLI need to know about their surroundings.

    Built from the environment by :func:`load_settings`; built directly (tests,
    ``dataclasses.replace``) the same validation applies.
    """

    temporal_address: str = DEFAULT_ADDRESS
    temporal_namespace: str = DEFAULT_NAMESPACE
    task_queue: str = DEFAULT_TASK_QUEUE
    policy_dir: Path = field(default_factory=default_policy_dir)
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = DEFAULT_SENDGRID_HOST
    sendgrid_from: str = DEFAULT_FROM
    sendgrid_sandbox: bool = False
    """SendGrid validates every request and delivers nothing (for staging)."""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    pagerduty_events_url: str = DEFAULT_PAGERDUTY_EVENTS_URL
    web_ui_url: str | None = None
    """The Temporal Web UI as people reach it: notices link to the ticket there."""
    outbox_dir: Path = Path(".data/outbox")
    delivery_ledger: Path | None = Path(".data/deliveries.sqlite3")
    sticky_queue_timeout: timedelta = timedelta(seconds=10)
    register_search_attributes: bool = True
    workflow_sandbox: bool = False
    max_workflow_tasks: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    max_cached_workflows: int = 1_000
    encryption_keys: KeyRing = ()
    temporal_api_key: SecretStr | None = None
    temporal_tls: TlsSettings | None = None
    codec_server_token: SecretStr | None = None
    api_keys_file: Path = Path(".data/api-keys.json")
    """The HTTP API's keys, each stored as a hash with its scopes (``escalations api-key``)."""
    intake_dir: Path | None = None
    """Helpdesk mapping files (``<source>.yaml``) that replace the shipped ones."""
    metrics_address: str | None = None
    log_format: LogFormat = "text"
    tracing: Tracing = "off"
    temporal_profile: str | None = None
    """The profile of the ``temporal`` CLI's config file in use, if any."""
    temporal_config_file: Path | None = None
    temporal_grpc_meta: dict[str, SecretStr] = field(default_factory=dict)
    """gRPC headers for every call (``TEMPORAL_GRPC_META_*``, a profile's ``grpc_meta``):
    secret, since one may carry credentials."""

    @property
    def email_mode(self) -> str:
        """Where notices go: SendGrid when a key is set, else the local outbox."""
        return "sendgrid" if self.sendgrid_api_key else f"outbox ({self.outbox_dir})"

    @property
    def payload_mode(self) -> str:
        """What the Temporal server sees of ticket data: ciphertext or plain JSON."""
        if not self.encryption_keys:
            return "plain JSON (not encrypted)"
        return f"encrypted (key {self.encryption_keys[-1].key_id})"

    # Each validator takes the variable's text (already stripped, never empty) or a value of
    # the field's type, and raises ValueError with the one-line message load_settings shows.

    @field_validator("sticky_queue_timeout", mode="before")
    @classmethod
    def _seconds(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, timedelta):
            seconds = value.total_seconds()
        else:
            try:
                seconds = float(str(value))
            except ValueError:
                raise ValueError(
                    f"{_variable(info)}={value!r} is not a number of seconds"
                ) from None
        if not 0 < seconds < math.inf:  # also refuses nan
            raise ValueError(f"{_variable(info)}={value!r}: use a number of seconds above 0")
        return timedelta(seconds=seconds)

    @field_validator(
        "register_search_attributes", "workflow_sandbox", "sendgrid_sandbox", mode="before"
    )
    @classmethod
    def _flag(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text not in _TRUE | _FALSE:
            raise ValueError(f"{_variable(info)}={text!r}: use true or false")
        return text in _TRUE

    @field_validator("max_workflow_tasks", "max_cached_workflows", mode="before")
    @classmethod
    def _positive(cls, value: object, info: ValidationInfo) -> object:
        try:
            number = value if isinstance(value, int) else int(str(value))
        except ValueError:
            number = 0
        if number < 1:
            raise ValueError(f"{_variable(info)}={value!r} is not a whole number of at least 1")
        return number

    @field_validator("delivery_ledger", mode="before")
    @classmethod
    def _ledger(cls, value: object) -> object:
        # "off" turns the ledger off (a read-only file system, or a provider that dedupes).
        if isinstance(value, str) and value.lower() in _OFF:
            return None
        return value

    @field_validator(
        "sendgrid_host", "slack_api_url", "pagerduty_events_url", "web_ui_url", mode="before"
    )
    @classmethod
    def _url(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            return None
        if not str(value).startswith(("https://", "http://")):
            raise ValueError(f"{_variable(info)}={value!r}: use an https:// (or http://) URL")
        return value

    @field_validator("sendgrid_from", mode="before")
    @classmethod
    def _email(cls, value: object, info: ValidationInfo) -> object:
        local, at, domain = str(value).rpartition("@")
        if not (at and local.strip() and domain.strip()):
            raise ValueError(f"{_variable(info)}={value!r}: not an email address")
        return value

    @field_validator("codec_server_token", mode="before")
    @classmethod
    def _token(cls, value: object, info: ValidationInfo) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and len(text) < MIN_CODEC_TOKEN_LENGTH:
            raise ValueError(
                f"{_variable(info)} is too short: use at least {MIN_CODEC_TOKEN_LENGTH} random "
                "characters (e.g. `openssl rand -base64 32`)"
            )
        return value

    @field_validator("metrics_address", mode="before")
    @classmethod
    def _metrics_address(cls, value: object, info: ValidationInfo) -> object:
        # The SDK's exporter binds a socket address, not a host name: check it here so a typo
        # names the variable instead of failing inside the Temporal runtime.
        if value is None:
            return None
        text = str(value)
        if text.lower() in _OFF:
            return None
        host, sep, port = text.rpartition(":")
        host = "127.0.0.1" if host == "localhost" else host
        try:
            ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
            valid = bool(sep) and port.isascii() and port.isdigit() and 1 <= int(port) <= 65535
            valid = valid and (":" not in host or host.startswith("["))
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(
                f"{_variable(info)}={text!r}: use <ip>:<port> (127.0.0.1:9464, "
                "0.0.0.0:9464, [::1]:9464) or off"
            )
        return f"{host}:{port}"

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object, info: ValidationInfo) -> object:
        text = str(value).lower()
        if text not in {"text", "json"}:
            raise ValueError(f"{_variable(info)}={value!r}: use text or json")
        return text

    @field_validator("tracing", mode="before")
    @classmethod
    def _tracing(cls, value: object, info: ValidationInfo) -> object:
        text = str(value).lower()
        if text in _OFF:
            return "off"
        if text != "otlp":
            raise ValueError(f"{_variable(info)}={value!r}: use otlp (OpenTelemetry) or off")
        return text


def _variable(info: ValidationInfo) -> str:
    return ENVIRONMENT.get(info.field_name or "", info.field_name or "setting")


_SETTINGS = TypeAdapter(Settings)


def load_settings(
    env: Mapping[str, str] | None = None, *, default_metrics_address: str | None = None
) -> Settings:
    """Settings from ``env`` (default: the process environment); unset means the default.

    Args:
        env: The variables to read.
        default_metrics_address: Where to serve metrics when ``ESCALATIONS_METRICS_ADDRESS``
            is unset (``escalations dev`` passes :data:`DEV_METRICS_ADDRESS`; the worker
            serves none unless asked).

    Raises:
        ConfigError: a setting that cannot be used, in one line naming it (never quoting a
            secret).
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name, variable in ENVIRONMENT.items():
        text = env.get(variable, "").strip()
        if text:
            values[name] = text
    if "metrics_address" not in values:
        values["metrics_address"] = default_metrics_address
    values["encryption_keys"] = _encryption_keys(env)
    temporal = load_temporal(env)
    values.update(
        temporal_address=temporal.address,
        temporal_namespace=temporal.namespace,
        temporal_api_key=temporal.api_key,
        temporal_tls=temporal.tls,
        temporal_profile=temporal.profile,
        temporal_config_file=temporal.config_file,
        temporal_grpc_meta=temporal.grpc_meta,
    )
    try:
        return _SETTINGS.validate_python(values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    # Pydantic's own text quotes the input, which may be a secret: use the validators'
    # messages, or the field's variable and pydantic's complaint without the value.
    error = exc.errors(include_input=False, include_url=False)[0]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    name = str(error["loc"][0]) if error["loc"] else "setting"
    return f"{ENVIRONMENT.get(name, name)}: {error['msg']}"


def _encryption_keys(env: Mapping[str, str]) -> tuple[EncryptionKey, ...]:
    # Messages name the setting and the entry or line, never the key text.
    inline = env.get("ESCALATIONS_ENCRYPTION_KEYS", "").strip()
    path = env.get("ESCALATIONS_ENCRYPTION_KEY_FILE", "").strip()
    if inline and path:
        raise ConfigError(
            "set ESCALATIONS_ENCRYPTION_KEYS or ESCALATIONS_ENCRYPTION_KEY_FILE, not both"
        )
    if inline:
        try:
            return parse_inline_keys(inline)
        except InvalidKey as exc:
            raise ConfigError(f"ESCALATIONS_ENCRYPTION_KEYS: {exc}") from None
    if path:
        try:
            with open(path, encoding="utf-8") as lines:
                return parse_key_file(lines)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(
                f"ESCALATIONS_ENCRYPTION_KEY_FILE={path!r}: cannot read the file ({reason})"
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"ESCALATIONS_ENCRYPTION_KEY_FILE={path!r}: not a UTF-8 text file"
            ) from None
        except InvalidKey as exc:
            raise ConfigError(f"ESCALATIONS_ENCRYPTION_KEY_FILE={path!r}: {exc}") from None
    return ()
