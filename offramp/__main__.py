"""`python -m offramp` is the `offramp` command."""
import sys

try:
    from offramp.cli import command
except KeyboardInterrupt:   # Ctrl-C while loading: the command's status for it, no traceback
    sys.exit(130)

command()
