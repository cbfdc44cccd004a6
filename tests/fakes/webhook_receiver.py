"""A loopback fake of a receiver of Standard Webhooks (signed ``POST`` deliveries).

It verifies each delivery as the specification tells a consumer to
(``/work/shared/vendor/standard-webhooks/standard-webhooks.md``, Apache-2.0): with the reference
library, ``standardwebhooks.Webhook(secret).verify(raw_body, headers)``, which checks the
``v1,`` HMAC-SHA256 signature of ``webhook-id.webhook-timestamp.body`` and that the timestamp is
within five minutes of now. It then checks the body is the JSON object this project sends.

A verified delivery is answered 204 and recorded; a ``webhook-id`` accepted before is a
duplicate, answered 204 again (receivers dedupe by id, the specification says) and counted.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from dataclasses import dataclass
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.fakes.loopback import Answer, Incoming, LoopbackFake, Outcome, decode_json

SECRET_PREFIX = "whsec_"
# "Signing secret: Random. Between 24 bytes (192 bits) and 64 bytes (512 bits)."
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
# "webhook-timestamp: integer unix timestamp (seconds since epoch)". The library reads any
# float, and then signs the floored value, not the text it was sent.
_TIMESTAMP = re.compile(r"^\d{1,12}\Z")


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery the receiver accepted."""

    webhook_id: str
    timestamp: int
    path: str
    payload: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    duplicate: bool
    """Its ``webhook-id`` had been accepted before (a redelivery)."""


class FakeWebhookReceiver(LoopbackFake):
    """A Standard Webhooks receiver on a loopback port; any path takes deliveries.

    Failures: 401 when the signature headers do not verify, 400 when the verified body is not
    a JSON object sent as ``application/json``, 405 for other methods. Scripted answers
    (``answer_next(503)``, ``answer_next(429, headers={"Retry-After": "2"})``,
    ``answer_always(500)`` for an outage) are literal and take nothing.

    Args:
        secret: the endpoint's signing secret, ``whsec_`` and base64 of 24 to 64 bytes.
    """

    label = "FakeWebhookReceiver"

    def __init__(self, *, secret: str) -> None:
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError("a Standard Webhooks secret starts with whsec_")
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error as err:
            raise ValueError(f"the secret after whsec_ is not base64: {err}") from err
        if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
            raise ValueError(
                f"the secret is {len(key)} bytes; the specification wants "
                f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}"
            )
        super().__init__()
        self.secret = secret
        self._webhook = Webhook(secret)
        self._deliveries: list[WebhookDelivery] = []

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every accepted delivery, duplicates included, oldest first."""
        with self._condition:
            return list(self._deliveries)

    @property
    def unique_ids(self) -> list[str]:
        """The distinct ``webhook-id`` values accepted, in the order first accepted."""
        with self._condition:
            return [d.webhook_id for d in self._deliveries if not d.duplicate]

    @property
    def duplicates(self) -> int:
        """Accepted deliveries whose ``webhook-id`` had been accepted before."""
        with self._condition:
            return sum(d.duplicate for d in self._deliveries)

    def wait_for(
        self, count: int, timeout: float, *, unique: bool = False
    ) -> list[WebhookDelivery]:
        """Block until ``count`` deliveries (distinct ids if ``unique``) were accepted.

        Returns every accepted delivery then, duplicates included.

        Raises:
            AssertionError: on timeout, listing what was received.
        """
        what = "distinct deliveries" if unique else "deliveries"

        def enough(_: Any) -> bool:
            return len(self.unique_ids if unique else self._deliveries) >= count

        self.wait_until(enough, timeout, f"{count} accepted {what}")
        return self.deliveries

    def _handle(self, request: Incoming) -> Outcome:
        if request.method != "POST":
            problem = f"deliveries are POSTed, not sent with {request.method}"
            return Outcome(Answer(405, {"error": problem}), problems=(problem,))
        webhook_id = request.headers.get("webhook-id", "")
        unauthentic = self._signature_problems(request)
        malformed: list[str] = []
        payload: Any = None
        if not unauthentic:
            # Only a verified body is read (the specification: verify before parsing).
            if request.media_type != "application/json":
                malformed.append(f"Content-Type is {request.media_type!r}, not application/json")
            try:
                payload = decode_json(request.raw)
            except ValueError as err:
                malformed.append(f"the body is not JSON: {err}")
            else:
                if not isinstance(payload, dict):
                    malformed.append("the body is not a JSON object")
        problems = (*unauthentic, *malformed)
        scripted = self._take_scripted()
        if scripted is not None:
            return Outcome(scripted, webhook_id, payload, problems, scripted=True)
        if unauthentic:
            return Outcome(
                Answer(401, {"error": "; ".join(unauthentic)}), webhook_id, None, problems
            )
        if malformed:
            return Outcome(
                Answer(400, {"error": "; ".join(malformed)}), webhook_id, payload, problems
            )
        assert isinstance(payload, dict)
        duplicate = any(d.webhook_id == webhook_id for d in self._deliveries)
        self._deliveries.append(
            WebhookDelivery(
                webhook_id=webhook_id,
                timestamp=int(request.headers["webhook-timestamp"]),
                path=request.path,
                payload=copy.deepcopy(payload),
                raw=request.raw,
                headers=dict(request.headers),
                duplicate=duplicate,
            )
        )
        return Outcome(Answer(204), webhook_id, payload, accepted=True)

    def _signature_problems(self, request: Incoming) -> list[str]:
        """Why the delivery is not authentic, by the specification and its library."""
        headers = request.headers
        found: list[str] = []
        webhook_id = headers.get("webhook-id")
        if webhook_id and "." in webhook_id:
            # "...the message id and the timestamp ... not be allowed to include any '.'".
            found.append("webhook-id contains '.'")
        timestamp = headers.get("webhook-timestamp")
        if timestamp and not _TIMESTAMP.match(timestamp):
            found.append(f"webhook-timestamp {timestamp[:40]!r} is not integer seconds")
        try:
            self._webhook.verify(request.raw, headers, json_parse=False)
        except WebhookVerificationError as err:
            found.append(f"verification failed: {err}")
        except ValueError as err:
            # The library lets these through: an entry without a comma ("v1"), a signature
            # that is not base64, a body that is not UTF-8.
            found.append(f"verification failed: malformed delivery: {err}")
        return found
