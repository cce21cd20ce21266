"""``python -m symroof.measure OUT_DIR``: measure this GPU for symroof calibrate."""

import sys

from . import main

sys.exit(main())
