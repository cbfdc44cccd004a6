"""What the readers' tests check alike, written once.

Helpers to edit a recorded body, load a recorded life and compare each step with what it should
read as; and the checks every reader passes, which a test module takes by subclassing one of
these as ``TestReaderContract``:

- :class:`TemplateBodyContract` (Zendesk, Freshdesk: our body template), or
  :class:`PrefixedHexContract` (GitHub, Jira, Zammad: an ``<algorithm>=<hex HMAC>`` signature);
- both include :class:`BodyContract`: strings are data, and any body either reads into an event
  that serializes or is refused with a :class:`~escalations.intake.events.PayloadError`, never
  anything else.

Not a test module: pytest collects the subclasses in each ``test_<source>.py``.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from escalations.intake.events import PayloadError, SignatureError, SourceComment, SourceEvent
from escalations.intake.readers import SourceReader
from escalations.intake.sources import template_body
from escalations.intake.sources.common import MAX_TEXT, Headers, body_digest
from tests.intake.signing import SECRETS, signed_headers

DATA = Path(__file__).resolve().parents[1] / "data" / "intake"

DELETE: Any = ...
"""As the value in :func:`replaced` and :func:`changed`: remove the key."""


def lower(headers: dict[str, str]) -> dict[str, str]:
    """Headers as Starlette hands them to a reader: names in lower case."""
    return {name.lower(): value for name, value in headers.items()}


def replaced(data: Any, path: str, value: Any) -> Any:
    """A copy of ``data`` with the value at dotted ``path`` (list indexes as numbers) replaced,
    or removed when ``value`` is :data:`DELETE`."""
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


def changed(body: bytes, path: str, value: Any) -> bytes:
    """``body`` with the value at dotted ``path`` replaced (:data:`DELETE` deletes it)."""
    return json.dumps(replaced(json.loads(body), path, value)).encode()


def paths(value: Any, prefix: str = "") -> list[str]:
    """Every dotted path inside ``value`` (list indexes as numbers)."""
    found: list[str] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        path = f"{prefix}{key}"
        found.append(path)
        found.extend(paths(inner, path + "."))
    return found


def found(value: Any, path: str) -> Any:
    """What stands at dotted ``path`` in an event (attributes) or its JSON (keys); list
    indexes as numbers."""
    for part in path.split("."):
        if isinstance(value, list | tuple):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value


def read_json(reader: SourceReader, data: Any, headers: Headers | None = None) -> Any:
    """``data`` sent as a JSON body, as ``reader`` reads it (Any: tests reach into it)."""
    return reader.read(headers or {}, json.dumps(data).encode())


def refused_at(reader: SourceReader, body: bytes, headers: Headers | None = None) -> str:
    """Where the reader says ``body`` is wrong: the field its ``PayloadError`` names."""
    with pytest.raises(PayloadError) as raised:
        reader.read(headers or {}, body)
    return raised.value.field


def reads_or_refuses(reader: SourceReader, body: bytes, headers: Headers | None = None) -> None:
    """The reader reads ``body`` into an event that serializes, or refuses it as a payload."""
    with contextlib.suppress(PayloadError):
        reader.read(headers or {}, body).model_dump_json()


# A recorded life


@dataclass(frozen=True)
class Step:
    """What a step of a recorded life reads as."""

    kind: str
    status: str
    changed: frozenset[str] = frozenset()
    previous_status: str | None = None
    comment: SourceComment | None = None


class Life:
    """A source's recorded life in ``tests/data/intake/<source>``: ``life.json`` lists each step's
    file, the headers it came with and when it happened.

    Args:
        source: The helpdesk.
        delivery_header: The header that names each delivery; None where the source sends none
            and the reader names a delivery by a digest of its body.
    """

    def __init__(self, source: str, delivery_header: str | None) -> None:
        self.source = source
        self.delivery_header = delivery_header
        self.folder = DATA / source
        self.steps: list[dict[str, Any]] = json.loads(
            (self.folder / "life.json").read_text(encoding="utf-8")
        )

    def body(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def payload(self, name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body(name))
        return loaded

    def ids(self) -> list[str]:
        return [step["file"] for step in self.steps]

    def read(self, reader: SourceReader, step: dict[str, Any]) -> SourceEvent:
        """The step's body as ``reader`` reads it, with the headers it came with."""
        return reader.read(lower(step["headers"]), self.body(step["file"]))

    def assert_reads(
        self, reader: SourceReader, step: dict[str, Any], expected: Step
    ) -> SourceEvent:
        """Read the step and check it reads as ``expected``; the event, for more checks."""
        event = self.read(reader, step)
        assert event.source == self.source
        if self.delivery_header is None:
            assert event.delivery_id == body_digest(self.body(step["file"]))
        else:
            assert event.delivery_id == step["headers"][self.delivery_header]
        assert event.kind == expected.kind
        assert event.at == datetime.fromisoformat(step["at"])
        assert event.changed == expected.changed
        assert event.previous_status == expected.previous_status
        assert event.comment == expected.comment
        assert event.ticket is not None
        assert event.ticket.status == expected.status
        return event

    def assert_in_order(self, files: Sequence[str], first: datetime, last: datetime) -> None:
        """The life is ``files``, in that order, one step after another between ``first`` and
        ``last``, each delivery named apart."""
        assert self.ids() == list(files)
        times = [datetime.fromisoformat(step["at"]) for step in self.steps]
        assert times == sorted(set(times))
        assert first <= times[0]
        assert times[-1] <= last
        if self.delivery_header is not None:
            ids = [step["headers"][self.delivery_header] for step in self.steps]
            assert len(set(ids)) == len(ids)


