"""``escalations bench``: escalation throughput and lateness against the bare-Temporal floor."""
