"""Job modules; importing this package registers every job."""

from oak_maillist.tasks.jobs import delivery, inbound, maintenance, outbound

__all__ = ["delivery", "inbound", "maintenance", "outbound"]
