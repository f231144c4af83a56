"""`python -m offramp` is the `offramp` command."""
import sys

from offramp.cli import main

sys.exit(main())