# Bodies


NOT_A_JSON_OBJECT = [
    pytest.param(b"", id="empty"),
    pytest.param(b"not json", id="text"),
    pytest.param(b"\xff\xfe{}", id="not UTF-8"),
    pytest.param(b"\xc3\x28", id="a broken UTF-8 sequence"),
    pytest.param(b"\x80", id="a lone continuation byte"),
    pytest.param(b"[]", id="array"),
    pytest.param(b"[1, 2, 3]", id="array of numbers"),
    pytest.param(b'[{"event": "ticket.created"}]', id="array of an object"),
    pytest.param(b'"ticket"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"1" * 5000, id="huge number"),
    pytest.param(b"9" * 4301, id="one digit past the parser's limit"),
    pytest.param(b"-" + b"7" * 4400, id="huge negative number"),
    pytest.param(b'{"ticket": {"id": ' + b"9" * 5000 + b"}}", id="huge number inside"),
    pytest.param(b"[" * 100_000, id="deep unclosed"),
    pytest.param(b"[" * 200_000, id="deeper unclosed"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep"),
    pytest.param(b'{"a":' * 50_000, id="deep objects"),
]
"""Bodies no source sends: every reader refuses each, naming ``body``."""

# Each reader's test class runs the same property: Hypothesis sees one test called by several
# classes. A saved example replays for every reader, which is only more examples for the others.
_PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.differing_executors])

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def json_of(
    keys: Sequence[str], values: Sequence[Any]
) -> tuple[SearchStrategy[str], SearchStrategy[Any]]:
    """Strategies for the keys and the values of JSON in a source's vocabulary: its ``keys`` and
    telling ``values`` among random ones."""
    key = st.sampled_from(keys) | st.text(max_size=6)
    scalar = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=20)
        | st.sampled_from(values)
    )
    value = st.recursive(
        scalar,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(key, children, max_size=6)
        ),
        max_leaves=30,
    )
    return key, value


