"""symroof: symbolic roofline models of LLM serving.

Every quantity is declared once (name, symbol, unit, description, source);
every formula is a unit-checked sympy expression. See ``symroof.model`` for the
formulas, grouped as the seed chapter's sections are.
"""

__version__ = "0.1.0"

from . import model as _model  # noqa: F401, E402  (declares every quantity)
from .errors import CatalogError, InputError, SymroofError, UnitError
from .evaluate import Evaluation, evaluate
from .quantity import REGISTRY, Quantity
from .units import Q_, ureg

__all__ = [
    "CatalogError", "Evaluation", "InputError", "Q_", "Quantity", "REGISTRY", "SymroofError", "UnitError",
    "evaluate", "formula", "quantities", "symbol", "ureg",
]


def formula(name: str) -> Quantity:
    """The declared quantity ``name``; shows as LaTeX in Jupyter."""
    return REGISTRY.get(name)


def symbol(name: str):
    """The sympy symbol of quantity ``name``, for building expressions of your own."""
    return REGISTRY.get(name).symbol


def quantities() -> list[Quantity]:
    """Every declared quantity, in declaration order."""
    return list(REGISTRY)
