"""``escalations api-key create|list|revoke``, run in-process against a store in tmp_path."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from pathlib import Path

import pytest

from escalations.api.key_store import ApiKeyStore
from escalations.cli.main import main

TOKEN = re.compile(r"esk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "api-keys.json"
    monkeypatch.setenv("ESCALATIONS_API_KEYS_FILE", str(path))
    return path


def create(capsys: pytest.CaptureFixture[str], name: str, scope: str) -> str:
    assert main(["api-key", "create", "--name", name, "--scope", scope]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    return out.removesuffix("\n")


def test_create_prints_the_token_alone_and_says_it_is_shown_once(
    keys_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["api-key", "create", "--name", "ci bot", "--scope", "write"]) == 0
    captured = capsys.readouterr()
    token = captured.out.removesuffix("\n")
    assert TOKEN.fullmatch(token)
    assert "will not be shown again" in captured.err
    assert str(keys_file) in captured.err
    assert token not in captured.err
    assert captured.err.count("\n") == 1

    key = ApiKeyStore(keys_file).authenticate(token)
    assert key is not None
    assert (key.name, key.scope) == ("ci bot", "write")
    assert token.split("_")[1] == key.key_id
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert token not in keys_file.read_text()


def test_list_shows_keys_never_tokens_or_hashes(
    keys_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = [create(capsys, "reader", "read"), create(capsys, "ops admin", "admin")]
    secrets = tokens + [t.split("_", 2)[2] for t in tokens]
    secrets += [hashlib.sha256(t.encode()).hexdigest() for t in tokens]

    assert main(["api-key", "list"]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].split() == ["KEY", "ID", "NAME", "SCOPE", "CREATED", "REVOKED"]
    assert lines[1].split()[0] == tokens[0].split("_")[1]
    assert lines[1].split()[1:3] == ["reader", "read"]
    assert lines[2].split()[1:4] == ["ops", "admin", "admin"]
    assert lines[2].endswith(" -")

    assert main(["api-key", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["name"] for k in listed] == ["reader", "ops admin"]
    assert set(listed[0]) == {"key_id", "name", "scope", "created_at", "revoked_at"}
    assert listed[0]["created_at"].endswith("Z")

    for text in (table, json.dumps(listed)):
        assert not any(secret in text for secret in secrets)


def test_list_of_no_keys(keys_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-key", "list"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no keys in" in captured.err
    assert main(["api-key", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not keys_file.parent.exists()


def test_revoke_takes_effect_and_is_listed(
    keys_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create(capsys, "ci", "read")
    server = ApiKeyStore(keys_file)
    assert server.authenticate(token) is not None

    assert main(["api-key", "revoke", "ci"]) == 0
    assert "Revoked the key" in capsys.readouterr().out
    assert server.authenticate(token) is None

    assert main(["api-key", "revoke", token.split("_")[1]]) == 0
    assert "already revoked" in capsys.readouterr().out

    assert main(["api-key", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None


def test_revoke_of_an_unknown_key_exits_1(
    keys_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create(capsys, "ci", "read")
    assert main(["api-key", "revoke", "nope"]) == 1
    err = capsys.readouterr().err
    assert err == "escalations api-key revoke: no key has the id or name 'nope'\n"

    foreign = "esk_0123456789ab_" + token[-43:]
    assert main(["api-key", "revoke", foreign]) == 1
    captured = capsys.readouterr()
    assert token[-43:] not in captured.out + captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["create", "--name", "k", "--scope", "root"], "invalid choice", id="scope"),
        pytest.param(["create", "--scope", "read"], "--name", id="no-name"),
        pytest.param(["create", "--name", "k"], "--scope", id="no-scope"),
        pytest.param(
            ["create", "--name", "a\nb", "--scope", "read"], "control characters", id="newline"
        ),
        pytest.param(
            ["create", "--name", "x" * 65, "--scope", "read"], "at most 64", id="too-long"
        ),
        pytest.param([], "COMMAND", id="no-command"),
        pytest.param(["revoke"], "KEY_ID_OR_NAME", id="revoke-nothing"),
    ],
)
def test_bad_arguments_exit_2(
    keys_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert main(["api-key", *argv]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert captured.out == ""
    assert not keys_file.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["list", "--json"],
        ["create", "--name", "k", "--scope", "read"],
        ["revoke", "k"],
    ],
)
def test_a_corrupt_store_exits_1_naming_the_file(
    keys_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    keys_file.parent.mkdir()
    keys_file.write_text('{"version": 7, "keys": []}')
    assert main(["api-key", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(keys_file) in captured.err
    assert "newer" in captured.err
    assert captured.err.count("\n") == 1
    assert keys_file.read_text() == '{"version": 7, "keys": []}'
