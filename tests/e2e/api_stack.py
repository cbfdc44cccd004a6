"""The HTTP API on the dev server, as a service would meet it: a worker process, the API
serving on a loopback port, API keys of each scope, and each helpdesk's test secret."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.channels.secrets import SecretSource
from escalations.api.server import api_server, build_context
from escalations.codec.serving import HttpServer
from escalations.runtime.config import Settings
from policies.loader import default_policy_dir
from tests.api.http import Reply, request
from tests.intake.signing import ENVIRON, signed_headers

DATA = Path(__file__).resolve().parents[1] / "data" / "intake"


class ApiStack:
    """The API of one test, on its own task queue and key store."""

    def __init__(self, address: str, task_queue: str, directory: Path) -> None:
        self.settings = Settings(
            temporal_address=address,
            task_queue=task_queue,
            policy_dir=default_policy_dir(),
            api_keys_file=directory / "api-keys.json",
        )
        context = build_context(self.settings)
        context.secrets = SecretSource(ENVIRON)
        # Ticket ids are namespace-wide and the dev server is shared: each stack gives its
        # sources' tickets a prefix of its own.
        self.prefix = f"T{uuid.uuid4().hex[:6]}"
        context.mappings = {
            source: mapping.model_copy(
                update={"ticket_id_prefix": f"{self.prefix}-{mapping.ticket_id_prefix}"}
            )
            for source, mapping in context.mappings.items()
        }
        self.context = context
        self.tokens = {
            scope: context.keys.create(f"test {scope}", scope, datetime.now(UTC))[1]
            for scope in ("read", "write", "admin")
        }
        self.server: HttpServer = api_server(self.settings, port=0, context=context)
        self.server.start()
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()

    def call_sync(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        scope: str | None = "admin",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request on a new connection, with the key of ``scope`` unless it is None."""
        token = self.tokens[scope] if scope is not None else None
        return request(self.url, method, path, body, headers, token)

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await asyncio.to_thread(self.call_sync, method, path, body, **kwargs)

    async def deliver(
        self, source: str, body: bytes, headers: dict[str, str] | None = None
    ) -> Reply:
        """POST ``body`` to the source's webhook, signed as the source signs it."""
        sent = {**(headers or {}), **signed_headers(source, body)}
        return await self.call("POST", f"/v1/webhooks/{source}", body, scope=None, headers=sent)


def life(source: str) -> list[tuple[bytes, dict[str, str], datetime]]:
    """A recorded ticket life of ``source``: each delivery's body, headers and time."""
    folder = DATA / source
    steps = json.loads((folder / "life.json").read_text(encoding="utf-8"))
    return [
        (
            (folder / step["file"]).read_bytes(),
            {k: v for k, v in step.get("headers", {}).items() if k.lower() != "content-type"},
            datetime.fromisoformat(step["at"].replace("Z", "+00:00")),
        )
        for step in steps
    ]
