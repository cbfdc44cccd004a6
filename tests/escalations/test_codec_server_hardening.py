"""The codec server against hostile clients, over real sockets on loopback.

Each test reproduces one way the server could be abused: forged log lines, connections held
open for good, a session that outlives signing out, a guessable token, unlimited guesses, and
a key file other users can read.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from escalations.cli.main import main
from escalations.codec.auth import (
    SESSION_COOKIE,
    AttemptLimiter,
    CodecAuth,
    WeakToken,
    generate_token,
    token_weakness,
)
from escalations.codec.server import CodecServer
from escalations.codec.serving import Limits, log_field
from escalations.runtime.encryption import EncryptionCodec, EncryptionKey, generate_key
from tests.escalations.codec_http import address, payloads_json, request

TOKEN = "codec-token-for-tests-0123456789"
UI = "http://127.0.0.1:8233"
KEY = EncryptionKey("k1", bytes(range(32)))
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"title": "Checkout down"}')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def server() -> Iterator[CodecServer]:
    with CodecServer(EncryptionCodec([KEY]), token=TOKEN, ui_origins=[UI], port=0) as running:
        yield running


def raw_exchange(server: CodecServer, data: bytes) -> bytes:
    """Send bytes no HTTP client library would, and read until the server closes."""
    with socket.create_connection(address(server), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def authed(**extra: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "X-Namespace": "default",
        **extra,
    }


def sign_in(server: CodecServer, source: str = "127.0.0.1") -> str:
    response = request(server, "POST", "/login", f"token={TOKEN}".encode(), FORM, source)
    assert response.status == 200
    return str(response.headers["Set-Cookie"].split(";", 1)[0])


def with_cookie(cookie: str) -> dict[str, str]:
    return {"Origin": UI, "Content-Type": "application/json", "Cookie": cookie}


# -- 1. log injection -----------------------------------------------------------------------

HOSTILE_REQUESTS = [
    # A raw escape sequence and percent-encoded CR LF in the path: a fake log line, in red.
    b"GET /\x1b[31mx HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"GET /%1b[31mx%0d%0a2026-01-01%20INFO%20forged HTTP/1.1\r\nHost: h\r\nConnection: close"
    b"\r\n\r\n",
    # A folded X-Namespace: its continuation line carries a terminal escape.
    b"POST /decode HTTP/1.1\r\nHost: h\r\nX-Namespace: default\r\n \x1b[2Jforged\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n",
    # A line separator (U+2028, UTF-8) and a tab in the namespace.
    b"POST /decode HTTP/1.1\r\nHost: h\r\nX-Namespace: a\xe2\x80\xa8b\tc\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n",
]


def test_control_characters_never_reach_the_log(
    server: CodecServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        for data in HOSTILE_REQUESTS:
            assert raw_exchange(server, data).startswith(b"HTTP/1.1 4")
    lines = [record.getMessage() for record in caplog.records]
    assert lines
    for line in lines:
        assert line.isprintable(), f"unescaped control character in log line {line!r}"
    text = "\n".join(lines)
    # What was sent is still there for an investigator, escaped.
    assert "/\\x1b[31mx\\x0d\\x0a2026-01-01\\x20INFO\\x20forged" in text
    assert "(namespace default\\x20\\x1b[2Jforged)" in text


@pytest.mark.parametrize(
    "namespace",
    [b"default\x1b[2J", b"a b", b"x" * 256, b"", b"ns/../other", b"ns\xe2\x80\xa8", b"a,b"],
)
def test_a_namespace_that_is_no_temporal_name_is_400(server: CodecServer, namespace: bytes) -> None:
    body = payloads_json(PLAIN)
    data = (
        b"POST /decode HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nX-Namespace: " + namespace + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    answer = raw_exchange(server, data)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"X-Namespace must be one Temporal namespace name" in answer


@pytest.mark.parametrize("namespace", ["default", "tickets.acme-1", "ops_2", "x" * 255])
def test_temporal_namespace_names_are_accepted(server: CodecServer, namespace: str) -> None:
    response = request(
        server, "POST", "/encode", payloads_json(PLAIN), authed(**{"X-Namespace": namespace})
    )
    assert response.status == 200


def test_log_fields_are_escaped_and_bounded() -> None:
    assert log_field("a\r\nb c\\d\x1b\u2028\U0001f600") == "a\\x0d\\x0ab\\x20c\\x5cd\\x1b\\u2028😀"
    assert log_field("\U000e0001") == "\\U000e0001"  # a tag character: format, not printable
    assert log_field("x" * 300) == "x" * 200 + "..."


# -- 2. connections and slow clients --------------------------------------------------------

QUICK = Limits(max_connections=40, keep_alive_timeout=1, head_timeout=1.5, request_timeout=2.0)


def closed_by_server(conn: socket.socket, within: float, trickle: bytes = b"") -> bool:
    """Whether the server closes ``conn`` within ``within`` s, while we trickle bytes."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        readable, _, _ = select.select([conn], [], [], 0.25)
        try:
            if readable and conn.recv(65536) == b"":
                return True
            if trickle:
                conn.sendall(trickle)
        except OSError:  # reset by the server
            return True
    return False


