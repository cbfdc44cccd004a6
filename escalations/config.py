"""Configuration from the environment: the only place that reads it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from policies.loader import default_policy_dir

DEFAULT_TASK_QUEUE = "escalations"
DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_SENDGRID_HOST = "https://api.sendgrid.com"
DEFAULT_FROM = "escalations@localhost"


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

    def __repr__(self) -> str:
        # Never let the API key reach a log line or a traceback.
        key = "set" if self.sendgrid_api_key else "unset"
        return (
            f"Settings(temporal_address={self.temporal_address!r}, "
            f"temporal_namespace={self.temporal_namespace!r}, task_queue={self.task_queue!r}, "
            f"policy_dir={str(self.policy_dir)!r}, sendgrid_api_key=<{key}>, "
            f"sendgrid_host={self.sendgrid_host!r}, outbox_dir={str(self.outbox_dir)!r})"
        )

    __str__ = __repr__

    @property
    def email_mode(self) -> str:
        """Where notices go: SendGrid when a key is set, else the local outbox."""
        return "sendgrid" if self.sendgrid_api_key else f"outbox ({self.outbox_dir})"


class ConfigError(ValueError):
    """An environment variable with a value that cannot be used."""


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default: the process environment); unset means the default."""
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
