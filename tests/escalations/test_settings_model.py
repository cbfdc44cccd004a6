"""The service's own settings in one validated model: each bad value is a one-line error naming
its variable, and no secret shows in a repr, a dump, a log line or an error."""

from __future__ import annotations

import base64
import dataclasses
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, TypeAdapter, ValidationError
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from escalations.runtime.config import ConfigError, Settings, load_settings
from escalations.runtime.worker import workflow_runner

SENDGRID_KEY = "SG.model-test-sendgrid-key"
TEMPORAL_KEY = "model-test-temporal-key"
CODEC_TOKEN = "model-test-codec-token-0123456789"
KEY_BYTES = bytes(range(200, 232))
META = "Bearer model-test-header"

SECRETS = {
    "SENDGRID_API_KEY": SENDGRID_KEY,
    "TEMPORAL_API_KEY": TEMPORAL_KEY,
    "ESCALATIONS_CODEC_SERVER_TOKEN": CODEC_TOKEN,
    "ESCALATIONS_ENCRYPTION_KEYS": f"k1:{base64.b64encode(KEY_BYTES).decode()}",
    "TEMPORAL_GRPC_META_AUTHORIZATION": META,
}
SECRET_FORMS = (
    SENDGRID_KEY,
    TEMPORAL_KEY,
    CODEC_TOKEN,
    META,
    base64.b64encode(KEY_BYTES).decode(),
    KEY_BYTES.hex(),
    repr(KEY_BYTES),
)


def _assert_no_secret(text: str) -> None:
    for secret in SECRET_FORMS:
        assert secret not in text


def test_every_setting_from_its_variable(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ESCALATIONS_TASK_QUEUE": "q",
            "ESCALATIONS_POLICY_DIR": str(tmp_path),
            "SENDGRID_HOST": "http://127.0.0.1:9",
            "SENDGRID_FROM": "Help Desk <help@example.com>",
            "ESCALATIONS_OUTBOX": str(tmp_path / "out"),
            "ESCALATIONS_DELIVERY_LEDGER": "off",
            "ESCALATIONS_STICKY_QUEUE_TIMEOUT": "2.5",
            "ESCALATIONS_REGISTER_SEARCH_ATTRIBUTES": "No",
            "ESCALATIONS_WORKFLOW_SANDBOX": "yes",
            "ESCALATIONS_MAX_WORKFLOW_TASKS": "3",
            "ESCALATIONS_MAX_CACHED_WORKFLOWS": " 50 ",
            "ESCALATIONS_LOG_FORMAT": "JSON",
            "ESCALATIONS_TRACING": "off",
            "SENDGRID_SANDBOX_MODE": "true",
            "ESCALATIONS_SLACK_API_URL": "http://127.0.0.1:8/api/",
            "ESCALATIONS_PAGERDUTY_EVENTS_URL": "http://127.0.0.1:7",
            "ESCALATIONS_WEB_UI_URL": "https://temporal.example.com",
            **SECRETS,
        }
    )
    assert settings.sendgrid_sandbox is True
    assert settings.slack_api_url == "http://127.0.0.1:8/api/"
    assert settings.pagerduty_events_url == "http://127.0.0.1:7"
    assert settings.web_ui_url == "https://temporal.example.com"
    assert settings.task_queue == "q"
    assert settings.policy_dir == tmp_path
    assert settings.sendgrid_host == "http://127.0.0.1:9"
    assert settings.sendgrid_from == "Help Desk <help@example.com>"
    assert settings.outbox_dir == tmp_path / "out"
    assert settings.delivery_ledger is None
    assert settings.sticky_queue_timeout == timedelta(seconds=2.5)
    assert settings.register_search_attributes is False
    assert settings.workflow_sandbox is True
    assert (settings.max_workflow_tasks, settings.max_cached_workflows) == (3, 50)
    assert settings.log_format == "json"
    assert settings.sendgrid_api_key == SecretStr(SENDGRID_KEY)
    assert settings.codec_server_token == SecretStr(CODEC_TOKEN)
    assert settings.email_mode == "sendgrid"
    assert settings.payload_mode == "encrypted (key k1)"


