"""Job modules; importing this package registers every job."""

from oak_maillist.tasks.jobs import delivery, digest, inbound, maintenance, outbound

__all__ = ["delivery", "digest", "inbound", "maintenance", "outbound"]
