"""The payload codec and its key settings: round trips, rotation, errors that keep keys secret."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes

from escalations.runtime.config import ConfigError, Settings, load_settings
from escalations.runtime.connection import converter_for
from escalations.runtime.data_converter import data_converter
from escalations.runtime.encryption import (
    ENCODING,
    KEY_ID_METADATA,
    DecryptionError,
    EncryptionCodec,
    EncryptionKey,
    InvalidKey,
    generate_key,
    parse_key_file,
)
from tests.workflows.tickets import ticket_fields
from workflows.ticket_messages import TicketInput

OLD = EncryptionKey("2026-01", bytes(range(32)))
NEW = EncryptionKey("2026-06", bytes(range(100, 132)))


def _b64(key: EncryptionKey) -> str:
    return base64.b64encode(key.secret).decode()


def _ticket() -> TicketInput:
    fields = ticket_fields(
        ticket_id="T-enc-1", title="Payroll export leaks salaries", requester="carol@acme.example"
    )
    return TicketInput(**fields.model_dump())


async def test_round_trip_hides_the_plaintext() -> None:
    codec = EncryptionCodec([OLD])
    plain = data_converter.payload_converter.to_payloads([_ticket()])
    [sealed] = await codec.encode(plain)

    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"2026-01"
    assert b"Payroll" not in sealed.SerializeToString()
    assert b"carol@acme.example" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == plain


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec([OLD])
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    first, second = await codec.encode([payload, payload])
    assert first.data != second.data


async def test_rotation_old_payloads_decrypt_new_ones_use_the_newest_key() -> None:
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"title": "old"}')
    [old_sealed] = await EncryptionCodec([OLD]).encode([payload])

    rotated = EncryptionCodec([OLD, NEW])
    assert rotated.key_id == "2026-06"
    assert await rotated.decode([old_sealed]) == [payload]
    [new_sealed] = await rotated.encode([payload])
    assert new_sealed.metadata[KEY_ID_METADATA] == b"2026-06"

    # After the old key is retired, its payloads no longer decrypt, and the error says which key.
    with pytest.raises(DecryptionError, match=r"key '2026-01', which this process does not hold"):
        await EncryptionCodec([NEW]).decode([old_sealed])


async def test_plain_payloads_pass_through_decoding() -> None:
    plain = data_converter.payload_converter.to_payloads([_ticket(), None, b"raw"])
    assert await EncryptionCodec([OLD]).decode(plain) == plain


async def test_tampered_data_fails_authentication() -> None:
    codec = EncryptionCodec([OLD])
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    tampered = Payload(metadata=sealed.metadata, data=bytes(flipped))
    with pytest.raises(DecryptionError, match="failed authentication") as caught:
        await codec.decode([tampered])
    assert _b64(OLD) not in str(caught.value)

    truncated = Payload(metadata=sealed.metadata, data=sealed.data[:5])
    with pytest.raises(DecryptionError, match="truncated"):
        await codec.decode([truncated])


async def test_a_payload_relabelled_with_another_key_id_does_not_decrypt() -> None:
    # Both keys are held, but the key id is authenticated with the ciphertext.
    codec = EncryptionCodec([OLD, NEW])
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    relabelled = Payload(
        metadata={"encoding": ENCODING, KEY_ID_METADATA: b"2026-01"}, data=sealed.data
    )
    with pytest.raises(DecryptionError, match="failed authentication"):
        await codec.decode([relabelled])


async def test_encrypted_payload_without_key_id_is_an_error() -> None:
    with pytest.raises(DecryptionError, match="no encryption-key-id"):
        await EncryptionCodec([OLD]).decode([Payload(metadata={"encoding": ENCODING}, data=b"")])


def test_keys_and_codec_never_show_key_material() -> None:
    codec = EncryptionCodec([OLD, NEW])
    settings = Settings(encryption_keys=(OLD, NEW), codec_server_token=SecretStr("t" * 20))
    for text in (repr(OLD), str(OLD), repr(codec), repr(settings), str(settings)):
        assert _b64(OLD) not in text
        assert _b64(NEW) not in text
        assert OLD.secret.hex() not in text
        assert "t" * 20 not in text
    assert "2026-06" in repr(settings)


def test_generated_keys_are_random_and_named_by_date_or_id() -> None:
    first, second = generate_key(), generate_key("ops-1")
    assert first.secret != second.secret
    assert len(first.secret) == 32
    assert second.key_id == "ops-1"
    key_id, encoded = first.to_line().split(" ")
    assert EncryptionKey.from_text(key_id, encoded) == first


# -- settings ------------------------------------------------------------------------------------


def test_inline_keys_last_one_encrypts() -> None:
    env = {"ESCALATIONS_ENCRYPTION_KEYS": f"2026-01:{_b64(OLD)}, 2026-06:{_b64(NEW)}"}
    settings = load_settings(env)
    assert settings.encryption_keys == (OLD, NEW)
    assert settings.payload_mode == "encrypted (key 2026-06)"
    converter = converter_for(settings)
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_codec.key_id == "2026-06"
    # Failure messages may quote a ticket: with encryption on they are encrypted too.
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)


def test_encryption_is_off_by_default() -> None:
    settings = load_settings({})
    assert settings.encryption_keys == ()
    assert settings.payload_mode == "plain JSON (not encrypted)"
    assert converter_for(settings) is data_converter


def test_key_file_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(
        f"# retired in 2026-09\n2026-01 {_b64(OLD)}\n\n2026-06   {_b64(NEW)}  # current\n",
        encoding="utf-8",
    )
    settings = load_settings({"ESCALATIONS_ENCRYPTION_KEY_FILE": str(path)})
    assert settings.encryption_keys == (OLD, NEW)


SECRET_LOOKING = base64.b64encode(b"\x01" * 31).decode()  # valid base64, 31 bytes: wrong length


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(f"k1:{SECRET_LOOKING}", "entry 1: key 'k1' is 31 bytes long", id="short"),
        pytest.param("k1:not*base64!", "entry 1: key 'k1' is not valid base64", id="bad-b64"),
        pytest.param(f"{SECRET_LOOKING}", "entry 1 is not `<key id>:<base64 key>`", id="no-id"),
        pytest.param(f":{_b64(OLD)}", "entry 1 is not `<key id>:<base64 key>`", id="empty-id"),
        pytest.param(f"bad id:{_b64(OLD)}", "entry 1: a key id must be 1-64", id="bad-id"),
        pytest.param(f"a:{_b64(OLD)},a:{_b64(NEW)}", "key id 'a' is listed twice", id="duplicate"),
        pytest.param(f"a:{_b64(OLD)},", "entry 2 is not", id="trailing-comma"),
    ],
)
def test_bad_inline_keys_name_the_entry_never_the_key(value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"ESCALATIONS_ENCRYPTION_KEYS": value})
    message = str(caught.value)
    assert message.startswith("ESCALATIONS_ENCRYPTION_KEYS: ")
    assert expected in message
    for secret in (SECRET_LOOKING, _b64(OLD), _b64(NEW), "not*base64!"):
        assert secret not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"# c\nk1 {SECRET_LOOKING}\n", "line 2: key 'k1' is 31 bytes", id="short"),
        pytest.param(f"k1 {_b64(OLD)} extra\n", "line 1 is not `<key id> <base64", id="extra"),
        pytest.param(f"{_b64(OLD)}\n", "line 1 is not `<key id> <base64 key>`", id="no-id"),
        pytest.param(f"k1 {_b64(OLD)}\nk1 {_b64(NEW)}\n", "'k1' is listed twice", id="dup"),
        pytest.param("# nothing yet\n\n", "it holds no keys", id="empty"),
        pytest.param("k1 %%%%\n", "line 1: key 'k1' is not valid base64", id="bad-b64"),
    ],
)
def test_bad_key_files_name_file_and_line_never_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "keys"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings({"ESCALATIONS_ENCRYPTION_KEY_FILE": str(path)})
    message = str(caught.value)
    assert message.startswith(f"ESCALATIONS_ENCRYPTION_KEY_FILE={str(path)!r}: ")
    assert expected in message
    for secret in (SECRET_LOOKING, _b64(OLD), _b64(NEW)):
        assert secret not in message


def test_missing_or_unreadable_key_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=r"cannot read the file \(No such file or directory\)"):
        load_settings({"ESCALATIONS_ENCRYPTION_KEY_FILE": str(missing)})
    with pytest.raises(ConfigError, match=r"cannot read the file \(Is a directory\)"):
        load_settings({"ESCALATIONS_ENCRYPTION_KEY_FILE": str(tmp_path)})
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe k1 \x00")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_settings({"ESCALATIONS_ENCRYPTION_KEY_FILE": str(binary)})


def test_inline_keys_and_key_file_together_is_an_error(tmp_path: Path) -> None:
    env = {
        "ESCALATIONS_ENCRYPTION_KEYS": f"a:{_b64(OLD)}",
        "ESCALATIONS_ENCRYPTION_KEY_FILE": str(tmp_path / "keys"),
    }
    with pytest.raises(ConfigError, match="not both"):
        load_settings(env)


def test_codec_needs_a_key_and_unique_ids() -> None:
    with pytest.raises(InvalidKey, match="at least one key"):
        EncryptionCodec([])
    with pytest.raises(InvalidKey, match="listed twice"):
        EncryptionCodec([OLD, EncryptionKey("2026-01", NEW.secret)])


def test_key_file_lines_parse_directly() -> None:
    assert parse_key_file([f"2026-06 {_b64(NEW)}"]) == (NEW,)
