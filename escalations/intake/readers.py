"""Each helpdesk's reader: how it signs a delivery and how its payloads read."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from escalations.intake.events import SourceEvent, SourceName
from escalations.intake.sources import freshdesk, github, jira, zammad, zendesk
from escalations.intake.sources.common import Headers


class SourceReader(Protocol):
    """What a source module offers (see :mod:`escalations.intake.sources`)."""

    def verify(self, headers: Headers, body: bytes, secret: bytes, now: datetime) -> None:
        """Raise :class:`~escalations.intake.events.SignatureError` unless ``body`` is signed
        with ``secret`` (and, where the source sends a time, recently)."""

    def read(self, headers: Headers, body: bytes) -> SourceEvent:
        """The delivery as a :class:`SourceEvent`; raises
        :class:`~escalations.intake.events.PayloadError` naming the field that is wrong."""


READERS: dict[SourceName, SourceReader] = {
    "zendesk": zendesk,
    "jira": jira,
    "freshdesk": freshdesk,
    "zammad": zammad,
    "github": github,
}
