"""The worker: the one long-running process (``python worker.py``, or ``escalations worker``).

Everything it does (settings, connection, the activities' clients, graceful shutdown) lives in
:mod:`escalations.runtime.worker`; this file is the entrypoint a deployment runs.
"""

from escalations.runtime.worker import main

if __name__ == "__main__":
    main()
