"""The HTTP service, CLI, storage, queue, auth and web console."""
