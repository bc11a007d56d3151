"""``python -m socle.report RUN.json --out DIR --lang fr|en``."""

import sys

from socle.report import main

sys.exit(main())
