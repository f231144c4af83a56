"""`python -m offramp` is the `offramp` command."""
from offramp.cli import command

command()
