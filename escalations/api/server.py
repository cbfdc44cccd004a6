"""Putting the API together from settings, and serving it.

:func:`build_context` reads the API keys' store location, loads every helpdesk's mapping and
checks it against the policy it names (see :func:`build_context`), and defers the Temporal
connection to the serving loop.
"""

from __future__ import annotations

import logging
import ssl

from escalations.api.app import build_app
from escalations.api.context import ApiContext
from escalations.api.key_store import ApiKeyStore
from escalations.client.tickets import TicketClient
from escalations.codec.serving import HttpServer
from escalations.intake.events import SourceName
from escalations.intake.mapping import Mapping, load_mappings
from escalations.runtime.config import Settings
from escalations.runtime.config_error import ConfigError
from policies.loader import PolicyError, load_named_policy

log = logging.getLogger("escalations.api")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082


def build_context(settings: Settings) -> ApiContext:
    """The API's shared state for ``settings``.

    A mapping file of the operator's (in ``ESCALATIONS_INTAKE_DIR``) that is invalid, or names
    a policy or priority the policies do not define, stops the API here. A shipped mapping that
    does not fit the policy directory in use (one without the ``default`` policy, say) only
    turns its source off: its deliveries are answered ``503`` with the reason, which is also
    logged now.

    Raises:
        ConfigError: the operator's mapping file is invalid or does not fit the policies.
    """
    try:
        mappings = load_mappings(settings.intake_dir)
    except PolicyError as err:
        raise ConfigError(f"ESCALATIONS_INTAKE_DIR: {err}") from None
    disabled: dict[SourceName, str] = {}
    for source, mapping in mappings.items():
        problem = _policy_problem(settings, mapping)
        if problem is None:
            continue
        own = settings.intake_dir is not None and (settings.intake_dir / f"{source}.yaml").is_file()
        if own:
            raise ConfigError(f"the {source} mapping: {problem}")
        disabled[source] = (
            f"the shipped {source} mapping does not fit the policies in {settings.policy_dir} "
            f"({problem}); put a {source}.yaml of your own in ESCALATIONS_INTAKE_DIR"
        )
        log.warning("%s webhooks are off: %s", source, disabled[source])

    async def connect() -> TicketClient:
        return await TicketClient.connect(settings)

    return ApiContext(
        keys=ApiKeyStore(settings.api_keys_file),
        mappings=mappings,
        connect=connect,
        disabled=disabled,
    )


def _policy_problem(settings: Settings, mapping: Mapping) -> str | None:
    try:
        policy = load_named_policy(settings.policy_dir, mapping.policy)
    except PolicyError as err:
        return str(err)
    problems = mapping.policy_problems(policy)
    return "; ".join(problems) if problems else None


def api_server(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    tls: ssl.SSLContext | None = None,
    context: ApiContext | None = None,
) -> HttpServer:
    """The API bound on ``host:port`` (not yet serving).

    Raises:
        ConfigError: as :func:`build_context`.
        OSError: the address cannot be bound.
    """
    app = build_app(context or build_context(settings))
    return HttpServer(app, host=host, port=port, tls=tls)
