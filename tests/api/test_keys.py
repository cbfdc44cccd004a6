"""The API key store: tokens, scopes, the file, its errors, reloads and concurrent writers."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from escalations.api.key_store import ApiKeyStore
from escalations.api.keys import (
    SCOPES,
    InvalidKeyName,
    KeyStoreError,
    Scope,
    UnknownKey,
    allows,
)

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "api-keys.json"


@pytest.fixture
def store(path: Path) -> ApiKeyStore:
    return ApiKeyStore(path)


def test_create_list_authenticate_revoke(store: ApiKeyStore) -> None:
    ci, ci_token = store.create("ci bot", "read", NOW)
    ops, ops_token = store.create("ops.admin-1", "admin", LATER)

    assert ci_token.startswith(f"esk_{ci.key_id}_")
    assert len(ci.key_id) == 12
    assert int(ci.key_id, 16) >= 0
    assert (ci.name, ci.scope, ci.created_at, ci.revoked_at) == ("ci bot", "read", NOW, None)
    assert store.list() == [ci, ops]
    assert store.authenticate(ci_token) == ci
    assert store.authenticate(ops_token) == ops

    revoked = store.revoke("ci bot", LATER)
    assert revoked.revoked_at == LATER
    assert revoked.revoked
    assert store.authenticate(ci_token) is None
    assert store.authenticate(ops_token) == ops
    assert store.list() == [revoked, ops]
    assert ApiKeyStore(store.path).list() == [revoked, ops]


def test_the_time_is_kept_in_utc_and_must_carry_a_timezone(store: ApiKeyStore) -> None:
    key, _ = store.create("x", "read", NOW.astimezone(timezone(timedelta(hours=2))))
    assert key.created_at == NOW
    assert key.created_at.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone"):
        store.create("y", "read", datetime(2026, 5, 1))


@pytest.mark.parametrize("granted", SCOPES)
@pytest.mark.parametrize("needed", SCOPES)
def test_scopes_include_the_ones_below(granted: Scope, needed: Scope) -> None:
    order = ["read", "write", "admin"]
    assert allows(granted, needed) is (order.index(granted) >= order.index(needed))


def test_a_revoked_key_allows_nothing(store: ApiKeyStore) -> None:
    key, _ = store.create("k", "admin", NOW)
    assert key.allows("admin")
    assert not store.revoke(key.key_id, NOW).allows("read")


def test_a_token_of_another_key_or_with_one_character_changed_fails(store: ApiKeyStore) -> None:
    first, token = store.create("first", "write", NOW)
    second, _ = store.create("second", "write", NOW)
    secret = token.removeprefix(f"esk_{first.key_id}_")
    assert store.authenticate(f"esk_{second.key_id}_{secret}") is None
    for index, char in enumerate(token):
        others = "0123456789abcdef" if 4 <= index < 16 else ALPHABET
        changed = token[:index] + others[(others.find(char) + 1) % len(others)] + token[index + 1 :]
        assert store.authenticate(changed) is None, index
    assert store.authenticate(token) == first


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: t[4:], id="no-prefix"),
        pytest.param(lambda t: "Bearer " + t, id="scheme-left-on"),
        pytest.param(lambda t: t.replace("_", "-", 2), id="wrong-separators"),
        pytest.param(lambda t: "esk-" + t[4:], id="wrong-prefix-separator"),
        pytest.param(lambda t: t[:-1], id="short"),
        pytest.param(lambda t: t + "A", id="long"),
        pytest.param(lambda t: t + "\n", id="trailing-newline"),
        pytest.param(lambda t: t[:-1] + "\x00", id="nul"),
        pytest.param(lambda t: t[:30] + "\x1b" + t[31:], id="escape"),
        pytest.param(lambda t: t[:-1] + "é", id="non-ascii"),
        pytest.param(lambda t: t[:4] + t[4:16].upper() + t[16:], id="upper-key-id"),
        pytest.param(lambda t: t * 200, id="12kb"),
        pytest.param(lambda t: "x" * 10_240, id="10kb"),
    ],
)
def test_malformed_tokens_are_refused_without_raising(store: ApiKeyStore, mangle) -> None:
    key, token = store.create("k", "read", NOW)
    bad = mangle(token)
    assert bad != token
    assert store.authenticate(bad) is None
    assert store.authenticate(token) == key


def test_the_file_is_private_and_holds_hashes_not_tokens(store: ApiKeyStore, path: Path) -> None:
    assert not path.parent.exists()
    key, token = store.create("k", "read", NOW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert token not in text
    assert token.split("_", 2)[2] not in text
    document = json.loads(text)
    assert document["version"] == 1
    assert document["keys"] == [
        {
            "key_id": key.key_id,
            "name": "k",
            "scope": "read",
            "created_at": "2026-05-01T09:30:00Z",
            "revoked_at": None,
            "hash": hashlib.sha256(token.encode()).hexdigest(),
        }
    ]
    assert [p.name for p in path.parent.iterdir() if p.name != "api-keys.json.lock"] == [
        "api-keys.json"
    ]


def test_a_missing_file_holds_no_keys_and_reading_creates_nothing(path: Path) -> None:
    store = ApiKeyStore(path)
    assert store.list() == []
    assert store.authenticate("esk_0123456789ab_" + "A" * 43) is None
    assert not path.parent.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b'{"version": 1, "keys": [', "not valid JSON", id="truncated"),
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b"\xff\xfe", "not a UTF-8 text file", id="binary"),
        pytest.param(b"[1, 2]", "not an API key store", id="array"),
        pytest.param(b'{"name": "other"}', "not an API key store", id="foreign-object"),
        pytest.param(b'{"version": 2, "keys": []}', "written by a newer", id="future-version"),
        pytest.param(b'{"version": "1", "keys": []}', "unknown store version", id="text-version"),
        pytest.param(b'{"version": 1, "keys": {}}', '"keys" is not a list', id="keys-object"),
        pytest.param(b'{"version": 1, "keys": [3]}', "keys[0]", id="record-not-object"),
    ],
)
def test_a_file_not_ours_is_an_error_naming_it_never_a_reset(
    store: ApiKeyStore, path: Path, content: bytes, expected: str
) -> None:
    path.parent.mkdir()
    path.write_bytes(content)
    path.chmod(0o600)
    for attempt in (
        store.list,
        lambda: store.authenticate("esk_0123456789ab_" + "A" * 43),
        lambda: store.create("k", "read", NOW),
        lambda: store.revoke("k", NOW),
    ):
        with pytest.raises(KeyStoreError, match="API key store") as caught:
            attempt()
        assert str(path) in str(caught.value)
        assert expected in str(caught.value)
    assert path.read_bytes() == content


def test_a_bad_record_names_its_field_without_quoting_the_hash(
    store: ApiKeyStore, path: Path
) -> None:
    store.create("k", "read", NOW)
    document = json.loads(path.read_text())
    document["keys"].append({**document["keys"][0], "key_id": "0123456789ab", "scope": "root"})
    path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError, match=r"keys\[1\]\.scope") as caught:
        ApiKeyStore(path).list()
    assert document["keys"][0]["hash"] not in str(caught.value)

    document["keys"][1] = document["keys"][0]
    path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError, match="repeats"):
        ApiKeyStore(path).list()


def test_a_file_others_may_write_is_refused(store: ApiKeyStore, path: Path) -> None:
    store.create("k", "read", NOW)
    path.chmod(0o622)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        ApiKeyStore(path).list()


def test_a_running_store_sees_another_ones_changes(store: ApiKeyStore, path: Path) -> None:
    key, token = store.create("k", "write", NOW)
    server = ApiKeyStore(path)
    assert server.authenticate(token) == key

    ApiKeyStore(path).revoke(key.key_id, LATER)
    assert server.authenticate(token) is None

    other, other_token = ApiKeyStore(path).create("other", "read", LATER)
    assert server.authenticate(other_token) == other


def test_a_change_of_same_size_and_mtime_is_still_seen(store: ApiKeyStore, path: Path) -> None:
    store.create("aaaa", "read", NOW)
    server = ApiKeyStore(path)
    assert [k.name for k in server.list()] == ["aaaa"]
    before = path.stat()
    replacement = path.with_name("replacement")
    replacement.write_text(path.read_text().replace('"aaaa"', '"bbbb"'))
    replacement.chmod(0o600)
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    assert path.stat().st_size == before.st_size
    assert [k.name for k in server.list()] == ["bbbb"]


def test_concurrent_creates_lose_no_key(path: Path) -> None:
    shared = ApiKeyStore(path)
    tokens: list[str] = []
    guard = threading.Lock()

    def make(index: int) -> None:
        # Half share one store object, half have their own (as separate processes would).
        store = shared if index % 2 else ApiKeyStore(path)
        for n in range(5):
            _, token = store.create(f"t{index}-{n}", "read", NOW)
            with guard:
                tokens.append(token)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader = ApiKeyStore(path)
    assert len(reader.list()) == len(tokens) == 40
    assert all(reader.authenticate(token) is not None for token in tokens)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("", "cannot be empty", id="empty"),
        pytest.param("x" * 65, "at most 64 characters, not 65", id="too-long"),
        pytest.param("a\nb", "control characters", id="newline"),
        pytest.param("a\tb", "control characters", id="tab"),
        pytest.param("\x1b[31mred", "control characters", id="escape"),
        pytest.param("a\x85b", "control characters", id="c1-control"),
        pytest.param("zoë", "ASCII letters", id="non-ascii"),
        pytest.param(" lead", "no space at either end", id="leading-space"),
        pytest.param("ci/deploy", "ASCII letters", id="slash"),
        pytest.param("0123456789ab", "would read as a key id", id="like-a-key-id"),
    ],
)
def test_bad_names_are_refused_with_a_reason(
    store: ApiKeyStore, path: Path, name: str, expected: str
) -> None:
    with pytest.raises(InvalidKeyName, match=expected) as caught:
        store.create(name, "read", NOW)
    assert "\n" not in str(caught.value)
    assert "\x1b" not in str(caught.value)
    assert not path.exists()


@pytest.mark.parametrize("name", ["x", "x" * 64, "CI deploy-bot_1.2", "0123456789abc"])
def test_good_names_are_kept(store: ApiKeyStore, name: str) -> None:
    assert store.create(name, "read", NOW)[0].name == name


def test_an_unknown_scope_is_refused(store: ApiKeyStore) -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        store.create("k", "root", NOW)  # type: ignore[arg-type]


def test_revoke_by_id_name_or_token(store: ApiKeyStore) -> None:
    a, a_token = store.create("a", "read", NOW)
    b, _ = store.create("b", "read", NOW)
    assert store.revoke(a_token, LATER).key_id == a.key_id
    assert store.revoke(b.key_id, LATER).revoked_at == LATER
    # Revoking again keeps the first time of revocation.
    assert store.revoke("a", LATER + timedelta(days=1)).revoked_at == LATER


def test_revoke_refuses_unknown_and_ambiguous_names(store: ApiKeyStore) -> None:
    one, _ = store.create("ci", "read", NOW)
    two, _ = store.create("ci", "read", NOW)
    with pytest.raises(UnknownKey, match="no key has the id or name 'nope'"):
        store.revoke("nope", NOW)
    with pytest.raises(UnknownKey, match="2 keys are named 'ci'") as caught:
        store.revoke("ci", NOW)
    assert one.key_id in str(caught.value)
    assert two.key_id in str(caught.value)
    # After a rotation (the old one revoked) the name means the one still in use.
    store.revoke(one.key_id, NOW)
    assert store.revoke("ci", LATER).key_id == two.key_id


def test_revoke_never_echoes_a_token(store: ApiKeyStore) -> None:
    _, token = store.create("k", "read", NOW)
    foreign = "esk_0123456789ab_" + token[-43:]
    for given in (foreign, token[:-1]):
        with pytest.raises(UnknownKey) as caught:
            store.revoke(given, NOW)
        assert token[-43:] not in str(caught.value)
        assert token[-20:] not in str(caught.value)


def test_no_repr_str_or_dump_shows_the_token_or_its_hash(store: ApiKeyStore, path: Path) -> None:
    key, token = store.create("k", "admin", NOW)
    digest = hashlib.sha256(token.encode()).hexdigest()
    authenticated = store.authenticate(token)
    assert authenticated is not None
    seen = [repr(store), str(store), repr(key), str(key), repr(authenticated)]
    seen += [str(key.model_dump()), key.model_dump_json(), repr(store.list())]
    seen += [repr(store.revoke(key.key_id, NOW)), repr(store._keys)]
    for text in seen:
        assert token not in text
        assert digest not in text
        assert token[-43:] not in text
