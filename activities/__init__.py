"""Everything the workflow needs from outside: policy files, email delivery.

Activities are classes that own their clients; ``worker.py`` builds them from configuration.
"""
