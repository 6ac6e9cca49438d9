"""Authentication: passwords, tokens, TOTP, passkeys, sessions."""
