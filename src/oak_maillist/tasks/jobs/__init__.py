"""Job modules; importing this package registers every job."""

from oak_maillist.tasks.jobs import ai, delivery, digest, inbound, maintenance, outbound

__all__ = ["ai", "delivery", "digest", "inbound", "maintenance", "outbound"]
