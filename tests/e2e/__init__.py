"""End-to-end scenarios against the real Temporal dev server and ``worker.py`` subprocesses."""
