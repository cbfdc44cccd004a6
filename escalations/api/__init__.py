"""``escalations api``: the ticket contract over HTTP, and the helpdesk webhooks."""
