"""``python -m symroof``: the command line, as the ``symroof`` script runs it."""

import sys

from .cli import main

sys.exit(main())
