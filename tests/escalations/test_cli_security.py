"""``escalations codec-key`` and ``escalations codec-server``: arguments, refusals, a real run."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from escalations.cli.main import main
from escalations.runtime.config import load_settings
from escalations.runtime.encryption import EncryptionKey, generate_key

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cli-codec-token-0123456789abcdef"


def test_codec_key_prints_a_usable_key_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codec-key", "--id", "ops-2026"]) == 0
    key_id, encoded = capsys.readouterr().out.split()
    assert key_id == "ops-2026"
    assert len(EncryptionKey.from_text(key_id, encoded).secret) == 32

    assert main(["codec-key", "--id", "ops-2", "--inline"]) == 0
    inline = capsys.readouterr().out.strip()
    assert load_settings({"ESCALATIONS_ENCRYPTION_KEYS": inline}).encryption_keys[0].key_id == (
        "ops-2"
    )


def test_codec_key_refuses_a_bad_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codec-key", "--id", "has space"]) == 2
    assert "--id: a key id must be" in capsys.readouterr().err


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch) -> str:
    line = generate_key("k1").to_line()
    monkeypatch.setenv("ESCALATIONS_ENCRYPTION_KEYS", line.replace(" ", ":"))
    monkeypatch.delenv("ESCALATIONS_ENCRYPTION_KEY_FILE", raising=False)
    monkeypatch.delenv("ESCALATIONS_CODEC_SERVER_TOKEN", raising=False)
    return line.split()[1]


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        pytest.param([], {}, "set ESCALATIONS_CODEC_SERVER_TOKEN", id="no-token"),
        pytest.param(
            ["--no-auth", "--host", "0.0.0.0"],
            {},
            "--no-auth is allowed only on loopback",
            id="no-auth-off-loopback",
        ),
        pytest.param(
            ["--tls-cert", "c.pem"],
            {"ESCALATIONS_CODEC_SERVER_TOKEN": TOKEN},
            "--tls-cert and --tls-key go together",
            id="half-tls",
        ),
    ],
)
def test_codec_server_refuses_unsafe_or_incomplete_settings(
    keys_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    expected: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["codec-server", *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert keys_env not in err


def test_codec_server_needs_the_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ESCALATIONS_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("ESCALATIONS_ENCRYPTION_KEY_FILE", raising=False)
    monkeypatch.setenv("ESCALATIONS_CODEC_SERVER_TOKEN", TOKEN)
    assert main(["codec-server"]) == 2
    assert "the codec server needs the encryption keys" in capsys.readouterr().err


@pytest.mark.parametrize("origin", ["*", "https://ui.example.com/path"])
def test_codec_server_refuses_a_bad_origin(
    keys_env: str, capsys: pytest.CaptureFixture[str], origin: str
) -> None:
    assert main(["codec-server", "--ui-origin", origin]) == 2
    assert "argument --ui-origin:" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_codec_server_runs_until_sigterm_and_logs_no_secrets(tmp_path: Path) -> None:
    key = generate_key("k1")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESCALATIONS_", "TEMPORAL_"))}
    env.update(
        {
            "ESCALATIONS_ENCRYPTION_KEYS": key.to_line().replace(" ", ":"),
            "ESCALATIONS_CODEC_SERVER_TOKEN": TOKEN,
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = tmp_path / "codec-server.log"
    command = [sys.executable, "-m", "escalations.cli.main", "codec-server", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--ui-origin", "https://ui.example.com"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while b"Codec server on" not in log_path.read_bytes():
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = json.dumps({"payloads": [{"metadata": {}, "data": "eA=="}]})
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            conn.request("POST", "/encode", body=body, headers=headers)
            assert conn.getresponse().status == 200
            conn.close()
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=10)
    output = log_path.read_text()
    assert code == 0, output
    assert f"Codec server on http://127.0.0.1:{port} for Web UI origins https://ui.example.com" in (
        output
    )
    assert "POST /encode -> 200" in output
    assert TOKEN not in output
    assert key.to_line().split()[1] not in output