def test_idle_and_trickling_clients_hold_no_thread_and_are_dropped() -> None:
    with CodecServer(EncryptionCodec([KEY]), token=TOKEN, port=0, limits=QUICK) as server:
        threads = threading.active_count()
        idle = [socket.create_connection(address(server)) for _ in range(30)]
        slow_head = socket.create_connection(address(server))
        slow_head.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Slow: ")
        slow_body = socket.create_connection(address(server))
        slow_body.sendall(
            b"POST /decode HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer "
            + TOKEN.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        try:
            time.sleep(0.3)
            # One event loop serves them all: no thread per connection.
            assert threading.active_count() <= threads
            # ...and it still answers everyone else.
            assert request(server, "GET", "/healthz").status == 200
            # A head trickled a byte at a time is cut off at the head deadline, a body at the
            # request deadline; idle connections at the head deadline.
            assert closed_by_server(slow_head, QUICK.head_timeout + 2, trickle=b"a")
            assert closed_by_server(slow_body, QUICK.request_timeout + 2, trickle=b" ")
            assert all(closed_by_server(conn, 2) for conn in idle)
        finally:
            for conn in [*idle, slow_head, slow_body]:
                conn.close()


def test_connections_past_the_limit_get_503_until_idle_ones_are_dropped() -> None:
    with CodecServer(EncryptionCodec([KEY]), token=TOKEN, port=0, limits=QUICK) as server:
        idle = [socket.create_connection(address(server)) for _ in range(QUICK.max_connections)]
        try:
            time.sleep(0.3)
            assert request(server, "GET", "/healthz").status == 503
            assert all(closed_by_server(conn, QUICK.head_timeout + 2) for conn in idle)
            assert request(server, "GET", "/healthz").status == 200
        finally:
            for conn in idle:
                conn.close()


def test_a_keep_alive_connection_is_closed_when_idle() -> None:
    with (
        CodecServer(EncryptionCodec([KEY]), token=TOKEN, port=0, limits=QUICK) as server,
        socket.create_connection(address(server), timeout=10) as conn,
    ):
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert closed_by_server(conn, QUICK.keep_alive_timeout + 2)


def test_a_request_head_past_the_buffer_limit_is_400() -> None:
    # h11 bounds what it buffers of an unfinished head (a head that arrives whole in one read
    # is parsed at once): a client that keeps sending header bytes is cut off, not buffered.
    with (
        CodecServer(EncryptionCodec([KEY]), token=TOKEN, port=0, limits=QUICK) as server,
        socket.create_connection(address(server), timeout=10) as conn,
    ):
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Filler: ")
        answer = b""
        for _ in range(QUICK.max_head_size // 1024 + 8):
            try:
                conn.sendall(b"a" * 1024)
            except OSError:
                break
            time.sleep(0.005)
        while chunk := conn.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 ")


# -- 3. signing out ends the session --------------------------------------------------------


def test_a_cookie_captured_before_signing_out_is_refused_after(server: CodecServer) -> None:
    captured = sign_in(server)
    other_browser = sign_in(server)
    body = payloads_json(PLAIN)
    assert request(server, "POST", "/decode", body, with_cookie(captured)).status == 200

    signed_out = request(server, "POST", "/logout", b"", {"Cookie": captured, **FORM})
    assert signed_out.status == 200
    assert "Max-Age=0" in signed_out.headers["Set-Cookie"]

    # Replaying the cookie (the browser dropped it; an attacker kept a copy) no longer works.
    assert request(server, "POST", "/decode", body, with_cookie(captured)).status == 401
    assert b'name="token"' in request(server, "GET", "/", headers={"Cookie": captured}).body
    # Other sessions are not affected.
    assert request(server, "POST", "/decode", body, with_cookie(other_browser)).status == 200


def test_session_cookies_are_random_and_bounded_in_number() -> None:
    auth = CodecAuth(TOKEN)
    values = {auth.new_session() for _ in range(3)}
    assert len(values) == 3
    assert all(TOKEN not in value for value in values)
    first = auth.new_session(now=time.time())
    for _ in range(1_000):
        auth.new_session()
    assert not auth.session_valid(first), "the oldest session gives way past MAX_SESSIONS"


# -- 4. weak tokens -------------------------------------------------------------------------

WEAK = [
    "a" * 16,
    "a" * 40,
    "short-but-random-Zx81",
    "abababababababababababababababab",
    "0123456789abcdef0123456789abcdef",
    "aabbccdd" * 5,
]


@pytest.mark.parametrize("token", WEAK)
def test_weak_tokens_are_refused(token: str) -> None:
    assert token_weakness(token) is not None
    with pytest.raises(WeakToken) as err:
        CodecServer(EncryptionCodec([KEY]), token=token, port=0)
    assert token not in str(err.value)


@pytest.mark.parametrize(
    "token",
    [
        "q0k1S4c0bR2x9Lm7Yp3Wn8Vt6Ju5Hg4Fe2Dc1Ba0Zz=",  # openssl rand -base64 32
        "3f9c2a7e1b4d8c6f0a5e9b2d7c4f1a8e",  # openssl rand -hex 16
        TOKEN,
    ],
)
def test_strong_tokens_are_accepted(token: str) -> None:
    assert token_weakness(token) is None
    CodecAuth(token)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on: a codec server that gets as far as binding fails."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield int(taken.getsockname()[1])


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch) -> str:
    line = generate_key("k1").to_line()
    monkeypatch.setenv("ESCALATIONS_ENCRYPTION_KEYS", line.replace(" ", ":"))
    monkeypatch.delenv("ESCALATIONS_ENCRYPTION_KEY_FILE", raising=False)
    monkeypatch.setenv("ESCALATIONS_CODEC_SERVER_TOKEN", TOKEN)
    return line.split()[1]


@pytest.mark.parametrize("token", ["a" * 16, "abcdefghabcdefghabcdefghabcdefgh"])
def test_the_cli_refuses_a_weak_token_at_start(
    keys_env: str,
    busy_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str,
) -> None:
    monkeypatch.setenv("ESCALATIONS_CODEC_SERVER_TOKEN", token)
    assert main(["codec-server", "--port", str(busy_port)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "ESCALATIONS_CODEC_SERVER_TOKEN is too weak" in err
    assert "codec-key --token" in err
    assert token not in err


def test_codec_key_makes_strong_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    tokens = set()
    for _ in range(3):
        assert main(["codec-key", "--token"]) == 0
        tokens.add(capsys.readouterr().out.strip())
    assert len(tokens) == 3
    for token in tokens:
        assert len(token) >= 32
        assert token_weakness(token) is None
        CodecAuth(token)
    assert token_weakness(generate_token()) is None
    assert main(["codec-key", "--token", "--inline"]) == 2


# -- 5. rate limit on guesses ---------------------------------------------------------------


def test_sign_in_guesses_are_rate_limited_per_client(server: CodecServer) -> None:
    for _ in range(5):
        assert request(server, "POST", "/login", b"token=guess-guess-guess", FORM).status == 401
    limited = request(server, "POST", "/login", b"token=guess-guess-guess", FORM)
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    # Out of attempts, the right token is refused too: a guess teaches nothing.
    right = request(server, "POST", "/login", f"token={TOKEN}".encode(), FORM)
    assert right.status == 429
    assert "Set-Cookie" not in right.headers
    # Bearer guesses draw on the same attempts.
    bearer = request(server, "POST", "/decode", payloads_json(PLAIN), authed())
    assert bearer.status == 429
    assert int(bearer.headers["Retry-After"]) >= 1
    # Another client address is not held back.
    assert sign_in(server, source="127.0.0.2").startswith(f"{SESSION_COOKIE}=")


def test_wrong_bearer_tokens_are_rate_limited_but_missing_ones_are_not(
    server: CodecServer,
) -> None:
    body = payloads_json(PLAIN)
    anonymous = {"Content-Type": "application/json", "Origin": UI}
    # The Web UI before signing in: no credentials, many calls. Not guesses.
    for _ in range(20):
        assert request(server, "POST", "/decode", body, anonymous).status == 401
    assert request(server, "POST", "/decode", body, authed()).status == 200
    wrong = authed(Authorization="Bearer wrong-token-wrong-token-wrong-token")
    assert [request(server, "POST", "/decode", body, wrong).status for _ in range(6)] == [
        *[401] * 5,
        429,
    ]
    answer = request(server, "POST", "/decode", body, {**wrong, "Origin": UI})
    assert answer.status == 429
    assert answer.headers["Access-Control-Allow-Origin"] == UI


def test_attempts_come_back_over_time() -> None:
    limiter = AttemptLimiter(burst=2, refill_seconds=10)
    assert limiter.retry_after("a", now=0) is None
    limiter.charge("a", now=0)
    limiter.charge("a", now=0)
    assert limiter.retry_after("a", now=0) == 10
    assert limiter.retry_after("a", now=4) == 6
    assert limiter.retry_after("b", now=4) is None
    assert limiter.retry_after("a", now=10) is None
    small = AttemptLimiter(burst=1, refill_seconds=10, max_clients=2)
    for client in ("a", "b", "c"):
        small.charge(client, now=0)
    assert small.retry_after("c", now=0) == 10
    assert small.retry_after("a", now=0) is None  # forgotten: the table stays bounded


# -- 6. key file permissions ----------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    key = generate_key("k1")
    path = tmp_path / "keys"
    path.write_text(key.to_line() + "\n")
    monkeypatch.delenv("ESCALATIONS_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("ESCALATIONS_ENCRYPTION_KEY_FILE", str(path))
    monkeypatch.setenv("ESCALATIONS_CODEC_SERVER_TOKEN", TOKEN)
    return path, key.to_line().split()[1]


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602, 0o620, 0o666])
def test_a_key_file_other_users_can_read_or_change_is_refused(
    key_file: tuple[Path, str],
    busy_port: int,
    capsys: pytest.CaptureFixture[str],
    mode: int,
) -> None:
    path, secret = key_file
    path.chmod(mode)
    assert main(["codec-server", "--port", str(busy_port)]) == 2
    err = capsys.readouterr().err
    assert "ESCALATIONS_ENCRYPTION_KEY_FILE" in err
    assert f"mode {mode:04o}" in err
    assert "chmod 600" in err
    assert secret not in err


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o400, False), (0o640, True)])
def test_a_private_key_file_is_accepted_and_a_group_readable_one_warned_about(
    key_file: tuple[Path, str],
    busy_port: int,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    mode: int,
    warned: bool,
) -> None:
    path, _ = key_file
    path.chmod(mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    with caplog.at_level(logging.WARNING, logger="escalations.codec.server"):
        # It gets past the checks, as far as binding the (busy) port.
        assert main(["codec-server", "--port", str(busy_port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
    assert ("readable by its group" in caplog.text) is warned
