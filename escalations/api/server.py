"""Putting the API together from settings, and serving it.

:func:`build_context` reads the API keys' store location, loads every helpdesk's mapping and
checks it against the policy it names (a priority the policy lacks stops the server at start,
naming the file and field), and defers the Temporal connection to the serving loop.
"""

from __future__ import annotations

import ssl

from escalations.api.app import build_app
from escalations.api.context import ApiContext
from escalations.api.key_store import ApiKeyStore
from escalations.client.tickets import TicketClient
from escalations.codec.serving import HttpServer
from escalations.intake.mapping import load_mappings
from escalations.runtime.config import Settings
from escalations.runtime.config_error import ConfigError
from policies.loader import PolicyError, load_named_policy

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082


def build_context(settings: Settings) -> ApiContext:
    """The API's shared state for ``settings``.

    Raises:
        ConfigError: a mapping file is invalid, or names a policy or priority that does not
            exist.
    """
    try:
        mappings = load_mappings(settings.intake_dir)
    except PolicyError as err:
        raise ConfigError(f"ESCALATIONS_INTAKE_DIR: {err}") from None
    for source, mapping in mappings.items():
        try:
            policy = load_named_policy(settings.policy_dir, mapping.policy)
        except PolicyError as err:
            raise ConfigError(f"the {source} mapping's policy: {err}") from None
        problems = mapping.policy_problems(policy)
        if problems:
            raise ConfigError(f"the {source} mapping: " + "; ".join(problems))

    async def connect() -> TicketClient:
        return await TicketClient.connect(settings)

    return ApiContext(keys=ApiKeyStore(settings.api_keys_file), mappings=mappings, connect=connect)


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
