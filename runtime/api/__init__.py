"""The HTTP API: routes, their dependencies, request schemas and error responses."""
