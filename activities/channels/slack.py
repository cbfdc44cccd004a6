"""Slack: one thread per ticket and channel, through ``slack_sdk``'s ``WebClient``.

The first notice of a ticket on a channel posts the thread's root (``chat.postMessage``); the
workflow keeps the root's channel id and ``ts`` from the result, later levels reply in the
thread (``thread_ts``), and acknowledge, pause, resume and resolve rewrite the root
(``chat.update``) so the channel shows where the ticket stands without opening the thread.

Slack answers most errors with HTTP 200 and ``{"ok": false, "error": ...}``; ``slack_sdk``
raises ``SlackApiError`` for them. Rate limits (429) wait for ``Retry-After``; Slack's own
temporary errors back off; everything else (``channel_not_found``, ``not_in_channel``,
``invalid_auth``, ...) is a rejection no retry fixes.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.channels import content
from activities.channels.http import rejected, retry_after
from activities.channels.models import ChannelNotice
from activities.channels.secrets import redact
from activities.email_content import truncate
from activities.models import DeliveryResult
from policies.channels import SlackSettings

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT_SECONDS = 10
# Slack's temporary errors (its documentation's "retry" advice); every other error is permanent.
_TEMPORARY_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_MAX_HEADER = 150
_MAX_FIELD = 1900
_MAX_TEXT = 3000
_MAX_FIELDS = 10


def escape(text: str) -> str:
    """Slack's three control characters escaped, so ticket text cannot ping ``<!channel>`` or
    forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_blocks(notice: ChannelNotice, link: str | None) -> list[Block]:
    """The Block Kit message: headline, what happened, the ticket's facts, its clocks with
    local due times, and a button to the ticket in the Web UI."""
    rows = dict(content.facts(notice))
    fields = [
        MarkdownTextObject(text=truncate(f"*{label}*\n{escape(rows[label])}", _MAX_FIELD))
        for label in ("Priority", "State", "Team", "Assignee", "Customer", "Due at")
    ]
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(content.headline(notice), _MAX_HEADER))),
        SectionBlock(
            text=MarkdownTextObject(text=truncate(escape(content.status_line(notice)), _MAX_TEXT)),
            fields=fields[:_MAX_FIELDS],
        ),
    ]
    clocks = content.clock_lines(notice)
    if clocks:
        text = "*SLA clocks*\n" + "\n".join(f"• {escape(line)}" for line in clocks)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(text, _MAX_TEXT))))
    policy = f"Policy {rows['Policy']} · opened {rows['Opened at']}"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=escape(policy)[:_MAX_TEXT])]))
    if link:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text="Open ticket"), url=link, action_id="open-ticket"
                    )
                ]
            )
        )
    return blocks


_ACTIONS = {
    ("chat.postMessage", False): "posted",
    ("chat.postMessage", True): "replied in the thread",
    ("chat.update", False): "updated the thread's root",
}


def slack_request(notice: ChannelNotice, link: str | None) -> tuple[str, dict[str, Any]] | None:
    """The Web API method and its JSON parameters for a notice, or None when there is nothing
    to do (a state change on a channel where no root was posted yet).

    A level posts the root, or replies in the thread once there is one; a state change
    rewrites the root; a test is a message of its own.
    """
    settings = notice.channel.slack
    assert settings is not None, "slack notices only"
    params: dict[str, Any] = {
        "text": escape(content.headline(notice)),
        "blocks": [block.to_dict() for block in build_blocks(notice, link)],
    }
    thread = notice.thread
    if notice.event in ("level", "test"):
        params |= {"channel": settings.channel, "unfurl_links": False, "unfurl_media": False}
        if thread is not None and notice.event == "level":
            params["thread_ts"] = thread.ts
        return "chat.postMessage", params
    if thread is None:
        return None
    return "chat.update", params | {"channel": thread.conversation, "ts": thread.ts}


class SlackSender:
    """Posts notices to Slack channels; one ``WebClient`` per bot token, made on first use.

    Args:
        token_for: The bot token for a channel's settings (raises ``SecretUnavailable``).
        api_url: Slack's Web API base; tests point it at a loopback fake.
        timeout: Seconds to wait for Slack on one request.
    """

    def __init__(
        self,
        token_for: Callable[[SlackSettings], str],
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: int = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._token_for = token_for
        self._api_url = api_url if api_url.endswith("/") else api_url + "/"
        self._timeout = timeout

    def _client(self, token: str) -> WebClient:
        # No retry handlers: Temporal retries the activity, with the backoff and the give-up
        # time the workflow declares, instead of a thread sleeping inside one attempt. A
        # client per call: WebClient is cheap and keeps no connection open between calls.
        return WebClient(
            token=token, base_url=self._api_url, timeout=self._timeout, retry_handlers=[]
        )

    def deliver(self, notice: ChannelNotice, link: str | None) -> DeliveryResult:
        """Post the root, reply in the thread, or update the root, as the notice calls for.

        Raises:
            ApplicationError: ``ChannelRejected`` for Slack's permanent errors,
                ``ChannelRateLimited`` (with ``Retry-After``), ``ChannelUnavailable``,
                ``ChannelUnreachable``.
        """
        settings = notice.channel.slack
        assert settings is not None, "dispatch sends only slack channels here"
        call = slack_request(notice, link)
        if call is None:
            return DeliveryResult(
                status="skipped",
                provider="slack",
                detail="no thread on this channel yet: nothing to update",
            )
        method, params = call
        token = self._token_for(settings)
        try:
            answer = self._client(token).api_call(method, json=params)
        except SlackApiError as err:
            raise _api_failure(err, token) from None
        except (SlackClientError, OSError, http.client.HTTPException) as err:
            raise ApplicationError(
                redact(f"Slack unreachable: {type(err).__name__}: {err}", [token]),
                type=errors.CHANNEL_UNREACHABLE,
            ) from None
        data: dict[str, Any] = answer.data if isinstance(answer.data, dict) else {}
        return DeliveryResult(
            status="sent",
            provider="slack",
            message_id=str(data.get("ts") or params.get("ts") or "") or None,
            conversation=str(data.get("channel") or "") or None,
            detail=f"{_ACTIONS[method, 'thread_ts' in params]} in {settings.channel}",
        )


def _api_failure(err: SlackApiError, token: str) -> ApplicationError:
    response = err.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = response.data if isinstance(response.data, dict) else {}
    # Slack's error is a code, but whatever a proxy puts there must not carry the token out.
    code = redact(str(data.get("error") or f"HTTP {status}"), [token])[:100]
    if status == 429 or code == "ratelimited":
        headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
        delay = retry_after(headers)
        return ApplicationError(
            f"Slack rate limit reached ({code}); retrying in {int(delay.total_seconds())}s",
            status,
            type=errors.CHANNEL_RATE_LIMITED,
            next_retry_delay=delay,
        )
    if status >= 500 or code in _TEMPORARY_ERRORS:
        return ApplicationError(
            f"Slack unavailable: {code} (HTTP {status})", status, type=errors.CHANNEL_UNAVAILABLE
        )
    return rejected(f"Slack rejected the notice: {code}", status)
