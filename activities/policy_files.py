"""The ``load_policy`` activity: reads a policy file once, when a ticket opens.

Running it as an activity records the policy in the ticket's history, so editing a file never
changes an open ticket and replays always see the policy the ticket started with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import POLICY_INVALID, POLICY_NOT_FOUND
from activities.models import LoadPolicyRequest
from policies.holiday_dates import resolve_holidays
from policies.loader import PolicyError, find_policy_file, load_named_policy
from policies.model import Policy, Slug

MAX_CACHED_POLICIES = 256


class PolicyActivities:
    """Loads policies from one directory."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        # Parsed and resolved policies by file identity: a ticket burst would otherwise parse
        # the same YAML thousands of times (about 7 ms each). An edited file has a new
        # modification time or size, so it is read afresh.
        self._cache: dict[tuple[str, int, int, int], Policy] = {}

    @activity.defn(name="load_policy")
    def load_policy(self, request: LoadPolicyRequest) -> Policy:
        """Load and validate the named policy.

        Raises:
            ApplicationError: non-retryable, type ``PolicyNotFound`` or ``PolicyInvalid``: a
                retry cannot fix a missing or broken file, and the opener should hear at once.
        """
        try:
            name = _validate_name(request.name)
        except ValueError as exc:
            raise ApplicationError(str(exc), type=POLICY_NOT_FOUND, non_retryable=True) from None
        year = datetime.now(UTC).year
        key = self._cache_key(name, year)
        cached = self._cache.get(key) if key else None
        if cached is not None:
            return cached
        try:
            policy = load_named_policy(self._directory, name)
        except PolicyError as exc:
            missing = find_policy_file(self._directory, name) is None
            raise ApplicationError(
                str(exc), type=POLICY_NOT_FOUND if missing else POLICY_INVALID, non_retryable=True
            ) from None
        activity.logger.info("loaded policy %s version %s", policy.name, policy.version)
        # Fixed here, in the recorded result, so the workflow never consults the holidays
        # package and a later release of it cannot move this ticket's deadlines.
        resolved = resolve_holidays(policy, year)
        if key:
            if len(self._cache) >= MAX_CACHED_POLICIES:
                self._cache.clear()
            self._cache[key] = resolved
        return resolved

    def _cache_key(self, name: str, year: int) -> tuple[str, int, int, int] | None:
        path = find_policy_file(self._directory, name)
        try:
            stat = path.stat() if path else None
        except OSError:
            return None
        return (str(path), stat.st_mtime_ns, stat.st_size, year) if stat else None


_SLUG: TypeAdapter[str] = TypeAdapter(Slug)
"""Built once: an adapter for an annotated type builds its whole schema (about 1% of the
worker's CPU in a storm of openings when it was built per call)."""


def _validate_name(name: str) -> str:
    try:
        return _SLUG.validate_python(name)
    except ValidationError as exc:
        raise ValueError(
            f"policy name: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
        ) from None
