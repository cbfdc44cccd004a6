"""The ``load_policy`` activity: reads a policy file (and the ical files it names) once, when a
ticket opens, and fixes its holidays as dates.

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
from policies.loader import (
    FileStamp,
    PolicyError,
    check_policy_size,
    file_stamp,
    find_policy_file,
    load_policy_files,
)
from policies.model import Policy, Slug

MAX_CACHED_POLICIES = 256


class PolicyActivities:
    """Loads policies from one directory."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        # Parsed and resolved policies by name and load year, with the stamps of the files they
        # were read from (the policy file and its ical files): a ticket burst would otherwise
        # parse the same YAML thousands of times (about 7 ms each). An edited file has a new
        # modification time or size, so it is read afresh.
        self._cache: dict[tuple[str, int], tuple[tuple[FileStamp, ...], Policy]] = {}

    @activity.defn(name="load_policy")
    def load_policy(self, request: LoadPolicyRequest) -> Policy:
        """Load and validate the named policy, with its holidays fixed as dates.

        Raises:
            ApplicationError: non-retryable, type ``PolicyNotFound`` or ``PolicyInvalid``: a
                retry cannot fix a missing or broken file, and the opener should hear at once.
        """
        try:
            name = _validate_name(request.name)
        except ValueError as exc:
            raise ApplicationError(str(exc), type=POLICY_NOT_FOUND, non_retryable=True) from None
        year = datetime.now(UTC).year
        cached = self._cached(name, year)
        if cached is not None:
            return cached
        try:
            loaded = load_policy_files(self._directory, name)
            # Fixed here, in the recorded result, so the workflow never consults the holidays
            # package or the ical file: a later release of one or an edit of the other cannot
            # move this ticket's deadlines.
            resolved = resolve_holidays(loaded.policy, year)
            check_policy_size(resolved, loaded.files[0].path, "the policy with its holidays")
        except PolicyError as exc:
            missing = find_policy_file(self._directory, name) is None
            raise ApplicationError(
                str(exc), type=POLICY_NOT_FOUND if missing else POLICY_INVALID, non_retryable=True
            ) from None
        activity.logger.info("loaded policy %s version %s", resolved.name, resolved.version)
        if len(self._cache) >= MAX_CACHED_POLICIES:
            self._cache.clear()
        self._cache[(name, year)] = (loaded.files, resolved)
        return resolved

    def _cached(self, name: str, year: int) -> Policy | None:
        """The cached policy if the files it was read from are unchanged, and still the ones a
        fresh load would read (``name.yaml`` appearing beside a cached ``name.yml``)."""
        entry = self._cache.get((name, year))
        if entry is None:
            return None
        files, policy = entry
        path = find_policy_file(self._directory, name)
        if path is None or str(path) != files[0].path:
            return None
        if any(file_stamp(Path(file.path)) != file for file in files):
            return None
        return policy


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
