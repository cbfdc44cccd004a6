"""The codec server over real HTTP on loopback: protocol, token, CORS, limits, sign-in, TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from escalations.codec.auth import SESSION_COOKIE
from escalations.codec.server import CodecServer, normalize_origin
from escalations.runtime.encryption import ENCODING, EncryptionCodec, EncryptionKey
from tests.escalations.codec_http import payloads_json, request

TOKEN = "codec-token-for-tests-0123456789"
UI = "http://127.0.0.1:8233"
EVIL = "http://evil.example"
KEY = EncryptionKey("k1", bytes(range(32)))
SECRET_TITLE = b"Payroll export leaks salaries"


@pytest.fixture
def server() -> Iterator[CodecServer]:
    with CodecServer(
        EncryptionCodec([KEY]), token=TOKEN, ui_origins=[UI], port=0, max_body=64 * 1024
    ) as running:
        yield running


def parse_payloads(body: bytes) -> list[Payload]:
    return list(json_format.Parse(body, Payloads()).payloads)


def authed(**extra: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "X-Namespace": "default",
        **extra,
    }


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"title": "' + SECRET_TITLE + b'"}')


def test_encode_then_decode_round_trip(server: CodecServer) -> None:
    encoded = request(server, "POST", "/encode", payloads_json(PLAIN), authed())
    assert encoded.status == 200
    assert encoded.headers["Content-Type"] == "application/json"
    assert encoded.headers["Cache-Control"] == "no-store"
    [sealed] = parse_payloads(encoded.body)
    assert sealed.metadata["encoding"] == ENCODING
    assert SECRET_TITLE not in sealed.SerializeToString()

    # The protocol lets the endpoint sit under a prefix, e.g. one per namespace.
    decoded = request(server, "POST", "/default/decode", payloads_json(sealed), authed())
    assert decoded.status == 200
    assert parse_payloads(decoded.body) == [PLAIN]


def test_decode_passes_plain_payloads_through(server: CodecServer) -> None:
    response = request(server, "POST", "/decode", payloads_json(PLAIN, PLAIN), authed())
    assert response.status == 200
    assert parse_payloads(response.body) == [PLAIN, PLAIN]


def test_decode_accepts_what_the_web_ui_sends(server: CodecServer) -> None:
    # The Web UI posts the payloads it got from the server's HTTP API, keys as written there.
    [sealed] = parse_payloads(
        request(server, "POST", "/encode", payloads_json(PLAIN), authed()).body
    )
    body = json.dumps(
        {"payloads": [json_format.MessageToDict(sealed, preserving_proto_field_name=True)]}
    ).encode()
    response = request(server, "POST", "/decode", body, authed(Origin=UI))
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == UI
    assert response.json()["payloads"][0]["metadata"]["encoding"] == "anNvbi9wbGFpbg=="


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
)
def test_missing_or_wrong_token_is_401(server: CodecServer, authorization: str | None) -> None:
    headers = authed()
    del headers["Authorization"]
    if authorization is not None:
        headers["Authorization"] = authorization
    response = request(server, "POST", "/decode", payloads_json(PLAIN), headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN.encode() not in response.body
    assert SECRET_TITLE not in response.body


def test_allowed_origin_preflight(server: CodecServer) -> None:
    response = request(
        server,
        "OPTIONS",
        "/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == UI
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-namespace", "authorization"} <= allowed
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Private-Network" not in response.headers


def test_private_network_preflight_from_a_public_ui() -> None:
    cloud = "https://cloud.temporal.io"
    with CodecServer(EncryptionCodec([KEY]), token=None, ui_origins=[cloud], port=0) as server:
        response = request(
            server,
            "OPTIONS",
            "/decode",
            headers={"Origin": cloud, "Access-Control-Request-Private-Network": "true"},
        )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"


@pytest.mark.parametrize("origin", [EVIL, "http://127.0.0.1:8234", "null", "http://localhost:8233"])
def test_foreign_origin_preflight_gets_no_cors_headers(server: CodecServer, origin: str) -> None:
    response = request(
        server,
        "OPTIONS",
        "/decode",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert response.status == 403
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


def test_foreign_origin_is_refused_even_with_the_token(server: CodecServer) -> None:
    response = request(server, "POST", "/decode", payloads_json(PLAIN), authed(Origin=EVIL))
    assert response.status == 403
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


def test_allowed_origin_without_token_is_401_with_cors(server: CodecServer) -> None:
    headers = {"Origin": UI, "Content-Type": "application/json"}
    response = request(server, "POST", "/decode", payloads_json(PLAIN), headers)
    assert response.status == 401
    # The browser may read the status: the UI can tell "not signed in" from "unreachable".
    assert response.headers["Access-Control-Allow-Origin"] == UI


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"payloads": [{"data": 5}]}',
        b'{"payloads": {}}',
        b'{"nope": 1}',
        b"\xff\xfe",
        b"[]",
    ],
)
def test_bad_body_is_400(server: CodecServer, body: bytes) -> None:
    response = request(server, "POST", "/decode", body, authed())
    assert response.status == 400
    assert "not a Payloads message in proto3 JSON" in response.json()["error"]


def test_undecryptable_payload_is_400_naming_the_key_id(server: CodecServer) -> None:
    foreign = Payload(
        metadata={"encoding": ENCODING, "encryption-key-id": b"k9"}, data=b"\x00" * 40
    )
    response = request(server, "POST", "/decode", payloads_json(foreign), authed())
    assert response.status == 400
    assert "key 'k9', which this process does not hold" in response.json()["error"]


def test_oversize_body_is_413(server: CodecServer) -> None:
    big = Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * (80 * 1024))
    response = request(server, "POST", "/decode", payloads_json(big), authed())
    assert response.status == 413


def test_wrong_content_type_is_415(server: CodecServer) -> None:
    headers = authed()
    headers["Content-Type"] = "text/plain"
    response = request(server, "POST", "/decode", payloads_json(PLAIN), headers)
    assert response.status == 415


def test_unknown_paths_are_404(server: CodecServer) -> None:
    assert request(server, "POST", "/decrypt", b"{}", authed()).status == 404
    assert request(server, "GET", "/decode").status == 404
    assert request(server, "GET", "/healthz").status == 200


def test_browser_sign_in_sets_a_session_cookie_that_the_ui_can_use(server: CodecServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong = request(server, "POST", "/login", b"token=nope-nope-nope-nope", form)
    assert wrong.status == 401
    assert "Set-Cookie" not in wrong.headers

    page = request(server, "GET", "/")
    assert page.status == 200
    assert b'name="token"' in page.body
    assert page.headers["X-Frame-Options"] == "DENY"

    signed_in = request(server, "POST", "/login", f"token={TOKEN}".encode(), form)
    assert signed_in.status == 200
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    session = cookie.split(";", 1)[0]
    assert session.startswith(f"{SESSION_COOKIE}=")

    # What the Web UI does with "include cross-origin credentials": cookie, no Authorization.
    headers = {"Origin": UI, "Content-Type": "application/json", "Cookie": session}
    [sealed] = parse_payloads(
        request(server, "POST", "/encode", payloads_json(PLAIN), authed()).body
    )
    response = request(server, "POST", "/decode", payloads_json(sealed), headers)
    assert response.status == 200
    assert parse_payloads(response.body) == [PLAIN]
    assert response.headers["Access-Control-Allow-Credentials"] == "true"

    forged = {**headers, "Cookie": f"{SESSION_COOKIE}=99999999999.{'0' * 64}"}
    assert request(server, "POST", "/decode", payloads_json(sealed), forged).status == 401


def test_sessions_expire_and_die_with_the_token(server: CodecServer) -> None:
    expired = server.auth.new_session(now=0)
    assert not server.auth.session_valid(expired)
    assert server.auth.session_valid(server.auth.new_session())
    with CodecServer(
        EncryptionCodec([KEY]), token="another-token-0123456789-abcdefgh", port=0
    ) as other:
        assert not other.auth.session_valid(server.auth.new_session())


def test_no_auth_mode_needs_no_token() -> None:
    with CodecServer(EncryptionCodec([KEY]), token=None, ui_origins=[UI], port=0) as server:
        response = request(
            server, "POST", "/encode", payloads_json(PLAIN), {"Content-Type": "application/json"}
        )
        assert response.status == 200
        assert request(server, "POST", "/decode", b"{}", {"Origin": EVIL}).status == 403


def test_the_log_never_holds_tokens_or_payloads(
    server: CodecServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="escalations.codec.server"):
        request(server, "POST", "/decode", payloads_json(PLAIN), authed())
        request(server, "POST", "/decode", payloads_json(PLAIN), authed(Authorization="Bearer x"))
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        request(server, "POST", "/login", f"token={TOKEN}".encode(), form)
    text = caplog.text
    assert "POST /decode -> 200 (namespace default)" in text
    assert "POST /decode -> 401" in text
    assert TOKEN not in text
    assert SECRET_TITLE.decode() not in text
    assert repr(server).count(TOKEN) == 0


def test_origins_are_normalized() -> None:
    assert normalize_origin("HTTP://LocalHost:8233/") == "http://localhost:8233"
    assert normalize_origin("https://ui.example.com:443") == "https://ui.example.com"
    for bad in ["*", "ui.example.com", "http://ui.example.com/path", "ftp://x"]:
        with pytest.raises(ValueError, match="origin"):
            normalize_origin(bad)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_with_a_secure_session_cookie(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    with CodecServer(
        EncryptionCodec([KEY]), token=TOKEN, ui_origins=[UI], port=0, tls=server_context
    ) as server:
        assert server.url.startswith("https://127.0.0.1:")
        response = request(
            server, "POST", "/encode", payloads_json(PLAIN), authed(), context=client_context
        )
        assert response.status == 200
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        login = request(
            server, "POST", "/login", f"token={TOKEN}".encode(), form, context=client_context
        )
        assert "; Secure" in login.headers["Set-Cookie"]