class BodyContract:
    """Strings are data (cut, kept, cleaned), and any body reads into an event that serializes
    or is refused as a payload.

    Subclassed by :class:`TemplateBodyContract` and :class:`PrefixedHexContract`, which a test
    module subclasses as ``TestReaderContract``, setting :attr:`reader`, :attr:`samples` and
    :attr:`texts`; the other attributes have defaults.
    """

    reader: SourceReader
    samples: ClassVar[Sequence[bytes]]
    """Recorded bodies, each of which gets one value replaced."""
    paths: ClassVar[Sequence[str] | None] = None
    """Where a value is replaced; None: anywhere in the sample."""
    keys: ClassVar[SearchStrategy[str] | None] = None
    """Keys of random objects; None: the samples' own, among random ones."""
    values: ClassVar[SearchStrategy[Any]] = ANY_JSON
    headers: ClassVar[dict[str, str]] = {}
    """The headers sent with each body (GitHub's name the event)."""
    header_choices: ClassVar[Sequence[dict[str, str]] | None] = None
    """Headers to draw from for the random bodies; None: :attr:`headers`."""
    texts: ClassVar[dict[str, str]]
    """Where strings stand in ``samples[0]``, and where each lands in the event."""

    def test_a_huge_string_is_cut_not_refused(self) -> None:
        for path, where in self.texts.items():
            event = self._read_text(path, "\u00e9" * 100_000)
            assert found(event, where) == "\u00e9" * MAX_TEXT, path

    def test_control_characters_are_kept_as_data(self) -> None:
        value = "tab\there\r\nnul\x00 esc\x1b[31m line\u2028bidi\u202e del\x7f."
        for path, where in self.texts.items():
            event = self._read_text(path, value)
            assert found(event, where) == value, path
            assert found(json.loads(event.model_dump_json()), where) == value, path

    def test_a_lone_surrogate_never_reaches_the_event(self) -> None:
        for path, where in self.texts.items():
            event = self._read_text(path, "\ud83d Card payments")
            assert found(event, where) == "\ufffd Card payments", path
            event.model_dump_json()

    @pytest.mark.parametrize("body", NOT_A_JSON_OBJECT)
    def test_a_body_that_is_no_json_object_is_refused(self, body: bytes) -> None:
        assert refused_at(self.reader, body, self.headers) == "body"

    @_PROPERTY
    @given(body=st.binary(max_size=2000), data=st.data())
    def test_any_bytes_read_or_are_refused(self, body: bytes, data: st.DataObject) -> None:
        reads_or_refuses(self.reader, body, self._headers(data))

    @_PROPERTY
    @given(data=st.data())
    def test_any_json_object_reads_or_is_refused(self, data: st.DataObject) -> None:
        keys = self.keys
        if keys is None:
            samples = [json.loads(body) for body in self.samples]
            known = {path.rpartition(".")[2] for sample in samples for path in paths(sample)}
            keys = st.sampled_from(sorted(known)) | st.text(max_size=8)
        value = data.draw(st.dictionaries(keys, self.values, max_size=8))
        reads_or_refuses(self.reader, json.dumps(value).encode(), self._headers(data))

    @settings(_PROPERTY, max_examples=300)
    @given(data=st.data())
    def test_a_sample_with_one_value_replaced_reads_or_is_refused(
        self, data: st.DataObject
    ) -> None:
        sample = data.draw(st.sampled_from(self.samples))
        path = data.draw(st.sampled_from(self.paths or paths(json.loads(sample))))
        body = changed(sample, path, data.draw(self.values))
        reads_or_refuses(self.reader, body, self._headers(data))

    def _read_text(self, path: str, value: str) -> SourceEvent:
        return self.reader.read(self.headers, changed(self.samples[0], path, value))

    def _headers(self, data: st.DataObject) -> dict[str, str]:
        if self.header_choices is None:
            return self.headers
        return data.draw(st.sampled_from(self.header_choices))


# Signatures


