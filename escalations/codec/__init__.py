"""The codec server: decrypts payloads for the Temporal Web UI, behind token auth."""
