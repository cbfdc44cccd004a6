"""``escalations api``: the HTTP API and the helpdesk webhooks (docs/intake.md)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from escalations.api.server import DEFAULT_HOST, DEFAULT_PORT, api_server
from escalations.cli.security import LOG_FORMAT, tls_context
from escalations.runtime.config import load_settings
from escalations.runtime.config_error import ConfigError
from policies.channels import is_loopback

log = logging.getLogger("escalations.api")


def add_api_command(commands: Any) -> None:
    """Register ``escalations api``."""
    p = commands.add_parser(
        "api",
        help="serve the HTTP API and helpdesk webhooks",
        description="Serve the ticket contract over HTTP (API keys: `escalations api-key`) and "
        "the helpdesk webhooks at /v1/webhooks/<source>. Binds loopback unless --host says "
        "otherwise. See docs/intake.md.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind ({DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", type=Path, help="and this private key (PEM)")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        server = api_server(settings, host=args.host, port=args.port, tls=tls)
    except OSError as exc:
        print(
            f"escalations api: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    if not is_loopback(args.host) and tls is None:
        log.warning(
            "serving plain HTTP on %s: API keys and ticket data cross the network in clear "
            "unless a TLS proxy fronts this server (or pass --tls-cert/--tls-key)",
            args.host,
        )
    print(
        f"HTTP API on {server.url} (Temporal {settings.temporal_address}); webhooks at "
        f"{server.url}/v1/webhooks/<source>. Press Ctrl-C to stop.",
        flush=True,
    )

    server.serve_until_signalled()
    return 0
