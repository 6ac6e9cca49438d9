"""Oak Maillist: a self-hosted mailing list service."""

__version__ = "0.1.0"
