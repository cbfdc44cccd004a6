"""Notices through Slack, PagerDuty, Microsoft Teams and signed webhooks, beside email.

One module per provider builds that provider's request from a :class:`ChannelNotice` and turns
its answers into ``ApplicationError`` types the workflow's retry policy understands;
:mod:`activities.channels.dispatch` is the ``send_channel_notice`` activity that picks one.
"""
