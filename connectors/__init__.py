"""Outbound edges: the HubSpot API (write-back, callbacks, signatures) and snippet HTTP egress.

Nothing here reads settings or the database; every function takes plain arguments.
"""

__all__ = ["egress", "hubspot"]
