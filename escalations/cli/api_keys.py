"""``escalations api-key create|list|revoke``: the HTTP API's keys.

The keys live in ``ESCALATIONS_API_KEYS_FILE`` (``.data/api-keys.json``) as hashes: a key's
token is printed once, by ``create``, and cannot be shown again. A running ``escalations api``
refuses a revoked key from its next request.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from escalations.api.key_store import ApiKeyStore
from escalations.api.keys import (
    SCOPES,
    ApiKey,
    InvalidKeyName,
    KeyStoreError,
    UnknownKey,
    name_problem,
)
from escalations.runtime.config import load_settings

PROG = "escalations api-key"


def add_api_key_commands(commands: Any) -> None:
    """Register ``api-key create``, ``api-key list`` and ``api-key revoke``."""
    p = commands.add_parser(
        "api-key",
        help="create, list and revoke the HTTP API's keys",
        description="Manage the keys of `escalations api`, kept as hashes in "
        "ESCALATIONS_API_KEYS_FILE (.data/api-keys.json). Scopes: read < write < admin, "
        "each including the ones before it.",
    )
    sub = p.add_subparsers(dest="api_key_command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "create",
        help="make a key and print its token (once: it cannot be shown again)",
        description="Make a key and print its token alone on stdout, so that a script can "
        "capture it: `TOKEN=$(escalations api-key create --name ci --scope read)`. Only its "
        "hash is stored: the token cannot be shown again.",
    )
    p.add_argument(
        "--name",
        required=True,
        type=_name,
        help="a label: up to 64 ASCII letters, digits, '.', '_', '-' and spaces",
    )
    p.add_argument(
        "--scope",
        required=True,
        choices=SCOPES,
        help="what the key may do: read, write (and read) or admin (everything)",
    )
    p.set_defaults(handler=_create)

    p = sub.add_parser("list", help="show every key, revoked ones included (never a token)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(handler=_list)

    p = sub.add_parser("revoke", help="refuse a key from now on (a running API included)")
    p.add_argument("key", metavar="KEY_ID_OR_NAME", help="the key's id (or its name)")
    p.set_defaults(handler=_revoke)


def _name(text: str) -> str:
    problem = name_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _store() -> ApiKeyStore:
    return ApiKeyStore(load_settings().api_keys_file)


def _create(args: argparse.Namespace) -> int:
    store = _store()
    try:
        key, token = store.create(args.name, args.scope, datetime.now(UTC))
    except InvalidKeyName as err:
        print(f"{PROG} create: error: --name: {err}", file=sys.stderr)
        return 2
    except KeyStoreError as err:
        print(f"{PROG} create: {err}", file=sys.stderr)
        return 1
    print(token, flush=True)
    print(
        f"{PROG} create: key {key.key_id} ({key.name!r}, scope {key.scope}) is in "
        f"{os.path.abspath(store.path)}. The token above will not be shown again: "
        "store it now.",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    store = _store()
    try:
        keys = store.list()
    except KeyStoreError as err:
        print(f"{PROG} list: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([key.model_dump(mode="json") for key in keys], indent=2))
        return 0
    if not keys:
        print(
            f"{PROG} list: no keys in {os.path.abspath(store.path)}; make one with "
            f"`{PROG} create --name NAME --scope read|write|admin`",
            file=sys.stderr,
        )
        return 0
    rows = [("KEY ID", "NAME", "SCOPE", "CREATED", "REVOKED")]
    rows += [
        (key.key_id, key.name, key.scope, _time(key.created_at), _time(key.revoked_at))
        for key in keys
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[4]]))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    store = _store()
    now = datetime.now(UTC)
    try:
        key = store.revoke(args.key, now)
    except UnknownKey as err:
        print(f"{PROG} revoke: {err}", file=sys.stderr)
        return 1
    except KeyStoreError as err:
        print(f"{PROG} revoke: {err}", file=sys.stderr)
        return 1
    print(_revoked_line(key, now))
    return 0


def _revoked_line(key: ApiKey, now: datetime) -> str:
    label = f"key {key.key_id} ({key.name!r})"
    if key.revoked_at != now:
        return f"The {label} was already revoked at {_time(key.revoked_at)}."
    return (
        f"Revoked the {label} at {_time(now)}: a running `escalations api` refuses it from its "
        "next request."
    )


def _time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
