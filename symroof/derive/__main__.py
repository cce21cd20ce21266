"""``python -m symroof.derive``: derive the model's cache again for this version."""

import sys

from .build import main

sys.exit(main())
