"""Microsoft Teams: an Adaptive Card (schema 1.5) posted to a Teams Workflows webhook.

The webhook's URL carries the signature that lets anyone post to the channel, so it is a
secret: read from the environment or a file, and redacted from every error. Workflows accepts
the message with 202 and posts it asynchronously; 429 and 5xx are retried, anything else
(a revoked or mistyped URL: 401, 403, 404) is recorded as a failed delivery.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from activities.channels import content
from activities.channels.http import failure, post_json
from activities.channels.models import ChannelNotice
from activities.email_content import truncate
from activities.models import DeliveryResult
from policies.channels import TeamsSettings

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
_MAX_TEXT = 2000
# Characters the card's markdown gives meaning to: escaped so a ticket title cannot make a link
# or restyle the card.
_MARKDOWN = str.maketrans({c: f"\\{c}" for c in "\\`*_[]()#<>~|!"})


def plain(text: str) -> str:
    """Ticket text made inert in a card's markdown."""
    return truncate(text, _MAX_TEXT).translate(_MARKDOWN)


def build_card(notice: ChannelNotice, link: str | None) -> dict[str, Any]:
    """The Adaptive Card: headline, what happened, the ticket's facts, clocks, a link."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": plain(content.headline(notice)),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "style": "heading",
        },
        {"type": "TextBlock", "text": plain(content.status_line(notice)), "wrap": True},
        {
            "type": "FactSet",
            "facts": [
                {"title": label, "value": plain(value)} for label, value in content.facts(notice)
            ],
        },
    ]
    clocks = content.clock_lines(notice)
    if clocks:
        body.append({"type": "TextBlock", "text": "SLA clocks", "weight": "Bolder"})
        body += [{"type": "TextBlock", "text": plain(line), "wrap": True} for line in clocks]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open ticket", "url": link}]
    return card


def build_message(notice: ChannelNotice, link: str | None) -> dict[str, Any]:
    """The envelope Teams webhooks take: a ``message`` with the card as its one attachment."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": build_card(notice, link),
            }
        ],
    }


class TeamsSender:
    """Posts cards to Teams Workflows webhooks.

    Args:
        webhook_url_for: The webhook URL for a channel's settings (raises ``SecretUnavailable``).
    """

    def __init__(self, webhook_url_for: Callable[[TeamsSettings], str]) -> None:
        self._webhook_url_for = webhook_url_for

    def deliver(self, notice: ChannelNotice, link: str | None) -> DeliveryResult:
        """Post the notice's card.

        Raises:
            ApplicationError: ``ChannelRejected``, ``ChannelRateLimited``,
                ``ChannelUnavailable``, ``ChannelUnreachable``; never with the URL in it.
        """
        settings = notice.channel.teams
        assert settings is not None, "dispatch sends only teams channels here"
        url = self._webhook_url_for(settings)
        if notice.event not in ("level", "test"):
            # A posted card cannot be edited through a webhook; state changes are for Slack's
            # root message, PagerDuty's alert and webhook receivers.
            return DeliveryResult(
                status="skipped", provider="teams", detail="Teams cards are not updated"
            )
        body = json.dumps(build_message(notice, link), separators=(",", ":")).encode()
        answer = post_json(url, body, {}, provider="Teams", secrets=[url])
        if not 200 <= answer.status < 300:
            raise failure(answer, "Teams", secrets=[url])
        return DeliveryResult(
            status="sent", provider="teams", detail=f"card accepted (HTTP {answer.status})"
        )
