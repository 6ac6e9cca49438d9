"""Outbound mail: composing, signing and handing messages to the SMTP relay."""
