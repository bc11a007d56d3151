"""`python -m socle` runs the command line."""

import sys

from socle.cli import main

sys.exit(main())
