"""Read policy files (and the iCalendar files beside them) into a validated :class:`Policy`.

Every error names the file, the field path (``levels.2.when.clock``) and what is wrong (the YAML
itself is read by ``policies/policy_yaml.py``). This is
the only module in ``policies/`` that touches files: the policy file, and the iCalendar files its
calendars name (``holidays: {ical: company-holidays.ics}``), which must lie in the policy file's
own folder. Workflows reach it only through the ``load_policy`` activity, so the policy a ticket
runs under is recorded in its history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import NamedTuple

from policies.holiday_feed import HolidayFeed, feed_name_problem
from policies.ical_feed import parse_feed
from policies.model import Policy, slug_problem
from policies.policy_yaml import PolicyError as PolicyError
from policies.policy_yaml import validate_yaml as validate_yaml

POLICY_SUFFIXES = (".yaml", ".yml")
MAX_POLICY_BYTES = 1_000_000
MAX_FEED_BYTES = 1_000_000
"""An ical file beside a policy: years of a company's holidays take a few kilobytes, and
reading a file this large takes a few seconds."""
MAX_POLICY_JSON_BYTES = 256 * 1024
"""A loaded policy travels in every ticket's history and continue-as-new input, beside the
ticket itself; this keeps it well inside Temporal's 512 KB payload warning and 2 MB limit."""


def parse_policy(text: str, source: str) -> Policy:
    """Validate policy YAML ``text``; ``source`` names it in errors (usually the file path).

    A calendar's ``holidays.ical`` file is not read here (text has no folder): see
    :func:`read_policy_file`.
    """
    policy = validate_yaml(
        text, source, Policy, "a policy is a mapping with name, version, targets, levels"
    )
    check_policy_size(policy, source)
    return policy


def check_policy_size(policy: Policy, source: str, what: str = "the policy") -> None:
    """Refuse a policy too large to travel in every ticket's history.

    Raises:
        PolicyError: naming ``source``, with ``what`` (``the policy``) as the subject.
    """
    size = len(policy.model_dump_json())
    if size > MAX_POLICY_JSON_BYTES:
        raise PolicyError(
            source,
            [
                f"{what} is {size:,} bytes as JSON; at most {MAX_POLICY_JSON_BYTES:,} fit in "
                "every ticket's history beside the ticket (see docs/input-limits.md)"
            ],
        )


class FileStamp(NamedTuple):
    """Which version of a file was read: stamped before reading, so an edit during the read
    leaves a stamp that no longer matches (and a cache reads the file again)."""

    path: str
    device: int
    inode: int
    mtime_ns: int
    size: int


def file_stamp(path: Path) -> FileStamp | None:
    """The stamp of the file at ``path`` now (links followed); None if it cannot be seen."""
    try:
        return _stamp(path, path.stat())
    except (OSError, ValueError):
        return None


