"""Update ids reach the worker's log lines: ones that could break them are digested."""

from __future__ import annotations

import logging

import pytest

from escalations.client.tickets import loggable_update_id


@pytest.mark.parametrize(
    "plain", ["api:open-T-7", "zendesk:0f8a-11:status-waiting", "github:1d2e/3=+@x", None]
)
def test_plain_ids_are_kept(plain: str | None) -> None:
    assert loggable_update_id(plain) == plain


@pytest.mark.parametrize("odd", ["api:50%off", "api:%s%s", "api:x y", "api:\x1b[31m", "a" * 300])
def test_other_ids_become_a_stable_digest_a_log_line_can_hold(odd: str) -> None:
    digest = loggable_update_id(odd)
    assert digest == loggable_update_id(odd)
    assert digest is not None
    assert digest.startswith("sha256-")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, f"applied ({digest})", (), None)
    assert record.getMessage() == f"applied ({digest})"
