"""Job modules; importing this package registers every job."""

from oak_maillist.tasks.jobs import maintenance, outbound

__all__ = ["maintenance", "outbound"]
