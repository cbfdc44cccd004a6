"""The escalation procedure of a policy: what staff read, and what a ticket would go through."""
