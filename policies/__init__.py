"""Escalation policies: the schema engineers author, and the pure SLA clock math.

Nothing in this package reads the clock, the environment, files or the network, except
`policies.loader.read_policy_file`, which activities and the CLI call (never a workflow).
"""
