"""Where and how to reach Temporal: the SDK's environment configuration (``temporalio.envconfig``).

The same ``TEMPORAL_*`` variables and the same TOML config file as the ``temporal`` CLI, so one
environment (or one ``temporal config set --profile prod ...``) serves the CLI, the worker and
the ``escalations`` commands alike. The file is ``TEMPORAL_CONFIG_FILE`` or the CLI's default
(``~/.config/temporalio/temporal.toml`` on Linux); ``TEMPORAL_PROFILE`` picks a profile in it
(default ``default``); variables override the profile's values.

Everything is read from the mapping handed in, including the home directory behind the default
path, so a test's mapping never reaches the real home directory.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import NamedTuple

from pydantic import ConfigDict, SecretBytes, SecretStr
from pydantic.dataclasses import dataclass
from temporalio.envconfig import ClientConfig, ClientConfigProfile, ClientConfigTLS, DataSource

from escalations.runtime.config_error import ConfigError

DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_PROFILE = "default"
CONFIG_FILE_NAME = Path("temporalio", "temporal.toml")

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class _Source(NamedTuple):
    path_variable: str
    data_variable: str
    toml_key: str
    envconfig_attribute: str


# Per PEM source of TlsSettings: the variables that set it, and its name in the TOML file.
_SOURCES = {
    "server_ca": _Source(
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
        "server_ca_cert",
        "server_root_ca_cert",
    ),
    "client_cert": _Source(
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_CERT_DATA",
        "client_cert",
        "client_cert",
    ),
    "client_key": _Source(
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_DATA",
        "client_key",
        "client_private_key",
    ),
}
_TLS_OPTION_VARIABLES = (
    *(variable for source in _SOURCES.values() for variable in source[:2]),
    "TEMPORAL_TLS_SERVER_NAME",
)


@dataclass(frozen=True, config=ConfigDict(hide_input_in_errors=True))
class TlsSettings:
    """How to reach a TLS-protected Temporal frontend (Temporal Cloud, or a cluster with mTLS).

    Each PEM source is a file (read when connecting) or the PEM text itself (from a
    ``TEMPORAL_TLS_*_DATA`` variable or a ``*_data`` key of a profile).

    Attributes:
        server_ca: The CA that signed the server's certificate; None trusts the system's roots
            (right for Temporal Cloud).
        client_cert: The client certificate for mTLS (with ``client_key``).
        client_key: The private key of ``client_cert``: a secret when given as text.
        server_name: The name to expect on the server certificate (and send as SNI) when it
            differs from the host in the address.
        origins: For each source a profile supplied, which profile in which file: error
            messages name that instead of the variable.
    """

    server_ca: Path | bytes | None = None
    client_cert: Path | bytes | None = None
    client_key: Path | SecretBytes | None = None
    server_name: str | None = None
    origins: dict[str, str] = field(default_factory=dict)

    def describe(self, which: str) -> str:
        """Where ``which`` (``server_ca``, ``client_cert`` or ``client_key``) was set, for a
        message: the variable or profile key, and the path. Never the PEM text."""
        source: Path | bytes | SecretBytes | None = getattr(self, which)
        names = _SOURCES[which]
        origin = self.origins.get(which)
        if isinstance(source, Path):
            if origin is None:
                return f"{names.path_variable}={str(source)!r}"
            return f"tls.{names.toml_key}_path = {str(source)!r} of {origin}"
        if origin is None:
            return names.data_variable
        return f"tls.{names.toml_key}_data of {origin}"


class TemporalSettings(NamedTuple):
    """The connection as the environment and the config file's profile define it."""

    address: str
    namespace: str
    api_key: SecretStr | None
    tls: TlsSettings | None
    grpc_meta: dict[str, SecretStr]
    profile: str | None
    """The profile read from the config file; None when the file has none by that name."""
    config_file: Path | None
    """The config file read; None when there is none."""


def default_config_file(env: Mapping[str, str]) -> Path | None:
    """The ``temporal`` CLI's config file for the home directory ``env`` names (whether or not
    it exists); None when ``env`` names no home directory."""
    if sys.platform == "win32":
        base = env.get("APPDATA", "").strip()
        return Path(base, CONFIG_FILE_NAME) if base else None
    home = env.get("HOME", "").strip()
    if sys.platform == "darwin":
        return Path(home, "Library", "Application Support", CONFIG_FILE_NAME) if home else None
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg, CONFIG_FILE_NAME)
    return Path(home, ".config", CONFIG_FILE_NAME) if home else None


