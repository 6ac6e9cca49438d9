"""Pure mail helpers: bytes or EmailMessage in, values out; no database, no I/O."""
