"""``python -m symroof.cli``."""

import sys

from . import main

sys.exit(main())
