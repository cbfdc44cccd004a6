"""The ``load_policy`` activity: parsed once per file version, errors that name the file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.models import LoadPolicyRequest
from activities.policy_files import PolicyActivities
from policies.loader import default_policy_dir


def test_a_policy_is_parsed_once_until_its_file_changes(tmp_path: Path) -> None:
    shutil.copy(default_policy_dir() / "default.yaml", tmp_path / "default.yaml")
    activities = PolicyActivities(tmp_path)
    env = ActivityEnvironment()
    first = env.run(activities.load_policy, LoadPolicyRequest(name="default"))
    assert env.run(activities.load_policy, LoadPolicyRequest(name="default")) is first
    holidays = first.calendars["support-hours"].holidays
    assert holidays is not None
    assert holidays.resolved is not None  # fixed at load, for the workflow

    path = tmp_path / "default.yaml"
    bumped = str(int(first.version) + 1)
    text = path.read_text()
    assert f"version: {first.version}\n" in text
    path.write_text(text.replace(f"version: {first.version}\n", f"version: {bumped}\n"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    edited = env.run(activities.load_policy, LoadPolicyRequest(name="default"))
    assert edited.version == bumped


def test_a_missing_policy_is_a_non_retryable_error_naming_it(tmp_path: Path) -> None:
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as error:
        env.run(PolicyActivities(tmp_path).load_policy, LoadPolicyRequest(name="nope"))
    assert error.value.type == "PolicyNotFound"
    assert error.value.non_retryable
    assert "no policy named 'nope'" in str(error.value)
