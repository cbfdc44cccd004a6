"""Helpdesk webhooks in: each source's signature, its payloads read into :class:`SourceEvent`,
and the mapping file that turns those events into the ticket contract's updates."""
