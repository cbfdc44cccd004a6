"""The Temporal connection from the `temporal` CLI's config file and profiles, with the
TEMPORAL_* variables on top; bad files and profiles are one-line errors that quote no secret."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretBytes, SecretStr
from temporalio.client import Client
from temporalio.service import TLSConfig

from escalations.runtime.config import ConfigError, TlsSettings, load_settings
from escalations.runtime.connection import connect, tls_config
from escalations.runtime.temporal_config import default_config_file

CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIEprofile-secret\n-----END PRIVATE KEY-----\n"
API_KEY = "profile-api-key-do-not-show"

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the CLI's default path differs by OS"
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    ca = tmp_path / "ca.pem"
    ca.write_text(CERT)
    path = tmp_path / "temporal.toml"
    path.write_text(
        f"""
[profile.default]
address = "localhost:7233"
namespace = "dev"

[profile.prod]
address = "prod.internal:7233"
namespace = "escalations-prod"
api_key = "{API_KEY}"

[profile.prod.tls]
server_ca_cert_path = "{ca}"
server_name = "frontend.prod.internal"

[profile.prod.grpc_meta]
x_tenant = "helpdesk"

[profile.mtls.tls]
client_cert_data = '''{CERT}'''
client_key_data = '''{KEY}'''

[profile.plain]
api_key = "{API_KEY}"
tls = {{ disabled = true }}
"""
    )
    return path


def test_a_profile_from_the_config_file(config_file: Path, tmp_path: Path) -> None:
    settings = load_settings({"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "prod"})
    assert settings.temporal_address == "prod.internal:7233"
    assert settings.temporal_namespace == "escalations-prod"
    assert settings.temporal_api_key == SecretStr(API_KEY)
    assert settings.temporal_profile == "prod"
    assert settings.temporal_config_file == config_file
    assert settings.temporal_grpc_meta == {"x-tenant": SecretStr("helpdesk")}
    assert tls_config(settings) == TLSConfig(
        server_root_ca_cert=CERT.encode(), domain="frontend.prod.internal"
    )
    assert API_KEY not in repr(settings)
    assert API_KEY not in str(settings)


def test_the_default_profile_without_temporal_profile(config_file: Path) -> None:
    settings = load_settings({"TEMPORAL_CONFIG_FILE": str(config_file)})
    assert (settings.temporal_address, settings.temporal_namespace) == ("localhost:7233", "dev")
    assert settings.temporal_profile == "default"
    assert settings.temporal_tls is None


def test_variables_override_the_profile(config_file: Path) -> None:
    settings = load_settings(
        {
            "TEMPORAL_CONFIG_FILE": str(config_file),
            "TEMPORAL_PROFILE": "prod",
            "TEMPORAL_NAMESPACE": "escalations-staging",
            "TEMPORAL_API_KEY": "from-the-environment",
        }
    )
    assert settings.temporal_address == "prod.internal:7233"
    assert settings.temporal_namespace == "escalations-staging"
    assert settings.temporal_api_key == SecretStr("from-the-environment")


def test_a_profile_can_turn_tls_off_under_an_api_key(config_file: Path) -> None:
    # e.g. a sidecar proxy on loopback that terminates TLS itself.
    settings = load_settings(
        {"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "plain"}
    )
    assert settings.temporal_api_key == SecretStr(API_KEY)
    assert tls_config(settings) is False


def test_inline_client_key_is_a_secret(config_file: Path) -> None:
    settings = load_settings({"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "mtls"})
    assert settings.temporal_tls is not None
    assert isinstance(settings.temporal_tls.client_key, SecretBytes)
    assert "profile-secret" not in repr(settings)
    assert tls_config(settings) == TLSConfig(
        client_cert=CERT.encode(), client_private_key=KEY.encode()
    )


@linux_only
def test_the_clis_default_path_under_the_given_home(tmp_path: Path) -> None:
    default = tmp_path / ".config" / "temporalio" / "temporal.toml"
    default.parent.mkdir(parents=True)
    default.write_text('[profile.default]\naddress = "from-home:7233"\n')
    settings = load_settings({"HOME": str(tmp_path)})
    assert settings.temporal_address == "from-home:7233"
    assert settings.temporal_config_file == default
    xdg = tmp_path / "xdg"
    assert default_config_file({"HOME": "/nowhere", "XDG_CONFIG_HOME": str(xdg)}) == (
        xdg / "temporalio" / "temporal.toml"
    )


def test_no_home_and_no_config_file_means_the_defaults() -> None:
    settings = load_settings({})
    assert settings.temporal_address == "127.0.0.1:7233"
    assert settings.temporal_profile is None
    assert settings.temporal_config_file is None


def test_tests_never_read_the_real_home_directory() -> None:
    # tests/conftest.py points the CLI's config directory at an empty one of the session's.
    assert "xdg-config" in os.environ["XDG_CONFIG_HOME"]
    assert load_settings().temporal_config_file is None


def test_empty_variables_count_as_unset() -> None:
    settings = load_settings({"TEMPORAL_ADDRESS": "  ", "TEMPORAL_TLS": "", "TEMPORAL_API_KEY": ""})
    assert settings.temporal_address == "127.0.0.1:7233"
    assert settings.temporal_api_key is None
    assert settings.temporal_tls is None


@pytest.mark.parametrize(("flag", "on"), [("yes", True), ("1", True), ("no", False), ("0", False)])
def test_temporal_tls_takes_yes_and_no_too(flag: str, on: bool) -> None:
    assert (tls_config(load_settings({"TEMPORAL_TLS": flag})) is True) is on


def test_key_text_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {"TEMPORAL_TLS_CLIENT_CERT_DATA": CERT, "TEMPORAL_TLS_CLIENT_KEY_DATA": KEY}
    )
    assert settings.temporal_tls == TlsSettings(
        client_cert=CERT.encode(), client_key=SecretBytes(KEY.encode())
    )
    assert "profile-secret" not in repr(settings)


# -- bad input: one line, naming the setting, quoting no secret -----------------------------------


def _refused(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert "\n" not in message
    assert API_KEY not in message
    assert "secret" not in message
    return message


def test_an_unknown_profile_names_the_ones_there_are(config_file: Path) -> None:
    message = _refused({"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "stage"})
    assert message == (
        f"TEMPORAL_PROFILE='stage': no such profile in TEMPORAL_CONFIG_FILE={str(config_file)!r} "
        "(profiles: default, mtls, plain, prod)"
    )


def test_a_profile_without_a_config_file(tmp_path: Path) -> None:
    message = _refused({"HOME": str(tmp_path), "TEMPORAL_PROFILE": "prod"})
    assert message.startswith("TEMPORAL_PROFILE='prod': no such profile (no config file at ")


def test_a_missing_config_file_names_the_variable(tmp_path: Path) -> None:
    gone = str(tmp_path / "gone.toml")
    assert _refused({"TEMPORAL_CONFIG_FILE": gone}) == (
        f"TEMPORAL_CONFIG_FILE={gone!r}: cannot read the file (No such file or directory)"
    )


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param(
            f"[profile.default]\napi_key = {API_KEY}\n",
            ": not valid TOML at line 2, column 11: string values must be quoted",
            id="unquoted-key",
        ),
        pytest.param(
            "[profile.default]\napi_key = 1234567890\n",
            ": not valid TOML at line 2, column 11: invalid type: integer, expected a string",
            id="wrong-type",
        ),
        pytest.param(
            "[profile.default.tls]\nclient_key_path = 'k.pem'\nclient_key_data = 'secret'\n",
            ": Cannot specify both client_key_path and client_key_data",
            id="path-and-data",
        ),
    ],
)
def test_a_malformed_config_file_says_where_never_what(
    tmp_path: Path, toml: str, expected: str
) -> None:
    path = tmp_path / "temporal.toml"
    path.write_text(toml)
    message = _refused({"TEMPORAL_CONFIG_FILE": str(path)})
    assert message.startswith(f"TEMPORAL_CONFIG_FILE={str(path)!r}")
    assert expected in message
    assert "1234567890" not in message


def test_a_binary_config_file(tmp_path: Path) -> None:
    path = tmp_path / "temporal.toml"
    path.write_bytes(b"\xff\xfe")
    assert _refused({"TEMPORAL_CONFIG_FILE": str(path)}).endswith(": not a UTF-8 text file")


def test_path_and_text_of_one_key_in_the_environment() -> None:
    message = _refused(
        {"TEMPORAL_TLS_CLIENT_KEY_PATH": "k.pem", "TEMPORAL_TLS_CLIENT_KEY_DATA": KEY}
    )
    assert "TEMPORAL_TLS_CLIENT_KEY_PATH" in message
    assert "TEMPORAL_TLS_CLIENT_KEY_DATA" in message


def test_tls_options_in_the_environment_under_a_profile_that_turns_tls_off(
    config_file: Path,
) -> None:
    message = _refused(
        {
            "TEMPORAL_CONFIG_FILE": str(config_file),
            "TEMPORAL_PROFILE": "plain",
            "TEMPORAL_TLS_SERVER_NAME": "frontend",
        }
    )
    assert message.startswith("profile 'plain' in TEMPORAL_CONFIG_FILE=")
    assert "turns TLS off (tls.disabled = true), but TLS options (TEMPORAL_TLS_SERVER_NAME)" in (
        message
    )


def test_a_profile_with_a_key_but_no_certificate(tmp_path: Path) -> None:
    path = tmp_path / "temporal.toml"
    path.write_text("[profile.default.tls]\nclient_key_path = 'k.pem'\n")
    message = _refused({"TEMPORAL_CONFIG_FILE": str(path)})
    assert "go together: set both for mTLS, or neither" in message
    assert "tls.client_cert_* and tls.client_key_* of profile 'default'" in message


def test_unreadable_or_non_pem_files_of_a_profile_name_the_profile_key(tmp_path: Path) -> None:
    path = tmp_path / "temporal.toml"
    gone = tmp_path / "gone.pem"
    path.write_text(f"[profile.default.tls]\nserver_ca_cert_path = '{gone}'\n")
    settings = load_settings({"TEMPORAL_CONFIG_FILE": str(path)})
    with pytest.raises(ConfigError) as raised:
        tls_config(settings)
    assert str(raised.value) == (
        f"tls.server_ca_cert_path = {str(gone)!r} of profile 'default' in "
        f"TEMPORAL_CONFIG_FILE={str(path)!r}: cannot read the file (No such file or directory)"
    )

    path.write_text(
        f"[profile.default.tls]\nclient_cert_data = '''{CERT}'''\nclient_key_data = 'secret'\n"
    )
    with pytest.raises(ConfigError) as raised:
        tls_config(load_settings({"TEMPORAL_CONFIG_FILE": str(path)}))
    assert str(raised.value) == (
        f"tls.client_key_data of profile 'default' in TEMPORAL_CONFIG_FILE={str(path)!r}: "
        "not a PEM text (no -----BEGIN line)"
    )


def test_key_text_that_is_not_pem_names_the_variable_never_the_text() -> None:
    settings = load_settings(
        {"TEMPORAL_TLS_CLIENT_CERT_DATA": CERT, "TEMPORAL_TLS_CLIENT_KEY_DATA": "secret-der"}
    )
    with pytest.raises(ConfigError) as raised:
        tls_config(settings)
    assert str(raised.value) == "TEMPORAL_TLS_CLIENT_KEY_DATA: not a PEM text (no -----BEGIN line)"


async def test_connect_uses_the_profile(monkeypatch: pytest.MonkeyPatch, config_file: Path) -> None:
    # No server answers at the profile's address: record what connect() hands the SDK.
    seen: dict[str, Any] = {}

    async def fake_connect(target_host: str, **kwargs: Any) -> str:
        seen.update(kwargs, target_host=target_host)
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    settings = load_settings({"TEMPORAL_CONFIG_FILE": str(config_file), "TEMPORAL_PROFILE": "prod"})
    client: Any = await connect(settings)
    assert client == "client"
    assert seen["target_host"] == "prod.internal:7233"
    assert seen["namespace"] == "escalations-prod"
    assert seen["api_key"] == API_KEY
    assert seen["rpc_metadata"] == {"x-tenant": "helpdesk"}
    assert seen["tls"] == TLSConfig(
        server_root_ca_cert=CERT.encode(), domain="frontend.prod.internal"
    )