def test_no_secret_in_repr_dump_or_log(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(SECRETS)
    adapter = TypeAdapter(Settings)
    dumped = adapter.dump_python(settings)
    assert dumped["encryption_keys"] == ["k1"]
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s / %r", settings, settings)
    for text in (
        repr(settings),
        str(settings),
        str(dumped),
        adapter.dump_json(settings).decode(),
        str(adapter.dump_python(settings, mode="json")),
        caplog.text,
    ):
        _assert_no_secret(text)


def test_replacing_a_field_keeps_the_secrets_secret_and_validates() -> None:
    settings = load_settings(SECRETS)
    plain = dataclasses.replace(settings, temporal_api_key=None, temporal_tls=None)
    assert plain.sendgrid_api_key == SecretStr(SENDGRID_KEY)
    assert plain.temporal_api_key is None
    with pytest.raises(ValidationError) as raised:
        dataclasses.replace(settings, codec_server_token="short")  # type: ignore[arg-type]
    assert "short" not in str(raised.value).replace("too short", "")


def test_a_secret_given_as_text_becomes_a_secret() -> None:
    settings = Settings(sendgrid_api_key=SENDGRID_KEY)  # type: ignore[arg-type]
    assert isinstance(settings.sendgrid_api_key, SecretStr)
    _assert_no_secret(repr(settings))


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ESCALATIONS_STICKY_QUEUE_TIMEOUT", "ten", "='ten' is not a number of seconds"),
        ("ESCALATIONS_STICKY_QUEUE_TIMEOUT", "0", "='0': use a number of seconds above 0"),
        ("ESCALATIONS_STICKY_QUEUE_TIMEOUT", "-3", "='-3': use a number of seconds above 0"),
        ("ESCALATIONS_STICKY_QUEUE_TIMEOUT", "nan", "='nan': use a number of seconds above 0"),
        ("ESCALATIONS_REGISTER_SEARCH_ATTRIBUTES", "maybe", "='maybe': use true or false"),
        ("ESCALATIONS_WORKFLOW_SANDBOX", "sometimes", "='sometimes': use true or false"),
        ("SENDGRID_SANDBOX_MODE", "perhaps", "='perhaps': use true or false"),
        ("ESCALATIONS_WEB_UI_URL", "temporal.example", "='temporal.example': use an https://"),
        ("ESCALATIONS_SLACK_API_URL", "slack.com/api", "='slack.com/api': use an https://"),
        ("ESCALATIONS_MAX_WORKFLOW_TASKS", "0", "='0' is not a whole number of at least 1"),
        ("ESCALATIONS_MAX_WORKFLOW_TASKS", "2.5", "='2.5' is not a whole number of at least 1"),
        ("ESCALATIONS_MAX_CACHED_WORKFLOWS", "many", "='many' is not a whole number of at least 1"),
        ("ESCALATIONS_CODEC_SERVER_TOKEN", "hunter2", " is too short: use at least 16 random"),
        ("ESCALATIONS_METRICS_ADDRESS", "example.com:9464", "='example.com:9464': use <ip>:<port>"),
        ("ESCALATIONS_LOG_FORMAT", "yaml", "='yaml': use text or json"),
        ("ESCALATIONS_TRACING", "zipkin", "='zipkin': use otlp (OpenTelemetry) or off"),
        (
            "SENDGRID_HOST",
            "api.sendgrid.com",
            "='api.sendgrid.com': use an https:// (or http://) URL",
        ),
        ("SENDGRID_FROM", "escalations", "='escalations': not an email address"),
        ("ESCALATIONS_ENCRYPTION_KEYS", "k1:bm90LWEta2V5", ": entry 1: key 'k1' is 9 bytes long"),
        ("TEMPORAL_TLS", "maybe", "='maybe': use true or false"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({variable: value})
    message = str(raised.value)
    assert message.startswith(variable + expected), message
    assert "\n" not in message


def test_a_short_codec_token_is_never_quoted() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"ESCALATIONS_CODEC_SERVER_TOKEN": "hunter2"})
    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in repr(raised.value)
    assert raised.value.__cause__ is None


def test_workflows_run_outside_the_sandbox_unless_it_is_turned_on() -> None:
    assert isinstance(workflow_runner(load_settings({})), UnsandboxedWorkflowRunner)
    sandboxed = workflow_runner(load_settings({"ESCALATIONS_WORKFLOW_SANDBOX": "true"}))
    assert isinstance(sandboxed, SandboxedWorkflowRunner)
