"""Policy names from outside (SLO schedules, weekly reports, CLI flags) are names, never paths.

A name such as ``../../private/leak`` once reached ``load_named_policy``, which loaded any
``*.yaml`` on the host and echoed its values in an error stored in workflow history. Every
boundary now refuses it, naming the bad name and never showing a file's content.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from activities.slo_models import (
    EvaluateSloRequest,
    SloMonitorInput,
    WeeklyReportRequest,
    WeeklySloReportInput,
)
from escalations.cli.main import main
from policies.loader import PolicyError, find_policy_file, load_named_policy
from tests.hostile.strategies import hostile_settings

SECRET = "s3cr3t-canary-value"
TRAVERSALS = [
    "../private/leak",
    "../../private/leak",
    "/etc/leak",
    "..",
    "leak/../leak",
    "leak\x00",
    "leak\n",
    "LEAK",
    "%2e%2e%2fleak",
    "~/leak",
    "",
]


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A policy folder with a secret-bearing YAML file next to it (outside it)."""
    private = tmp_path / "private"
    private.mkdir()
    (private / "leak.yaml").write_text(f"name: leak\nversion: {SECRET}\n", encoding="utf-8")
    (tmp_path / "leak.yaml").write_text(f"name: {SECRET}\n", encoding="utf-8")
    policies = tmp_path / "policies" / "inner"
    policies.mkdir(parents=True)
    return policies


@pytest.mark.parametrize("name", TRAVERSALS)
def test_loader_refuses_names_that_are_not_policy_names(policy_dir: Path, name: str) -> None:
    assert find_policy_file(policy_dir, name) is None
    with pytest.raises(PolicyError) as caught:
        load_named_policy(policy_dir, name)
    message = str(caught.value)
    assert "not a policy name" in message
    assert repr(name[:80]) in message
    assert SECRET not in message


@given(st.text(max_size=80))
@hostile_settings(300)
def test_any_text_is_refused_or_loaded_only_from_the_policy_folder(name: str) -> None:
    folder = Path(__file__).resolve().parents[2] / "policies"
    path = find_policy_file(folder, name)
    assert path is None or path.parent == folder


@pytest.mark.parametrize(
    "build",
    [
        lambda name: SloMonitorInput(policy=name),
        lambda name: EvaluateSloRequest(policy=name, now="2026-06-01T00:00:00Z"),
        lambda name: WeeklySloReportInput(policies=["default", name]),
        lambda name: WeeklyReportRequest(
            idempotency_key="k", policies=[name], now="2026-06-01T00:00:00Z", days=7
        ),
    ],
    ids=["SloMonitorInput", "EvaluateSloRequest", "WeeklySloReportInput", "WeeklyReportRequest"],
)
def test_slo_models_refuse_a_path_as_a_policy_name(build: object) -> None:
    with pytest.raises(ValidationError) as caught:
        build("../../private/leak")  # type: ignore[operator]
    assert "../../private/leak" in str(caught.value)
    assert "policies" in str(caught.value) or "policy" in str(caught.value)


def test_slo_suggest_refuses_a_path_as_its_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo", "suggest", "--policy", "../../private/leak"]) == 2
    err = capsys.readouterr().err
    assert "--policy" in err
    assert "../../private/leak" in err
