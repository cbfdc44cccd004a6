"""Temporal Cloud and TLS settings: parsing, the TLSConfig they build, and secrets kept out."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import TLSConfig

from escalations.runtime.config import ConfigError, Settings, TlsSettings, load_settings
from escalations.runtime.connection import connect, tls_config
from escalations.runtime.encryption import EncryptionCodec

CERT = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIEsecret\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, Path]:
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "k.pem"}
    files["ca"].write_bytes(CERT)
    files["cert"].write_bytes(CERT)
    files["key"].write_bytes(KEY)
    return files


def test_plain_by_default() -> None:
    settings = load_settings({})
    assert settings.temporal_tls is None
    assert settings.temporal_api_key is None
    assert tls_config(settings) is False


def test_an_api_key_turns_tls_on_with_system_roots() -> None:
    settings = load_settings({"TEMPORAL_API_KEY": "cloud-api-key-123"})
    assert settings.temporal_api_key == SecretStr("cloud-api-key-123")
    assert settings.temporal_tls == TlsSettings()
    assert tls_config(settings) is True
    assert "cloud-api-key-123" not in repr(settings)
    assert "temporal_api_key=SecretStr('**********')" in repr(settings)


def test_tls_false_keeps_an_api_key_on_a_plain_connection() -> None:
    # e.g. a sidecar proxy on loopback that terminates TLS itself.
    settings = load_settings({"TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": "false"})
    assert settings.temporal_tls is None
    assert tls_config(settings) is False


def test_tls_true_alone_uses_system_roots() -> None:
    assert tls_config(load_settings({"TEMPORAL_TLS": "true"})) is True


def test_mtls_reads_the_files(pem_files: dict[str, Path]) -> None:
    settings = load_settings(
        {
            "TEMPORAL_ADDRESS": "temporal.internal:7233",
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pem_files["ca"]),
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pem_files["cert"]),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pem_files["key"]),
            "TEMPORAL_TLS_SERVER_NAME": "frontend.temporal.internal",
        }
    )
    assert settings.temporal_tls == TlsSettings(
        server_ca=pem_files["ca"],
        client_cert=pem_files["cert"],
        client_key=pem_files["key"],
        server_name="frontend.temporal.internal",
    )
    assert tls_config(settings) == TLSConfig(
        server_root_ca_cert=CERT,
        domain="frontend.temporal.internal",
        client_cert=CERT,
        client_private_key=KEY,
    )


def test_server_name_alone_keeps_system_roots() -> None:
    settings = load_settings({"TEMPORAL_TLS_SERVER_NAME": "ns.acct.tmprl.cloud"})
    assert tls_config(settings) == TLSConfig(domain="ns.acct.tmprl.cloud")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"TEMPORAL_TLS_CLIENT_CERT_PATH": "c.pem"},
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together",
            id="cert-without-key",
        ),
        pytest.param(
            {"TEMPORAL_TLS_CLIENT_KEY_PATH": "k.pem"},
            "go together",
            id="key-without-cert",
        ),
        pytest.param({"TEMPORAL_TLS": "maybe"}, "TEMPORAL_TLS='maybe': use true or false", id="b"),
        pytest.param(
            {"TEMPORAL_TLS": "false", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "ca.pem"},
            "TEMPORAL_TLS=false, but TLS options",
            id="contradiction",
        ),
    ],
)
def test_inconsistent_tls_settings(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(env)


def test_missing_or_non_pem_files_name_the_setting_never_the_contents(
    tmp_path: Path, pem_files: dict[str, Path]
) -> None:
    missing = Settings(
        temporal_tls=TlsSettings(client_cert=pem_files["cert"], client_key=tmp_path / "gone")
    )
    with pytest.raises(ConfigError) as caught:
        tls_config(missing)
    assert str(caught.value) == (
        f"TEMPORAL_TLS_CLIENT_KEY_PATH={str(tmp_path / 'gone')!r}: cannot read the file "
        "(No such file or directory)"
    )

    der_key = tmp_path / "key.der"
    der_key.write_bytes(b"0\x82\x04secret-der-bytes")
    not_pem = Settings(temporal_tls=TlsSettings(client_cert=pem_files["cert"], client_key=der_key))
    with pytest.raises(ConfigError, match=r"TEMPORAL_TLS_CLIENT_KEY_PATH=.*not a PEM file") as err:
        tls_config(not_pem)
    assert "secret" not in str(err.value)


def test_codec_token_must_be_long_enough_and_is_never_shown() -> None:
    with pytest.raises(ConfigError, match="ESCALATIONS_CODEC_SERVER_TOKEN is too short") as err:
        load_settings({"ESCALATIONS_CODEC_SERVER_TOKEN": "hunter2"})
    assert "hunter2" not in str(err.value)
    settings = load_settings({"ESCALATIONS_CODEC_SERVER_TOKEN": "a-long-enough-token-1234"})
    assert settings.codec_server_token == SecretStr("a-long-enough-token-1234")
    assert "a-long-enough-token-1234" not in repr(settings)


async def test_connect_passes_api_key_tls_and_codec(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path]
) -> None:
    # Temporal Cloud is out of reach here: record what connect() hands the SDK instead.
    seen: dict[str, Any] = {}

    async def fake_connect(target_host: str, **kwargs: Any) -> str:
        seen.update(kwargs, target_host=target_host)
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    key = base64.b64encode(bytes(32)).decode()
    settings = load_settings(
        {
            "TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233",
            "TEMPORAL_NAMESPACE": "ns.acct",
            "TEMPORAL_API_KEY": "cloud-key",
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pem_files["ca"]),
            "ESCALATIONS_ENCRYPTION_KEYS": f"k1:{key}",
        }
    )
    client: Any = await connect(settings)
    assert client == "client"
    assert seen["target_host"] == "ns.acct.tmprl.cloud:7233"
    assert seen["namespace"] == "ns.acct"
    assert seen["api_key"] == "cloud-key"
    assert seen["tls"] == TLSConfig(server_root_ca_cert=CERT)
    assert isinstance(seen["data_converter"].payload_codec, EncryptionCodec)
