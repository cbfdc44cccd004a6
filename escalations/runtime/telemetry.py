"""Metrics and tracing for the worker and clients: the Temporal runtime and the tracing
interceptor, built from :class:`~escalations.runtime.config.Settings`. docs/observability.md has
every metric and setting.

The SDK's metrics, and ours recorded through ``workflow.metric_meter()`` and
``activity.metric_meter()``, leave the process through the client's ``Runtime``: one runtime
with a Prometheus endpoint per worker process, handed to ``Client.connect``. Tracing uses
``temporalio.contrib.opentelemetry.TracingInterceptor`` from the optional ``tracing`` extra.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from escalations.runtime.config import ConfigError, Settings
from workflows.ticket_metrics import LATENESS, LATENESS_BUCKETS

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from temporalio.contrib.opentelemetry import TracingInterceptor

TRACING_EXTRA = "pip install 'helpdesk-escalations[tracing]'"
SERVICE_NAME = "helpdesk-escalations"
CORE_LOGGER = "temporalio.core"
"""Where the SDK's Rust core logs go when logs are JSON (its own console output is not)."""


def metrics_url(address: str) -> str:
    """The URL Prometheus scrapes for a metrics ``address`` (``0.0.0.0`` shown as loopback)."""
    host, _, port = address.rpartition(":")
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    return f"http://{host}:{port}/metrics"


def build_runtime(settings: Settings) -> Runtime | None:
    """The process's Temporal runtime, or None when the SDK's default one will do.

    A runtime serves Prometheus metrics when ``metrics_address`` is set, and forwards the SDK
    core's log lines into Python logging when logs are JSON, so that every line is JSON.

    Raises:
        ConfigError: the metrics address cannot be bound (in use, or not on this host).
    """
    if settings.metrics_address is None and settings.log_format != "json":
        return None
    metrics = None
    if settings.metrics_address is not None:
        metrics = PrometheusConfig(
            bind_address=settings.metrics_address,
            histogram_bucket_overrides={LATENESS: list(LATENESS_BUCKETS)},
        )
    logging_config = LoggingConfig.default
    if settings.log_format == "json":
        logging_config = LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
        )
    try:
        return Runtime(telemetry=TelemetryConfig(logging=logging_config, metrics=metrics))
    except ValueError as err:
        # "Failed starting Prometheus exporter: Address already in use (os error 98)"
        reason = str(err).split(": ", 1)[-1]
        raise ConfigError(
            f"ESCALATIONS_METRICS_ADDRESS={settings.metrics_address}: cannot serve metrics "
            f"there ({reason}); choose another host:port, or off"
        ) from None


def tracing_interceptor(
    settings: Settings, tracer_provider: TracerProvider | None = None
) -> TracingInterceptor | None:
    """The OpenTelemetry tracing interceptor when ``ESCALATIONS_TRACING`` asks for one.

    On a client it traces the calls the client makes (start, update, query); a worker built
    on that client picks it up and traces workflows and activities, carrying the trace
    across them in Temporal headers.

    Args:
        settings: ``tracing="otlp"`` turns it on.
        tracer_provider: Where spans go. Default: the process's global provider if the
            application configured one, else a new one exporting over OTLP/gRPC as the
            standard ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_SERVICE_NAME`` variables say.

    Raises:
        ConfigError: tracing is on but the ``tracing`` extra is not installed.
    """
    if settings.tracing == "off":
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        raise ConfigError(
            f"ESCALATIONS_TRACING={settings.tracing} needs the tracing extra: {TRACING_EXTRA}"
        ) from None
    provider = tracer_provider
    if provider is None:
        current = trace.get_tracer_provider()
        provider = current if isinstance(current, TracerProvider) else _otlp_provider()
    # Every ticket gets its spans, also those opened by the `temporal` CLI or by a service in
    # another language that sends no trace context (their workflow span is then a root).
    return TracingInterceptor(provider.get_tracer(SERVICE_NAME), always_create_workflow_spans=True)


def _otlp_provider() -> TracerProvider:
    """A tracer provider exporting in batches over OTLP/gRPC, made the process's global one.

    The exporter and the resource read the standard variables themselves
    (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``,
    ``OTEL_RESOURCE_ATTRIBUTES``...); the service name defaults to ``helpdesk-escalations``.
    """
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()  # from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
