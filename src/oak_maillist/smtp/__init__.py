"""The incoming SMTP/LMTP edge (aiosmtpd): refuse early, store before 250, process later."""
