"""The declaration home: quantities, groups, unit checking, solved thresholds.

Modules, each importing only those above it: ``functions`` (``Select``),
``quantity`` (the registry, and a formula given pins and mode), ``dimensions``
(the unit checker), ``rewrite`` (opening formulas up), ``solving`` (closed-form
roots per regime), ``group`` (the declaration methods).
"""

from .dimensions import check_units, dimension_of, format_dimension
from .functions import Select
from .group import CONSTANTS, Group, one
from .quantity import BOUND, ESTIMATE, MODES, REGISTRY, Kind, Origin, Quantity, formula, shown
from .solving import NoRoot, Regime, regimes

__all__ = ["BOUND", "CONSTANTS", "ESTIMATE", "MODES", "REGISTRY", "Group", "Kind", "NoRoot", "Origin", "Quantity",
           "Regime", "Select", "check_units", "dimension_of", "format_dimension", "formula", "one", "regimes",
           "shown"]
