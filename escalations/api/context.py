"""What the API's handlers share: settings, keys, mappings, metrics and the Temporal client."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from activities.channels.secrets import SecretSource, SecretUnavailable
from escalations.api.key_store import ApiKeyStore
from escalations.api.metrics import RequestMetrics
from escalations.client.tickets import TicketClient
from escalations.codec.auth import AttemptLimiter
from escalations.intake.events import SourceName
from escalations.intake.mapping import Mapping


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass
class ApiContext:
    """Everything a request may need.

    Attributes:
        keys: The API keys.
        mappings: Each helpdesk's mapping file.
        connect: Makes the Temporal client; called once, on the server's own event loop
            (a Temporal client belongs to the loop it was made on).
        secrets: Reads each webhook's secret where its mapping says it is.
        metrics: Request metrics, served at ``/metrics``.
        wrong_keys: Limits wrong API keys per client address.
        now: The clock that judges stale webhook signatures.
        max_body: Largest JSON body of a ticket request, in bytes.
        max_webhook_body: Largest webhook body, in bytes.
        disabled: Sources whose deliveries are refused, and why (a shipped mapping that does
            not fit the policies in use).
    """

    keys: ApiKeyStore
    mappings: dict[SourceName, Mapping]
    connect: Callable[[], Awaitable[TicketClient]]
    secrets: SecretSource = dataclasses.field(default_factory=SecretSource)
    metrics: RequestMetrics = dataclasses.field(default_factory=RequestMetrics)
    wrong_keys: AttemptLimiter = dataclasses.field(
        default_factory=lambda: AttemptLimiter(burst=20, refill_seconds=3.0)
    )
    now: Callable[[], datetime] = _utc_now
    max_body: int = 64 * 1024
    max_webhook_body: int = 1024 * 1024
    disabled: dict[SourceName, str] = dataclasses.field(default_factory=dict)
    _client: TicketClient | None = dataclasses.field(default=None, init=False, repr=False)
    _connecting: asyncio.Lock | None = dataclasses.field(default=None, init=False, repr=False)

    async def client(self) -> TicketClient:
        """The Temporal client, connected on first use.

        Raises:
            TemporalUnreachable: the server did not answer (the next request tries again).
        """
        if self._client is None:
            self._connecting = self._connecting or asyncio.Lock()
            async with self._connecting:
                if self._client is None:
                    self._client = await self.connect()
        return self._client

    def webhook_secret(self, source: SourceName) -> bytes | None:
        """The source's webhook secret, or None when it is not configured."""
        try:
            return self.secrets.get(self.mappings[source].secret).encode()
        except SecretUnavailable:
            return None
