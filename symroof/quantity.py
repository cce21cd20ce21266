"""Kept for scripts that import from here: the declarations live in :mod:`symroof.declare`."""

from . import model as _model  # noqa: F401  (declares every quantity)
from .declare import REGISTRY, Group, Quantity, Select, check_units, one, shown

__all__ = ["REGISTRY", "Group", "Quantity", "Select", "check_units", "one", "shown"]
