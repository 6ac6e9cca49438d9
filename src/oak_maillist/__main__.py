"""`python -m oak_maillist` runs the command line."""

import sys

from oak_maillist.cli import main

sys.exit(main())