def load_temporal(env: Mapping[str, str]) -> TemporalSettings:
    """The Temporal connection from ``env`` and the config file it points to.

    An empty variable counts as unset; ``TEMPORAL_TLS`` also takes ``yes`` and ``no``.

    Raises:
        ConfigError: an unreadable or malformed config file, an unknown ``TEMPORAL_PROFILE``,
            or contradictory TLS settings; the message never quotes a key or PEM text.
    """
    variables = {
        # PEM text keeps its final newline; everything else is trimmed.
        name: value if name.endswith("_DATA") else value.strip()
        for name, value in env.items()
        if name.startswith("TEMPORAL_") and value.strip()
    }
    flag = variables.get("TEMPORAL_TLS")
    if flag is not None:
        if flag.lower() not in _TRUE | _FALSE:
            raise ConfigError(f"TEMPORAL_TLS={flag!r}: use true or false")
        variables["TEMPORAL_TLS"] = "true" if flag.lower() in _TRUE else "false"
    config_file, label, data = _config_file(env, variables)
    try:
        profiles = ClientConfig.load(config_source=data, override_env_vars={}).profiles
    except RuntimeError as exc:
        raise ConfigError(f"{label}: {_safe_reason(str(exc))}") from None
    name = variables.get("TEMPORAL_PROFILE")
    if name is not None and name not in profiles:
        where = f"in {label} ({_names(profiles)})" if config_file else f"({label})"
        raise ConfigError(f"TEMPORAL_PROFILE={name!r}: no such profile {where}")
    try:
        merged = ClientConfigProfile.load(config_source=data, override_env_vars=variables)
    except RuntimeError as exc:
        # e.g. a variable's _PATH and _DATA both set: the reason names the variables.
        reason = _safe_reason(str(exc))
        raise ConfigError(reason if "TEMPORAL_" in reason else f"{label}: {reason}") from None
    name = name or DEFAULT_PROFILE
    from_file = profiles.get(name)
    origin = f"profile {name!r} in {label}"
    return TemporalSettings(
        address=merged.address or DEFAULT_ADDRESS,
        namespace=merged.namespace or DEFAULT_NAMESPACE,
        api_key=SecretStr(merged.api_key) if merged.api_key else None,
        tls=_tls(merged, variables, from_file.tls if from_file else None, origin),
        grpc_meta={key: SecretStr(value) for key, value in merged.grpc_meta.items()},
        profile=name if from_file else None,
        config_file=config_file,
    )


def _config_file(
    env: Mapping[str, str], variables: Mapping[str, str]
) -> tuple[Path | None, str, bytes]:
    # The file is read here rather than by the SDK so that a missing TEMPORAL_CONFIG_FILE is an
    # error naming it, and so that the default path comes from `env`, not the process.
    explicit = variables.get("TEMPORAL_CONFIG_FILE")
    path = Path(explicit) if explicit else default_config_file(env)
    if path is None:
        return None, "no HOME to find the temporal CLI's config file in", b""
    label = (
        f"TEMPORAL_CONFIG_FILE={explicit!r}"
        if explicit
        else f"the temporal CLI's config file {str(path)!r} (TEMPORAL_CONFIG_FILE names another)"
    )
    try:
        return path, label, path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        if explicit:
            raise ConfigError(
                f"{label}: cannot read the file (No such file or directory)"
            ) from None
        return None, f"no config file at {str(path)!r}", b""
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{label}: cannot read the file ({reason})") from None


def _safe_reason(message: str) -> str:
    # The TOML parser quotes the offending line and value, and either may be an API key or
    # a private key: keep the position and the complaint, drop every quoted value.
    text = message.removeprefix("Configuration loading error: ")
    text = text.removeprefix("Invalid configuration: ")
    where = re.match(r"TOML parse error at line (\d+), column (\d+)", text)
    lines = text.strip().splitlines() or ["cannot be loaded"]
    complaint = re.sub(r"\s*`[^`]*`", "", lines[-1] if where else lines[0]).strip()
    if where:
        return f"not valid TOML at line {where[1]}, column {where[2]}: {complaint}"
    if "utf-8" in text.lower():
        return "not a UTF-8 text file"
    return complaint


def _names(profiles: Mapping[str, ClientConfigProfile]) -> str:
    return "profiles: " + ", ".join(sorted(profiles)) if profiles else "it has no profiles"


def _tls(
    merged: ClientConfigProfile,
    variables: Mapping[str, str],
    from_file: ClientConfigTLS | None,
    origin: str,
) -> TlsSettings | None:
    # TLS is on when asked for, or when an API key or any TLS option is set (Temporal Cloud),
    # unless TEMPORAL_TLS=false (or the profile's tls.disabled) says otherwise.
    config = merged.tls
    if config is None:
        return TlsSettings() if merged.api_key else None
    origins = {
        which: origin
        for which, names in _SOURCES.items()
        if names.path_variable not in variables
        and names.data_variable not in variables
        and from_file is not None
        and getattr(from_file, names.envconfig_attribute) is not None
    }
    key = _pem_source(config.client_private_key)
    tls = TlsSettings(
        server_ca=_pem_source(config.server_root_ca_cert),
        client_cert=_pem_source(config.client_cert),
        client_key=SecretBytes(key) if isinstance(key, bytes) else key,
        server_name=config.server_name or None,
        origins=origins,
    )
    if (tls.client_cert is None) != (tls.client_key is None):
        also = f" (or tls.client_cert_* and tls.client_key_* of {origin})" if origins else ""
        raise ConfigError(
            f"TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH{also} go together: "
            "set both for mTLS, or neither"
        )
    if not config.disabled:
        return tls
    set_here = [name for name in _TLS_OPTION_VARIABLES if name in variables]
    if set_here and "TEMPORAL_TLS" in variables:
        raise ConfigError(
            "TEMPORAL_TLS=false, but TLS options (TEMPORAL_TLS_...) are set: "
            "remove one or the other"
        )
    if set_here:
        raise ConfigError(
            f"{origin} turns TLS off (tls.disabled = true), but TLS options "
            f"({', '.join(set_here)}) are set: remove one or the other"
        )
    return None


def _pem_source(source: DataSource | None) -> Path | bytes | None:
    if isinstance(source, str):
        return source.encode()
    return source
