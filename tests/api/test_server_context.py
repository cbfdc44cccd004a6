"""Mapping files meet the policies in use when the API starts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from escalations.api.server import build_context
from escalations.runtime.config import Settings
from escalations.runtime.config_error import ConfigError
from policies.loader import default_policy_dir

OTHER_POLICY = (default_policy_dir() / "demo.yaml").read_text(encoding="utf-8")


def test_shipped_mappings_that_do_not_fit_the_policies_turn_their_source_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "demo.yaml").write_text(OTHER_POLICY, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        context = build_context(Settings(policy_dir=tmp_path, api_keys_file=tmp_path / "k"))
    assert set(context.disabled) == {"zendesk", "jira", "freshdesk", "zammad", "github"}
    assert "no policy named 'default'" in context.disabled["github"]
    assert "ESCALATIONS_INTAKE_DIR" in context.disabled["github"]
    assert "github webhooks are off" in caplog.text


def test_an_operators_mapping_that_does_not_fit_stops_the_api(tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "jira.yaml").write_text(
        "source: jira\nsecret: {env: J}\nticket_id_prefix: J-\npolicy: demo\n"
        "default_priority: P4\ndefault_team: support\n",
        encoding="utf-8",
    )
    settings = Settings(intake_dir=mappings, api_keys_file=tmp_path / "k")
    with pytest.raises(ConfigError, match=r"the jira mapping: default_priority: priority 'P4'"):
        build_context(settings)


def test_the_shipped_policies_take_every_shipped_mapping(tmp_path: Path) -> None:
    assert build_context(Settings(api_keys_file=tmp_path / "k")).disabled == {}
