"""Job modules; importing this package registers every job."""

from oak_maillist.tasks.jobs import ai, delivery, digest, inbound, maintenance, outbound, search

__all__ = ["ai", "delivery", "digest", "inbound", "maintenance", "outbound", "search"]
