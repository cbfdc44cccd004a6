"""``escalations codec-server`` and ``escalations codec-key``: the encryption commands."""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import stat
import sys
from pathlib import Path
from typing import Any

from escalations.codec.auth import generate_token, token_weakness
from escalations.codec.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_UI_ORIGINS,
    CodecServer,
    normalize_origin,
)
from escalations.runtime.config import ConfigError, load_settings
from escalations.runtime.encryption import EncryptionCodec, InvalidKey, generate_key
from policies.channels import is_loopback

log = logging.getLogger("escalations.codec.server")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def add_security_commands(commands: Any) -> None:
    """Register ``codec-server`` and ``codec-key`` on the ``escalations`` subparsers."""
    p = commands.add_parser(
        "codec-server",
        help="decrypt payloads for the Temporal Web UI and CLI (remote codec endpoint)",
        description="Serve Temporal's remote codec protocol with the keys of "
        "ESCALATIONS_ENCRYPTION_KEYS / ESCALATIONS_ENCRYPTION_KEY_FILE. Callers need "
        "ESCALATIONS_CODEC_SERVER_TOKEN (never a flag: command lines are visible to others).",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind ({DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument(
        "--ui-origin",
        action="append",
        type=_origin,
        metavar="ORIGIN",
        help="Web UI origin allowed to call it, e.g. https://temporal.example.com; repeatable "
        f"(default: {' and '.join(DEFAULT_UI_ORIGINS)})",
    )
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve HTTPS: certificate chain")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="serve HTTPS: private key")
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="accept calls without the token (loopback only; any local user can then decrypt)",
    )
    p.set_defaults(handler=_codec_server)

    p = commands.add_parser(
        "codec-key",
        help="print a new encryption key line for the key file",
        description="Print `<key id> <base64 key>`: a new random AES-256 key. Append it to "
        "the key file (the last key encrypts), or give it to ESCALATIONS_ENCRYPTION_KEYS "
        "as `<key id>:<base64 key>` with --inline. With --token, print a new codec server "
        "token for ESCALATIONS_CODEC_SERVER_TOKEN instead.",
    )
    p.add_argument("--id", dest="key_id", help="key id (default: today's date, UTC)")
    p.add_argument("--inline", action="store_true", help="print `<key id>:<base64 key>`")
    p.add_argument(
        "--token",
        action="store_true",
        help="print a new random codec server token (ESCALATIONS_CODEC_SERVER_TOKEN) instead",
    )
    p.set_defaults(handler=_codec_key)


def _origin(text: str) -> str:
    try:
        return normalize_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _codec_key(args: argparse.Namespace) -> int:
    if args.token:
        if args.key_id is not None or args.inline:
            print("escalations codec-key: --token takes no --id or --inline", file=sys.stderr)
            return 2
        print(generate_token())
        return 0
    try:
        key = generate_key(args.key_id)
    except InvalidKey as exc:
        print(f"escalations codec-key: --id: {exc}", file=sys.stderr)
        return 2
    line = key.to_line()
    print(line.replace(" ", ":", 1) if args.inline else line)
    return 0


def _codec_server(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.encryption_keys:
        raise ConfigError(
            "the codec server needs the encryption keys: set ESCALATIONS_ENCRYPTION_KEYS or "
            "ESCALATIONS_ENCRYPTION_KEY_FILE as the workers have them"
        )
    loopback = is_loopback(args.host)
    if args.no_auth and not loopback:
        raise ConfigError(f"--no-auth is allowed only on loopback, not on --host {args.host}")
    secret = None if args.no_auth else settings.codec_server_token
    token = secret.get_secret_value() if secret is not None else None
    if token is None and not args.no_auth:
        raise ConfigError(
            "set ESCALATIONS_CODEC_SERVER_TOKEN (`escalations codec-key --token` makes one): "
            "callers must present it. --no-auth turns this off on loopback"
        )
    weakness = token_weakness(token) if token is not None else None
    if weakness is not None:
        raise ConfigError(
            f"ESCALATIONS_CODEC_SERVER_TOKEN is too weak for the codec server: {weakness}; "
            "make one with `escalations codec-key --token` (or `openssl rand -base64 32`)"
        )
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    key_file = os.environ.get("ESCALATIONS_ENCRYPTION_KEY_FILE", "").strip()
    if key_file:
        _check_key_file(key_file)
    try:
        server = CodecServer(
            EncryptionCodec(settings.encryption_keys),
            token=token,
            ui_origins=args.ui_origin or DEFAULT_UI_ORIGINS,
            host=args.host,
            port=args.port,
            tls=tls,
        )
    except OSError as exc:
        print(
            f"escalations codec-server: cannot listen on {args.host}:{args.port}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    if not loopback and tls is None:
        log.warning(
            "serving plain HTTP on %s: the token and decrypted ticket data cross the network "
            "in clear unless a TLS proxy fronts this server (or pass --tls-cert/--tls-key)",
            args.host,
        )
    if token is None:
        log.warning("authentication is off: any local user or process can decrypt payloads")
    print(
        f"Codec server on {server.url} for Web UI origins {', '.join(sorted(server.ui_origins))}"
        f"; decrypts keys {', '.join(k.key_id for k in settings.encryption_keys)}. "
        "Press Ctrl-C to stop.",
        flush=True,
    )

    server.serve_until_signalled()
    return 0


def _check_key_file(path: str) -> None:
    """Refuse a key file other users may read or write; warn if its group may read it.

    Whoever reads the file can decrypt every ticket, and whoever writes it can make this
    server encrypt with a key of their choosing. A group that may read it is a deliberate
    choice (a service group, a Kubernetes ``fsGroup``), so that is only a warning.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # reading it failed or will fail with its own message
    loose = mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP)
    if loose:
        raise ConfigError(
            f"ESCALATIONS_ENCRYPTION_KEY_FILE={path!r} has mode {stat.S_IMODE(mode):04o}: "
            "other users may read or change the keys. Run `chmod 600` on it (or 640 for a "
            "group of the server's user)"
        )
    if mode & stat.S_IRGRP:
        log.warning(
            "ESCALATIONS_ENCRYPTION_KEY_FILE=%r is readable by its group: its members can "
            "decrypt every ticket",
            path,
        )


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(
            f"--tls-cert {str(cert)!r} / --tls-key {str(key)!r}: cannot load them ({reason})"
        ) from None
    return context
