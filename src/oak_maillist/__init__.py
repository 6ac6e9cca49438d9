"""Oak Maillist: a self-hosted mailing list service."""

import email_validator

__version__ = "0.1.0"

# A self-hosted list server may serve an intranet: addresses in special-use domains (.local,
# .test, .internal...) are valid for us. Deliverability is never checked, only syntax.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()
