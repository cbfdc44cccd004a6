"""One HTTP request to a test's API, as a service would send it."""

from __future__ import annotations

import dataclasses
import http.client
import json
from typing import Any
from urllib.parse import urlsplit


@dataclasses.dataclass
class Reply:
    """One HTTP answer: status, headers (lower-case names), JSON body or text."""

    status: int
    headers: dict[str, str]
    body: Any


def request(
    url: str,
    method: str,
    path: str,
    body: bytes | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
) -> Reply:
    """``method path`` on a new connection to ``url``; a dict body is sent as JSON, a
    ``token`` as ``Authorization: Bearer`` (unless ``headers`` has one)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    sent = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    if token is not None:
        sent.setdefault("Authorization", f"Bearer {token}")
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    kind = response.getheader("content-type", "")
    parsed = json.loads(raw) if kind.startswith("application/json") else raw.decode()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)
