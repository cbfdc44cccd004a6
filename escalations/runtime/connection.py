"""Connecting to Temporal the same way everywhere: worker, client, CLI and tests."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretBytes
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from escalations.runtime.config import ConfigError, Settings, TlsSettings
from escalations.runtime.data_converter import data_converter
from escalations.runtime.encryption import EncryptionCodec
from escalations.runtime.telemetry import tracing_interceptor
from workflows.search_attributes import ALL_KEYS

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger(__name__)


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Client:
    """A client with the pydantic data converter, encrypting payloads when keys are set, over
    TLS and with an API key when the settings ask for them, traced when tracing is on.

    The settings come from the ``TEMPORAL_*`` variables and the ``temporal`` CLI's config
    file (see :mod:`escalations.runtime.temporal_config`).

    Args:
        settings: Where and how to connect.
        runtime: The Temporal runtime (the worker's serves its metrics); default the SDK's.
        tracer_provider: Where spans go when tracing is on (see
            :func:`escalations.runtime.telemetry.tracing_interceptor`).

    Raises:
        ConfigError: a TLS certificate or key cannot be read or is not PEM; tracing is on
            without the tracing extra installed.
    """
    interceptors: list[Interceptor] = []
    tracing = tracing_interceptor(settings, tracer_provider)
    if tracing is not None:
        # Also a worker interceptor: workers built on this client trace workflows and
        # activities too.
        interceptors.append(tracing)
    api_key = settings.temporal_api_key
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter_for(settings),
        api_key=api_key.get_secret_value() if api_key else None,
        tls=tls_config(settings),
        rpc_metadata={
            name: value.get_secret_value() for name, value in settings.temporal_grpc_meta.items()
        },
        interceptors=interceptors,
        runtime=runtime,
    )


def converter_for(settings: Settings) -> DataConverter:
    """The data converter: plain JSON, or encrypted with the settings' keys.

    With encryption on, failure messages and stack traces are moved into the (encrypted)
    payload too: an error about a ticket may quote it.
    """
    if not settings.encryption_keys:
        return data_converter
    return dataclasses.replace(
        data_converter,
        payload_codec=EncryptionCodec(settings.encryption_keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """What ``Client.connect(tls=...)`` takes: False, True (system roots) or a TLSConfig.

    Raises:
        ConfigError: a certificate or key file is missing, unreadable or not PEM.
    """
    tls = settings.temporal_tls
    if tls is None:
        return False
    if tls.server_ca is None and tls.client_cert is None and tls.server_name is None:
        return True
    return TLSConfig(
        server_root_ca_cert=_pem(tls, "server_ca"),
        domain=tls.server_name,
        client_cert=_pem(tls, "client_cert"),
        client_private_key=_pem(tls, "client_key"),
    )


def _pem(tls: TlsSettings, which: str) -> bytes | None:
    source: Path | bytes | SecretBytes | None = getattr(tls, which)
    if source is None:
        return None
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(f"{tls.describe(which)}: cannot read the file ({reason})") from None
    else:
        data = source.get_secret_value() if isinstance(source, SecretBytes) else source
    # The contents are never quoted: this may be a private key.
    if b"-----BEGIN " not in data:
        what = "file" if isinstance(source, Path) else "text"
        raise ConfigError(f"{tls.describe(which)}: not a PEM {what} (no -----BEGIN line)")
    return data


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the ticket search attributes that the namespace lacks; returns those added.

    Workflows upsert these attributes, and an upsert of an unregistered attribute fails the
    workflow task, so the worker makes sure of them before it polls.
    """
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in ALL_KEYS
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
        log.info("registered search attributes: %s", ", ".join(sorted(missing)))
    return sorted(missing)