def _malformed(algorithm: str, digest: str, other: str) -> dict[str, str]:
    return {
        "empty": "",
        "empty digest": f"{algorithm}=",
        "no = and no digest": algorithm,
        "no prefix": digest,
        "another algorithm's signature": other,
        "sha512 prefix": f"sha512={digest}",
        "md5 prefix": f"md5={digest}",
        "non-hex": f"{algorithm}=" + "zz" * (len(digest) // 2),
        "short": f"{algorithm}={digest[: len(digest) // 2]}",
        "long": f"{algorithm}={digest}ff",
        "latin-1": f"{algorithm}=" + "\u00e9" * len(digest),
        "latin-1 last": f"{algorithm}={digest[:-1]}\u00e9",
        "\u20ac last": f"{algorithm}={digest[:-1]}\u20ac",
        "surrogate first": f"{algorithm}=\udcff{digest[1:]}",
        "homoglyph prefix": algorithm.replace("a", "\u0430") + f"={digest}",
        "no-break spaces": f"{algorithm}=\u00a0{digest}\u00a0",
    }


MALFORMED_SIGNATURES = list(_malformed("sha256", "0" * 64, "sha1=" + "0" * 40))
"""The names of the malformed signatures :class:`PrefixedHexContract` tries."""


class SignedReader(SourceReader, Protocol):
    """A reader whose source signs in one header."""

    SIGNATURE_HEADER: str


class PrefixedHexContract(BodyContract):
    """:class:`BodyContract`, and the checks of a source that signs the raw body as
    ``<algorithm>=<hex HMAC-<algorithm>(secret, body)>`` (GitHub, Jira, Zammad).

    A test module subclasses this as ``TestReaderContract``, with :attr:`life`, :attr:`vector`
    and :attr:`unsigned` too.
    """

    reader: SignedReader
    life: ClassVar[Life]
    vector: ClassVar[str]
    """``<algorithm>=<hex>``: the signature of :attr:`body` under :attr:`secret`, from
    signature-vectors.json."""
    unsigned: ClassVar[dict[str, str]]
    """The headers of a delivery that lacks the signature header."""
    # signature-vectors.json signs the same inputs for every source of this kind (GitHub's
    # published example).
    secret: ClassVar[bytes] = b"It's a Secret to Everybody"
    body: ClassVar[bytes] = b"Hello, World!"
    # These sources sign no time: any will do.
    now: ClassVar[datetime] = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def verify(
        self, signature: str, body: bytes | None = None, secret: bytes | None = None
    ) -> None:
        headers = {self.reader.SIGNATURE_HEADER.lower(): signature}
        self.reader.verify(
            headers, self.body if body is None else body, secret or self.secret, self.now
        )

    def test_the_vector_verifies(self) -> None:
        self.verify(self.vector)

    def test_upper_case_hex_and_prefix_verify(self) -> None:
        self.verify(self.vector.upper())

    def test_every_life_file_verifies_when_signed_as_the_source_does(self) -> None:
        source = self.life.source
        for step in self.life.steps:
            body = self.life.body(step["file"])
            headers = lower(signed_headers(source, body))
            self.reader.verify(headers, body, SECRETS[source].encode(), self.now)

    def test_a_wrong_secret_fails(self) -> None:
        with pytest.raises(SignatureError, match="does not match"):
            self.verify(self.vector, secret=b"another secret")

    def test_a_tampered_body_fails(self) -> None:
        with pytest.raises(SignatureError, match="does not match"):
            self.verify(self.vector, body=self.body[:-1] + b"?")

    def test_a_missing_header_fails(self) -> None:
        with pytest.raises(SignatureError, match=f"missing {self.reader.SIGNATURE_HEADER}"):
            self.reader.verify(self.unsigned, self.body, self.secret, self.now)

    @pytest.mark.parametrize("case", MALFORMED_SIGNATURES)
    def test_a_malformed_header_fails(self, case: str) -> None:
        algorithm, _, digest = self.vector.partition("=")
        other = "sha1" if algorithm != "sha1" else "sha256"
        foreign = f"{other}={hmac.new(self.secret, self.body, other).hexdigest()}"
        with pytest.raises(SignatureError):
            self.verify(_malformed(algorithm, digest, foreign)[case])


# Body templates (Zendesk, Freshdesk)


TEMPLATES = Path(template_body.__file__).resolve().parents[1] / "templates"


@dataclass(frozen=True)
class Template:
    """One of our body templates (its file in :data:`TEMPLATES`), and a value for each
    placeholder in it."""

    name: str
    sample: dict[str, str]

    PLACEHOLDER: ClassVar[re.Pattern[str]] = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")

    @property
    def path(self) -> Path:
        return TEMPLATES / self.name

    def placeholders(self) -> set[str]:
        return set(self.PLACEHOLDER.findall(self.path.read_text(encoding="utf-8")))

    def filled(self, event: str) -> bytes:
        """The template with each placeholder rendered from :attr:`sample`, as ``event``."""

        def value(match: re.Match[str]) -> str:
            return json.dumps(self.sample[match[1]])[1:-1]

        body = self.PLACEHOLDER.sub(value, self.path.read_text(encoding="utf-8"))
        return body.replace('"ticket.created"', f'"{event}"').encode()


_UPDATED = {"event": "ticket.updated"}

TEMPLATE_BODY_MALFORMED = [
    pytest.param({"event": DELETE}, "event", id="no event"),
    pytest.param({"event": "ticket.deleted"}, "event", id="deleted event"),
    pytest.param({"event": "ticket.merged"}, "event", id="merged event"),
    pytest.param({"at": DELETE}, "at", id="no time"),
    pytest.param({"at": "yesterday"}, "at", id="a word for a time"),
    pytest.param({"at": "2026-11-26T09:41:37"}, "at", id="no zone"),
    pytest.param({"at": "2026-11-27 10:29:51"}, "at", id="no zone, Ruby's rendering"),
    pytest.param({"at": 1795000000000}, "at", id="epoch milliseconds"),
    pytest.param({"at": "November 27 2026 at 10:29 AM IST"}, "at", id="prose time"),
    pytest.param({"at": "9999-12-31T23:59:59-23:59"}, "at", id="after the calendar in UTC"),
    pytest.param({"at": "0001-01-01 00:00:00 +0100"}, "at", id="before the calendar in UTC"),
    pytest.param({"ticket": DELETE}, "ticket", id="no ticket"),
    pytest.param({"ticket": ["48213"]}, "ticket", id="ticket a list"),
    pytest.param({"ticket": "7315"}, "ticket", id="ticket a string"),
    pytest.param({"ticket.id": DELETE}, "ticket.id", id="no ticket id"),
    pytest.param({"ticket.id": ""}, "ticket.id", id="empty ticket id"),
    pytest.param({"ticket.id": "  "}, "ticket.id", id="blank ticket id"),
    pytest.param({"ticket.id": True}, "ticket.id", id="ticket id a flag"),
    pytest.param({"ticket.id": "{{ticket.id}}"}, "ticket.id", id="unrendered placeholder"),
    pytest.param({"ticket.id": "#7315"}, "ticket.id", id="ticket id with a hash"),
    pytest.param({"ticket.id": -3}, "ticket.id", id="negative ticket id"),
    pytest.param({"ticket.id": 10**40}, "ticket.id", id="ticket id too long"),
    pytest.param({"ticket.id": 7315.0}, "ticket.id", id="ticket id a float"),
    pytest.param({"ticket.status": ["Open"]}, "ticket.status", id="status a list"),
    pytest.param({"ticket.priority": {"name": "Urgent"}}, "ticket.priority", id="priority object"),
    pytest.param({"ticket.tags": ["vip"]}, "ticket.tags", id="tags a list"),
    pytest.param({"ticket.fields": "affected_users=120"}, "ticket.fields", id="fields a string"),
    pytest.param(
        {"ticket.fields.affected_users": {"n": 1}},
        "ticket.fields.affected_users",
        id="field an object",
    ),
    pytest.param({"ticket.fields.cf_x": ["a"]}, "ticket.fields.cf_x", id="field a list"),
    pytest.param({"comment": DELETE}, "comment", id="comment event without a comment"),
    pytest.param({"comment.public": DELETE}, "comment.public", id="no public flag"),
    pytest.param({"comment.public": "yes"}, "comment.public", id="public yes"),
    pytest.param({"comment.public": "public"}, "comment.public", id="public a word"),
    pytest.param({"comment.public": 1}, "comment.public", id="public a number"),
    pytest.param({**_UPDATED, "changed": "status"}, "changed", id="changed a string"),
    pytest.param({**_UPDATED, "changed": {"status": 1}}, "changed", id="changed an object"),
    pytest.param({**_UPDATED, "changed": ["title"]}, "changed[0]", id="changed unknown"),
    pytest.param({**_UPDATED, "changed": [3]}, "changed[0]", id="changed a number"),
]
"""Edits (dotted path: value) that make a delivery of our template wrong, and the field named."""


class TemplateBodyContract(BodyContract):
    """:class:`BodyContract`, and what a reader of our body template checks alike (Zendesk,
    Freshdesk).

    A test module subclasses this as ``TestReaderContract``, with :attr:`template` too and a
    recorded delivery of a comment first in :attr:`samples`.
    """

    template: ClassVar[Template]

    def test_the_template_uses_only_the_placeholders_the_reader_was_tested_with(self) -> None:
        assert self.template.placeholders() == set(self.template.sample)

    @pytest.mark.parametrize(("edits", "where"), TEMPLATE_BODY_MALFORMED)
    def test_a_malformed_body_names_the_field(self, edits: dict[str, Any], where: str) -> None:
        body = self.samples[0]
        for path, value in edits.items():
            body = changed(body, path, value)
        assert refused_at(self.reader, body) == where
