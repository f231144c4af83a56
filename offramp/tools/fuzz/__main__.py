"""`python -m offramp.tools.fuzz`: run a differential fuzzing campaign (campaign.main)."""
import sys

from .campaign import main

sys.exit(main())
