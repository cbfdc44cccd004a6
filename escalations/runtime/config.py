"""Configuration from the environment: the only place that reads it."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from escalations.runtime.encryption import (
    EncryptionKey,
    InvalidKey,
    parse_inline_keys,
    parse_key_file,
)
from policies.loader import default_policy_dir

DEFAULT_TASK_QUEUE = "escalations"
DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_SENDGRID_HOST = "https://api.sendgrid.com"
DEFAULT_FROM = "escalations@localhost"
MIN_CODEC_TOKEN_LENGTH = 16
DEV_METRICS_ADDRESS = "127.0.0.1:9464"
"""Where ``escalations dev`` serves Prometheus metrics unless told otherwise (9464 is the
port OpenTelemetry's Prometheus exporters use by convention)."""

LogFormat = Literal["text", "json"]
Tracing = Literal["off", "otlp"]


@dataclass(frozen=True)
class TlsSettings:
    """How to reach a TLS-protected Temporal frontend (Temporal Cloud, or a cluster with mTLS).

    Attributes:
        server_ca: PEM file of the CA that signed the server's certificate; None trusts the
            system's roots (right for Temporal Cloud).
        client_cert: PEM client certificate for mTLS (with ``client_key``).
        client_key: PEM private key of ``client_cert``.
        server_name: The name to expect on the server certificate (and send as SNI) when it
            differs from the host in ``TEMPORAL_ADDRESS``.
    """

    server_ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the worker, the client and the CLI need to know about their surroundings."""

    temporal_address: str = DEFAULT_ADDRESS
    temporal_namespace: str = DEFAULT_NAMESPACE
    task_queue: str = DEFAULT_TASK_QUEUE
    policy_dir: Path = field(default_factory=default_policy_dir)
    sendgrid_api_key: str | None = None
    sendgrid_host: str = DEFAULT_SENDGRID_HOST
    sendgrid_from: str = DEFAULT_FROM
    outbox_dir: Path = Path(".data/outbox")
    delivery_ledger: Path | None = Path(".data/deliveries.sqlite3")
    sticky_queue_timeout: timedelta = timedelta(seconds=10)
    register_search_attributes: bool = True
    max_workflow_tasks: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    max_cached_workflows: int = 1_000
    encryption_keys: tuple[EncryptionKey, ...] = ()
    temporal_api_key: str | None = None
    temporal_tls: TlsSettings | None = None
    codec_server_token: str | None = None
    metrics_address: str | None = None
    log_format: LogFormat = "text"
    tracing: Tracing = "off"

    def __repr__(self) -> str:
        # Never let an API key, token or encryption key reach a log line or a traceback.
        key = "set" if self.sendgrid_api_key else "unset"
        temporal_key = "set" if self.temporal_api_key else "unset"
        token = "set" if self.codec_server_token else "unset"
        return (
            f"Settings(temporal_address={self.temporal_address!r}, "
            f"temporal_namespace={self.temporal_namespace!r}, task_queue={self.task_queue!r}, "
            f"policy_dir={str(self.policy_dir)!r}, sendgrid_api_key=<{key}>, "
            f"sendgrid_host={self.sendgrid_host!r}, outbox_dir={str(self.outbox_dir)!r}, "
            f"temporal_api_key=<{temporal_key}>, temporal_tls={self.temporal_tls!r}, "
            f"encryption_key_ids={[k.key_id for k in self.encryption_keys]!r}, "
            f"codec_server_token=<{token}>, metrics_address={self.metrics_address!r}, "
            f"log_format={self.log_format!r}, tracing={self.tracing!r})"
        )

    __str__ = __repr__

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


class ConfigError(ValueError):
    """An environment variable with a value that cannot be used."""


def load_settings(
    env: Mapping[str, str] | None = None, *, default_metrics_address: str | None = None
) -> Settings:
    """Settings from ``env`` (default: the process environment); unset means the default.

    Args:
        env: The variables to read.
        default_metrics_address: Where to serve metrics when ``ESCALATIONS_METRICS_ADDRESS``
            is unset (``escalations dev`` passes :data:`DEV_METRICS_ADDRESS`; the worker
            serves none unless asked).
    """
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    sticky = get("ESCALATIONS_STICKY_QUEUE_TIMEOUT")
    try:
        sticky_seconds = float(sticky) if sticky else 10.0
    except ValueError:
        raise ConfigError(
            f"ESCALATIONS_STICKY_QUEUE_TIMEOUT={sticky!r} is not a number of seconds"
        ) from None
    register = (get("ESCALATIONS_REGISTER_SEARCH_ATTRIBUTES") or "true").lower()
    if register not in {"true", "false", "1", "0", "yes", "no"}:
        raise ConfigError(f"ESCALATIONS_REGISTER_SEARCH_ATTRIBUTES={register!r}: use true or false")
    policy_dir = Path(get("ESCALATIONS_POLICY_DIR") or default_policy_dir())
    tasks = _positive_int("ESCALATIONS_MAX_WORKFLOW_TASKS", get, 2 * (os.cpu_count() or 1))
    cache = _positive_int("ESCALATIONS_MAX_CACHED_WORKFLOWS", get, 1_000)
    return Settings(
        temporal_address=get("TEMPORAL_ADDRESS") or DEFAULT_ADDRESS,
        temporal_namespace=get("TEMPORAL_NAMESPACE") or DEFAULT_NAMESPACE,
        task_queue=get("ESCALATIONS_TASK_QUEUE") or DEFAULT_TASK_QUEUE,
        policy_dir=policy_dir,
        sendgrid_api_key=get("SENDGRID_API_KEY"),
        sendgrid_host=get("SENDGRID_HOST") or DEFAULT_SENDGRID_HOST,
        sendgrid_from=get("SENDGRID_FROM") or DEFAULT_FROM,
        outbox_dir=Path(get("ESCALATIONS_OUTBOX") or ".data/outbox"),
        delivery_ledger=_ledger_path(get("ESCALATIONS_DELIVERY_LEDGER")),
        sticky_queue_timeout=timedelta(seconds=sticky_seconds),
        register_search_attributes=register in {"true", "1", "yes"},
        max_workflow_tasks=tasks,
        max_cached_workflows=cache,
        encryption_keys=_encryption_keys(get),
        temporal_api_key=get("TEMPORAL_API_KEY"),
        temporal_tls=_tls_settings(get),
        codec_server_token=_codec_token(get),
        metrics_address=_metrics_address(
            get("ESCALATIONS_METRICS_ADDRESS"), default_metrics_address
        ),
        log_format=_log_format(get("ESCALATIONS_LOG_FORMAT")),
        tracing=_tracing(get("ESCALATIONS_TRACING")),
    )


def _positive_int(name: str, get: Callable[[str], str | None], default: int) -> int:
    text = get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name}={text!r} is not a whole number of at least 1")
    return value


def _ledger_path(text: str | None) -> Path | None:
    # "off" turns the ledger off (a read-only file system, or a provider that dedupes itself).
    if text is None:
        return Path(".data/deliveries.sqlite3")
    if text.lower() in {"off", "none", "false", "0"}:
        return None
    return Path(text)


def _encryption_keys(get: Callable[[str], str | None]) -> tuple[EncryptionKey, ...]:
    # Messages name the setting and the entry or line, never the key text.
    inline, path = get("ESCALATIONS_ENCRYPTION_KEYS"), get("ESCALATIONS_ENCRYPTION_KEY_FILE")
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


def _tls_settings(get: Callable[[str], str | None]) -> TlsSettings | None:
    # The names are the ones the `temporal` CLI and the SDKs' environment configuration read,
    # so one environment serves both. TLS is on when asked for, or when an API key or any TLS
    # option is set (Temporal Cloud), unless TEMPORAL_TLS=false says otherwise.
    def path(name: str) -> Path | None:
        text = get(name)
        return Path(text) if text else None

    tls = TlsSettings(
        server_ca=path("TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
        client_cert=path("TEMPORAL_TLS_CLIENT_CERT_PATH"),
        client_key=path("TEMPORAL_TLS_CLIENT_KEY_PATH"),
        server_name=get("TEMPORAL_TLS_SERVER_NAME"),
    )
    if (tls.client_cert is None) != (tls.client_key is None):
        raise ConfigError(
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: "
            "set both for mTLS, or neither"
        )
    configured = tls != TlsSettings()
    flag = get("TEMPORAL_TLS")
    if flag is None:
        return tls if configured or get("TEMPORAL_API_KEY") else None
    if flag.lower() in {"true", "1", "yes"}:
        return tls
    if flag.lower() in {"false", "0", "no"}:
        if configured:
            raise ConfigError(
                "TEMPORAL_TLS=false, but TLS options (TEMPORAL_TLS_...) are set: "
                "remove one or the other"
            )
        return None
    raise ConfigError(f"TEMPORAL_TLS={flag!r}: use true or false")


def _codec_token(get: Callable[[str], str | None]) -> str | None:
    token = get("ESCALATIONS_CODEC_SERVER_TOKEN")
    if token is not None and len(token) < MIN_CODEC_TOKEN_LENGTH:
        raise ConfigError(
            f"ESCALATIONS_CODEC_SERVER_TOKEN is too short: use at least "
            f"{MIN_CODEC_TOKEN_LENGTH} random characters (e.g. `openssl rand -base64 32`)"
        )
    return token


def _metrics_address(text: str | None, default: str | None) -> str | None:
    # The SDK's exporter binds a socket address, not a host name: check it here so a typo
    # names the variable instead of failing inside the Temporal runtime.
    if text is None:
        return default
    if text.lower() in {"off", "none", "false", "0"}:
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
        raise ConfigError(
            f"ESCALATIONS_METRICS_ADDRESS={text!r}: use <ip>:<port> (127.0.0.1:9464, "
            "0.0.0.0:9464, [::1]:9464) or off"
        )
    return f"{host}:{port}"


def _log_format(text: str | None) -> LogFormat:
    value = (text or "text").lower()
    if value == "text":
        return "text"
    if value == "json":
        return "json"
    raise ConfigError(f"ESCALATIONS_LOG_FORMAT={text!r}: use text or json")


def _tracing(text: str | None) -> Tracing:
    value = (text or "off").lower()
    if value in {"off", "none", "false", "0"}:
        return "off"
    if value == "otlp":
        return "otlp"
    raise ConfigError(f"ESCALATIONS_TRACING={text!r}: use otlp (OpenTelemetry) or off")
