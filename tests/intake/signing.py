"""Signing a delivery as each helpdesk does, for tests that play the helpdesk's part.

Written from the vendors' documented algorithms (``../shared/vendor/README.md``), separately
from the readers that verify them; ``tests/intake`` checks both against the published vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

SECRETS = {
    "zendesk": "zendesk-test-signing-secret",
    "jira": "jira-test-webhook-secret",
    "freshdesk": "freshdesk-test-shared-token",
    "zammad": "zammad-test-signature-token",
    "github": "github-test-webhook-secret",
}
"""Each source's secret in the tests, under the variable its shipped mapping names."""
ENVIRON = {f"ESCALATIONS_{source.upper()}_SECRET": secret for source, secret in SECRETS.items()}


def signed_headers(
    source: str, body: bytes, secret: str | None = None, now: datetime | None = None
) -> dict[str, str]:
    """The headers ``source`` would send with ``body`` (signature and content type)."""
    key = (secret if secret is not None else SECRETS[source]).encode()
    headers = {"Content-Type": "application/json"}
    if source == "zendesk":
        stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hmac.new(key, stamp.encode() + body, hashlib.sha256).digest()
        headers["X-Zendesk-Webhook-Signature"] = base64.b64encode(digest).decode()
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = stamp
    elif source == "freshdesk":
        headers["X-Escalations-Token"] = key.decode()
    elif source == "jira":
        headers["X-Hub-Signature"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    elif source == "zammad":
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
    elif source == "github":
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    else:
        raise ValueError(source)
    return headers
