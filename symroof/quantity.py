"""Kept for scripts that import from here: the declarations live in :mod:`symroof.declare`."""

from .declare import REGISTRY, Group, Quantity, Select, check_units, one, shown
from .derive import declared as _declared  # noqa: F401  (declares every quantity, with cached closed forms)

__all__ = ["REGISTRY", "Group", "Quantity", "Select", "check_units", "one", "shown"]
