"""What a process needs to talk to Temporal: settings (:mod:`.config`), the connection
(:mod:`.connection`), the data converter and payload encryption, telemetry and logs, the
worker's interceptor, the Temporal binaries, and the worker itself (:mod:`.worker`)."""
