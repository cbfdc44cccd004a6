"""Plain HTTP to a codec server under test, with the standard library's client."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from escalations.codec.server import CodecServer


class Response:
    """Status, headers and the whole body of one answer."""

    def __init__(self, raw: http.client.HTTPResponse) -> None:
        self.status = raw.status
        self.headers = raw.headers
        self.body = raw.read()

    def json(self) -> Any:
        return json.loads(self.body)


def address(server: CodecServer) -> tuple[str, int]:
    """The host and port the server listens on."""
    host, port = server.url.rsplit("/", 1)[-1].rsplit(":", 1)
    return host, int(port)


def request(
    server: CodecServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
    *,
    context: ssl.SSLContext | None = None,
) -> Response:
    """One request on a fresh connection (HTTPS with ``context``), from address ``source``."""
    host, port = address(server)
    conn: http.client.HTTPConnection
    if context is None:
        conn = http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0))
    else:
        conn = http.client.HTTPSConnection(host, port, timeout=10, context=context)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        return Response(conn.getresponse())
    finally:
        conn.close()


def payloads_json(*payloads: Payload) -> bytes:
    """``payloads`` as the Web UI sends them to ``/encode`` and ``/decode``."""
    return json_format.MessageToJson(Payloads(payloads=payloads)).encode()