def _stamp(path: Path, stat: os.stat_result) -> FileStamp:
    return FileStamp(str(path), stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy and every file it was read from (its own first, then its ical files)."""

    policy: Policy
    files: tuple[FileStamp, ...]


def read_policy_file(path: Path) -> Policy:
    """Read and validate one policy file, and the ical files its calendars name beside it."""
    return _read_policy(path).policy


def _read_policy(path: Path) -> LoadedPolicy:
    try:
        stat = path.stat()
        if stat.st_size > MAX_POLICY_BYTES:
            raise PolicyError(
                str(path), [f"the file is {stat.st_size} bytes; a policy is at most 1 MB"]
            )
        text = path.read_text(encoding="utf-8")
    except PolicyError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or a NUL in the path
        raise PolicyError(str(path), [f"cannot read the file: {exc}"]) from None
    policy, feeds = _with_holiday_feeds(parse_policy(text, str(path)), path)
    return LoadedPolicy(policy, (_stamp(path, stat), *feeds))


def _with_holiday_feeds(policy: Policy, path: Path) -> tuple[Policy, list[FileStamp]]:
    """``policy`` with each calendar's ``holidays.ical`` file beside ``path`` read into its
    ``feed``; a file named by several calendars is read once."""
    problems: list[str] = []
    feeds: dict[str, tuple[HolidayFeed, FileStamp]] = {}
    calendars = dict(policy.calendars)
    for name, definition in policy.calendars.items():
        source = definition.holidays
        if source is None or source.ical is None or source.resolved is not None:
            continue
        try:
            if source.ical not in feeds:
                data, stamp = _read_feed_file(path.parent, source.ical)
                feeds[source.ical] = (parse_feed(data, source.ical), stamp)
        except ValueError as exc:
            where = f"calendars.{name}.holidays.ical: {source.ical}"
            problems += [f"{where}: {line}" for line in str(exc).split("\n")]
            continue
        feed = feeds[source.ical][0]
        holidays = source.model_copy(update={"feed": feed})
        calendars[name] = definition.model_copy(update={"holidays": holidays})
    if problems:
        raise PolicyError(str(path), problems)
    stamps = [stamp for _, stamp in feeds.values()]
    return policy.model_copy(update={"calendars": calendars}), stamps


def _read_feed_file(folder: Path, name: str) -> tuple[bytes, FileStamp]:
    """The bytes of the ical file ``name`` in ``folder``, and its stamp.

    Raises:
        ValueError: the file is missing, leaves the folder, is not a regular file, is too large
            or cannot be read. The message never shows a path or content outside ``folder``.
    """
    if feed_name_problem(name) is not None or Path(name).name != name:
        raise ValueError("is not a file name")  # the model refuses these; never join a path
    candidate = folder / name
    try:
        real = candidate.resolve(strict=True)
        inside = real.is_relative_to(folder.resolve(strict=True))
    except FileNotFoundError:
        raise ValueError("no such file in the policy file's folder") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links (Python 3.11, 3.12)
        problem = exc.strerror if isinstance(exc, OSError) else None
        raise ValueError(f"cannot read the file: {problem or 'a loop of links'}") from None
    if not inside:
        raise ValueError(
            "is a link to a file outside the policy file's folder; copy the file into the folder"
        )
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        # Not following links, and not waiting on a FIFO: what was checked is what is read.
        descriptor = os.open(real, flags)
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or type(exc).__name__}") from None
    try:
        stat = os.fstat(descriptor)
        if not S_ISREG(stat.st_mode):
            raise ValueError("is not a regular file")
        if stat.st_size > MAX_FEED_BYTES:
            raise ValueError(f"the file is {stat.st_size:,} bytes; an ical file is at most 1 MB")
        with open(descriptor, "rb", closefd=False) as file:
            data = file.read(MAX_FEED_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or type(exc).__name__}") from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_FEED_BYTES:  # it grew after the check
        raise ValueError(f"the file is over {MAX_FEED_BYTES:,} bytes; an ical file is at most 1 MB")
    return data, _stamp(candidate, stat)


def find_policy_file(directory: Path, name: str) -> Path | None:
    """The file that holds policy ``name`` in ``directory`` (``name.yaml`` or ``name.yml``).

    None for a name that is not a policy name: ``../../private/leak`` must never reach the
    file system, so no file outside ``directory`` can be found, read or echoed in an error.
    """
    if slug_problem(name) is not None:
        return None
    for suffix in POLICY_SUFFIXES:
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def load_named_policy(directory: Path, name: str) -> Policy:
    """Load policy ``name`` from ``directory``, checking the file declares that name."""
    return load_policy_files(directory, name).policy


def load_policy_files(directory: Path, name: str) -> LoadedPolicy:
    """:func:`load_named_policy`, with the stamps of the files read (for a cache to check)."""
    problem = slug_problem(name)
    if problem is not None:
        raise PolicyError(str(directory), [problem], header="not a policy name:")
    path = find_policy_file(directory, name)
    if path is None:
        known = sorted(p.stem for s in POLICY_SUFFIXES for p in directory.glob(f"*{s}"))
        raise PolicyError(
            str(directory / f"{name}.yaml"),
            [f"no policy named {name!r} in {directory}; found: {', '.join(known) or 'none'}"],
            header="policy not found:",
        )
    loaded = _read_policy(path)
    if loaded.policy.name != name:
        raise PolicyError(
            str(path), [f"name: the file declares {loaded.policy.name!r}, not {name!r}"]
        )
    return loaded


def default_policy_dir() -> Path:
    """The policies shipped with the project (this package's folder)."""
    return Path(__file__).resolve().parent
